// The per-thread entropy buffer: each byte handed out once, also across fork().
#include "vmm/entropy.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <vector>

namespace cryptine {
namespace {

using Block = std::array<uint8_t, 32>;

Block take() {
  Block b{};
  EXPECT_TRUE(fill_entropy(b).ok());
  return b;
}

TEST(Entropy, NoTwoTakesAlike) {
  const Block a = take(), b = take();
  EXPECT_NE(a, b);
  EXPECT_NE(a, Block{});
}

TEST(Entropy, AForkedChildDoesNotHandOutItsParentsNextBytes) {
  (void)take();  // the buffer is full: the next bytes are already in it
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const Block b = take();
    const bool sent = write(fds[1], b.data(), b.size()) == static_cast<ssize_t>(b.size());
    _exit(sent ? 0 : 1);
  }
  close(fds[1]);
  const Block mine = take();
  Block theirs{};
  ASSERT_EQ(read(fds[0], theirs.data(), theirs.size()), static_cast<ssize_t>(theirs.size()));
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_NE(mine, theirs) << "parent and child took the same bytes";
  EXPECT_NE(theirs, Block{});
}

TEST(Entropy, ALargeRequestIsServedToo) {
  std::vector<uint8_t> big(10000, 0);
  ASSERT_TRUE(fill_entropy(big).ok());
  size_t zeros = 0;
  for (uint8_t b : big) zeros += b == 0;
  EXPECT_LT(zeros, 200u);  // about 39 expected
}

}  // namespace
}  // namespace cryptine
