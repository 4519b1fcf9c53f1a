// KVM's binary statistics: the vCPU's exit counter is found and read, a statistic KVM does
// not have is said to be unsupported, and with exit counting on, vmm_counters().kvm_exits
// sees the exits KVM handles itself: after a reset, the dirty guest's first writes to the
// pages the dirty log protects again fault into KVM, which user space never sees.
#include <gtest/gtest.h>

#include "tests/kvm/snapshot_fixture.h"
#include "vmm/counters.h"
#include "vmm/kvm_vcpu_stats.h"

namespace cryptine {
namespace {

using testing_support::snapshot_of;

TEST(KvmStats, TheVcpuExitCounterIsReadAndGrowsWithARun) {
  auto s = snapshot_of("dirty.elf");
  ASSERT_TRUE(s.booted);
  auto exits = KvmStatCounter::open(s.booted->vcpu().fd(), "exits");
  ASSERT_TRUE(exits.ok()) << exits.error().message();
  auto before = exits->read();
  ASSERT_TRUE(before.ok());
  EXPECT_GE(*before, 1u);  // the boot made SNAPSHOT at least
  auto call = s.booted->run();
  ASSERT_TRUE(call.ok() && call->kind == HypercallKind::kDone);
  auto after = exits->read();
  ASSERT_TRUE(after.ok());
  EXPECT_GE(*after, *before + 1);

  auto none = KvmStatCounter::open(s.booted->vcpu().fd(), "no_such_statistic");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code(), ErrorCode::kUnsupported);
}

TEST(KvmStats, CountingSeesTheExitsKvmHandlesItself) {
  auto s = snapshot_of("dirty.elf");
  ASSERT_TRUE(s.booted);
  Virtine& v = *s.booted;
  set_kvm_exit_counting(true);
  uint64_t user = 0, all = 0;
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(v.reset().ok());
    const auto before = vmm_counters().read();
    auto call = v.run();
    ASSERT_TRUE(call.ok() && call->kind == HypercallKind::kDone);
    const auto after = vmm_counters().read();
    user += after.exits - before.exits;
    all += after.kvm_exits - before.kvm_exits;
  }
  set_kvm_exit_counting(false);
  EXPECT_EQ(user, 3u);  // one DONE per round
  EXPECT_GT(all, user) << "the write faults after each reset are KVM's own exits";
}

}  // namespace
}  // namespace cryptine
