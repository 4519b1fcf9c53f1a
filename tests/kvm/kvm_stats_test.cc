// KVM's binary statistics: the vCPU's exit counter is found and read, a statistic KVM does
// not have is said to be unsupported, and with exit counting on, vmm_counters().kvm_exits
// sees the exits KVM handles itself (write faults), which user space never sees.
#include <gtest/gtest.h>

#include <vector>

#include "tests/kvm/snapshot_fixture.h"
#include "vmm/counters.h"
#include "vmm/kvm_vcpu_stats.h"

namespace cryptine {
namespace {

using testing_support::snapshot_of;

TEST(KvmStats, TheVcpuExitCounterIsReadAndGrowsWithARun) {
  auto s = snapshot_of("dirty.elf", testing_support::msr_writes_allowed());
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

// The first run after the snapshot writes pages the snapshot protected (the null-call
// guest: its stack and the mailbox): each first write is a fault KVM handles. From the
// third reset on, those pages are hot (vmm/dirty_log.h): left writable, so a reset and run
// is the DONE alone.
TEST(KvmStats, CountingSeesKvmsOwnExitsAndHotPagesTakeNone) {
  auto s = snapshot_of("null-call.elf");
  ASSERT_TRUE(s.booted);
  Virtine& v = *s.booted;
  set_kvm_exit_counting(true);
  std::vector<uint64_t> user, all;
  for (int round = 0; round < 6; ++round) {
    if (round > 0) {
      ASSERT_TRUE(v.reset().ok());
    }
    const auto before = vmm_counters().read();
    auto call = v.run();
    ASSERT_TRUE(call.ok() && call->kind == HypercallKind::kDone);
    const auto after = vmm_counters().read();
    ASSERT_GE(v.counters().last_reset_pages, round > 0 ? 1u : 0u);  // restored all the same
    user.push_back(after.exits - before.exits);
    all.push_back(after.kvm_exits - before.kvm_exits);
  }
  set_kvm_exit_counting(false);
  for (int round = 0; round < 6; ++round) EXPECT_EQ(user[round], 1u) << "round " << round;
  EXPECT_GT(all[0], 1u) << "the first run's write faults are KVM's own exits";
  for (int round = 3; round < 6; ++round) EXPECT_EQ(all[round], 1u) << "round " << round;
}

}  // namespace
}  // namespace cryptine
