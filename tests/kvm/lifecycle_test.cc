// Creating and destroying many virtines leaks no file descriptor and no mapping; a reset
// that fails part-way leaves a virtine that is never used again.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "tests/kvm/snapshot_fixture.h"
#include "vmm/counters.h"

namespace cryptine {
namespace {

using testing_support::snapshot_of;

size_t open_fds() {
  size_t n = 0;
  DIR* dir = opendir("/proc/self/fd");
  while (dirent* e = readdir(dir))
    if (e->d_name[0] != '.') ++n;
  closedir(dir);
  return n;
}

size_t mappings() {
  std::ifstream maps("/proc/self/maps");
  size_t n = 0;
  for (std::string line; std::getline(maps, line);) ++n;
  return n;
}

TEST(Lifecycle, ThousandVirtinesLeaveNoFdOrMappingBehind) {
  auto s = snapshot_of("null-call.elf");
  ASSERT_NE(s.snapshot, nullptr);
  {  // warm up lazily created state (the thread's deadline timer, allocator arenas)
    auto v = Virtine::from_snapshot(*s.kvm, s.snapshot, VirtineConfig{});
    ASSERT_TRUE(v.ok());
    ASSERT_TRUE(v->run().ok());
  }
  const size_t fds = open_fds();
  const size_t maps = mappings();
  const auto before = vmm_counters().read();
  constexpr int kVirtines = 1000;
  for (int i = 0; i < kVirtines; ++i) {
    auto v = Virtine::from_snapshot(*s.kvm, s.snapshot, VirtineConfig{});
    ASSERT_TRUE(v.ok()) << "virtine " << i << ": " << v.error().message();
    auto call = v->run();
    ASSERT_TRUE(call.ok()) << "virtine " << i << ": " << call.error().message();
  }
  const auto after = vmm_counters().read();
  EXPECT_EQ(after.creations - before.creations, uint64_t{kVirtines});
  EXPECT_EQ(after.mappings - before.mappings, uint64_t{2 * kVirtines});  // guest memory, run area
  EXPECT_EQ(after.mappings - after.unmappings, before.mappings - before.unmappings) << "live mappings changed";
  EXPECT_EQ(open_fds(), fds);
  // The process's own view: a leak would add two lines per virtine; the allocator may
  // map a few regions of its own (ASan's does), so allow a handful.
  EXPECT_LE(mappings(), maps + 8);
}

TEST(Lifecycle, AResetThatFailsPartWayPoisonsTheVirtine) {
  auto s = snapshot_of("dirty.elf", testing_support::msr_writes_allowed());
  ASSERT_NE(s.snapshot, nullptr);
  auto v = Virtine::from_snapshot(*s.kvm, s.snapshot, testing_support::msr_writes_allowed());
  ASSERT_TRUE(v.ok()) << v.error().message();
  ASSERT_TRUE(v->run().ok());
  // The vCPU's fd now names /dev/null: the reset's first vCPU ioctl fails, which would
  // leave the last run's registers (and, later in the reset, its memory) behind.
  const int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  ASSERT_GE(null_fd, 0);
  ASSERT_EQ(dup2(null_fd, v->vcpu().fd()), v->vcpu().fd());
  close(null_fd);
  const auto before = vmm_counters().read();
  auto reset = v->reset();
  ASSERT_FALSE(reset.ok());
  EXPECT_NE(reset.error().message().find("reset: KVM_"), std::string::npos) << reset.error().message();
  EXPECT_EQ(v->state(), Virtine::State::kPoisoned);
  EXPECT_EQ(vmm_counters().read().failures - before.failures, 1u);
  auto run = v->run();
  ASSERT_FALSE(run.ok());  // never run again
}

}  // namespace
}  // namespace cryptine
