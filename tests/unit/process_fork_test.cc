// fork() and the monitor's mappings: a child inherits none of them, and a Mapping made
// before the fork never unmaps, in the child, whatever the child has mapped there since.
#include "vmm/process_fork.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "vmm/unique_fd.h"

namespace cryptine {
namespace {

constexpr size_t kSize = 16 * 4096;

bool mapped(void* addr) { return ::msync(addr, kSize, MS_ASYNC) == 0; }

TEST(ProcessFork, ChildInheritsNoMappingAndNeverUnmapsTheParents) {
  void* addr = ::mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(addr, MAP_FAILED);
  Mapping mapping(addr, kSize);
  ASSERT_TRUE(keep_from_children(addr, kSize, "test").ok());
  static_cast<volatile uint8_t*>(addr)[0] = 0xa5;  // a "key"
  const uint64_t generation = fork_generation();

  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Exit codes say which check failed (gtest's asserts do not cross the fork).
    if (fork_generation() != generation + 1) _exit(1);
    if (mapped(addr) || errno != ENOMEM) _exit(2);
    void* mine = ::mmap(addr, kSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (mine != addr) _exit(3);
    static_cast<volatile uint8_t*>(mine)[0] = 0x5a;
    mapping.reset();  // the parent's: only forgotten
    if (!mapped(addr) || static_cast<volatile uint8_t*>(mine)[0] != 0x5a) _exit(4);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: generation, 2: inherited, 3: range taken, 4: child's mapping unmapped";
  EXPECT_EQ(fork_generation(), generation);
  EXPECT_EQ(static_cast<volatile uint8_t*>(addr)[0], 0xa5);  // the parent's copy, untouched
  mapping.reset();
  EXPECT_FALSE(mapped(addr));  // the parent does unmap its own
}

}  // namespace
}  // namespace cryptine
