// Creating and destroying many virtines leaks no file descriptor and no mapping.
#include <dirent.h>
#include <gtest/gtest.h>

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
  {  // warm up lazily created state (the watchdog thread, allocator arenas)
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
  EXPECT_EQ(vmm_counters().read().creations - before.creations, uint64_t{kVirtines});
  EXPECT_EQ(open_fds(), fds);
  EXPECT_EQ(mappings(), maps);
}

}  // namespace
}  // namespace cryptine
