// Per-thread counters (vmm/counters.h): each thread adds to its own tallies, a read sums
// them all, a thread that exits keeps its counts in the totals and gives its block to
// the next thread, counts made in a thread's last destructors are not lost, and a forked
// child counts from 0.
#include "vmm/counters.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>
#include <vector>

namespace cryptine {
namespace {

Counter g_test_counter;
Counter g_late_counter;

TEST(Counters, ThreadsCountApartAndTheTotalSumsThem) {
  const uint64_t before = g_test_counter.total();
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([] {
      for (int i = 0; i < 10000; ++i) count(g_test_counter);
      count(g_test_counter, 5);
    });
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(g_test_counter.total() - before, 8u * 10005u);
}

TEST(Counters, AnExitedThreadsBlockIsReused) {
  std::thread([] { count(g_test_counter); }).join();  // at least one block given back
  const size_t blocks = counter_blocks();
  const uint64_t before = g_test_counter.total();
  for (int t = 0; t < 50; ++t) std::thread([] { count(g_test_counter, 2); }).join();
  EXPECT_EQ(counter_blocks(), blocks) << "one thread at a time takes a block given back";
  EXPECT_EQ(g_test_counter.total() - before, 100u);
}

struct CountsAtExit {
  ~CountsAtExit() { count(g_late_counter, 3); }
};

TEST(Counters, CountsInAThreadsLastDestructorsAreKept) {
  const uint64_t before = g_late_counter.total();
  std::thread([] {
    static thread_local CountsAtExit late;  // made before the block: destroyed after it is given back
    (void)&late;
    count(g_late_counter);
  }).join();
  EXPECT_EQ(g_late_counter.total() - before, 4u);
}

// As getrusage() in a child of fork(): the child's counts are its own, from 0, and the
// blocks of the parent's other threads (which the child does not have) serve its threads.
TEST(Counters, AChildCountsFromZero) {
  std::thread([] { count(g_test_counter, 4); }).join();
  count(g_test_counter, 7);
  const uint64_t parent = g_test_counter.total();
  ASSERT_GT(parent, 0u);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const bool zero = g_test_counter.total() == 0 && g_late_counter.total() == 0;
    const size_t blocks = counter_blocks();
    std::thread([] { count(g_test_counter, 1); }).join();
    count(g_test_counter, 1);
    _exit(zero && g_test_counter.total() == 2 && counter_blocks() == blocks ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(g_test_counter.total(), parent);
}

}  // namespace
}  // namespace cryptine
