// Every exit the ABI does not allow, made by a real guest under real KVM, ends only
// that virtine, with the reason reported; the next virtine works.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/kvm/guest_image.h"
#include "tests/kvm/hostile_guest_case.h"
#include "vmm/counters.h"
#include "vmm/kvm_system.h"
#include "vmm/virtine.h"

namespace cryptine {
namespace {

using ::testing::HasSubstr;
using testing_support::ExpectNextVirtineWorks;
using testing_support::hostile_case_name;
using testing_support::read_test_guest;
using Case = testing_support::HostileCase;

class ForbiddenExit : public ::testing::TestWithParam<Case> {};

TEST_P(ForbiddenExit, EndsTheVirtineWithTheReason) {
  auto kvm = KvmSystem::open();
  ASSERT_TRUE(kvm.ok()) << kvm.error().message();
  const auto before = vmm_counters().read();
  auto v = Virtine::boot(*kvm, read_test_guest(GetParam().guest), VirtineConfig{});
  ASSERT_TRUE(v.ok()) << v.error().message();
  auto call = v->run();
  ASSERT_FALSE(call.ok()) << "the guest's forbidden exit was accepted";
  EXPECT_EQ(call.error().code(), ErrorCode::kGuestFault);
  EXPECT_THAT(call.error().message(), HasSubstr(GetParam().reason));
  EXPECT_EQ(v->state(), Virtine::State::kPoisoned);
  EXPECT_EQ(vmm_counters().read().failures - before.failures, 1u);

  ExpectNextVirtineWorks(*kvm);
}

INSTANTIATE_TEST_SUITE_P(Guests, ForbiddenExit,
                         ::testing::Values(Case{"hostile-unknown_port.elf", "unknown port 0x3f8"},
                                           Case{"hostile-port_read.elf", "read from hypercall port DONE"},
                                           Case{"hostile-narrow_out.elf", "with width 1"},
                                           Case{"hostile-mmio.elf", "MMIO write to 0x3fe00000"},
                                           Case{"hostile-null_deref.elf", "triple fault"},
                                           // PML4 cleared and CR3 reloaded: the next fetch faults.
                                           Case{"hostile-page_tables.elf", "triple fault"},
                                           Case{"hostile-log_too_long.elf", "exceeds the log buffer"},
                                           // The escape byte is replaced, so the guest cannot drive the terminal.
                                           Case{"hostile-abort.elf", "guest aborted: booooo?\n"}),
                         hostile_case_name);

// A guest that never makes SNAPSHOT gives nothing to start virtines from: one that spins
// is stopped by the watchdog, one that exits cannot be snapshotted; either way the next
// virtine works.
TEST(NeverSnapshot, SpinningBootIsStopped) {
  auto kvm = KvmSystem::open();
  ASSERT_TRUE(kvm.ok());
  VirtineConfig config;
  config.timeout_ms = 300;
  auto v = Virtine::boot(*kvm, read_test_guest("hostile-spin.elf"), config);
  ASSERT_TRUE(v.ok()) << v.error().message();
  auto call = v->run();
  ASSERT_FALSE(call.ok());
  EXPECT_EQ(call.error().code(), ErrorCode::kTimeout);
  EXPECT_EQ(v->state(), Virtine::State::kPoisoned);
  EXPECT_FALSE(v->take_snapshot(*kvm).ok());
  ExpectNextVirtineWorks(*kvm);
}

TEST(NeverSnapshot, ExitingBootCannotBeSnapshotted) {
  auto kvm = KvmSystem::open();
  ASSERT_TRUE(kvm.ok());
  auto v = Virtine::boot(*kvm, read_test_guest("hostile-exit_at_boot.elf"), VirtineConfig{});
  ASSERT_TRUE(v.ok()) << v.error().message();
  auto call = v->run();
  ASSERT_TRUE(call.ok()) << call.error().message();
  EXPECT_EQ(call->kind, HypercallKind::kExit);
  auto snapshot = v->take_snapshot(*kvm);
  ASSERT_FALSE(snapshot.ok());
  EXPECT_EQ(snapshot.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(snapshot.error().message(), HasSubstr("not ready"));
  ExpectNextVirtineWorks(*kvm);
}

TEST(GuestLog, FloodIsThrottledNotFatal) {
  auto kvm = KvmSystem::open();
  ASSERT_TRUE(kvm.ok());
  std::vector<std::string> lines;
  VirtineConfig config;
  config.max_log_lines = 10;
  config.log_sink = [&](std::string_view text) { lines.emplace_back(text); };
  auto v = Virtine::boot(*kvm, read_test_guest("hostile-log_flood.elf"), config);
  ASSERT_TRUE(v.ok());
  auto call = v->run();
  ASSERT_TRUE(call.ok()) << call.error().message();
  EXPECT_EQ(call->kind, HypercallKind::kExit);
  ASSERT_EQ(lines.size(), 10u);
  EXPECT_EQ(lines[0], "shy!");
  EXPECT_EQ(v->counters().log_lines, 10u);
  EXPECT_EQ(v->counters().log_dropped, 990u);
  EXPECT_EQ(v->counters().exits, 1001u);
}

}  // namespace
}  // namespace cryptine
