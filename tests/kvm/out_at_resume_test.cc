// A reset after a run that copied the vCPU's state out leaves KVM's completion of the
// exit's port write to the next call's KVM_RUN, except where the guest exited through an
// OUT at the address where the snapshot resumes: there KVM would skip the resume's first
// instruction (tests/guests/out-at-resume.asm). After a run that did not, the reset lets
// KVM complete it first, as ever.
#include <gtest/gtest.h>

#include <cstdint>

#include "abi/guest_abi.h"
#include "tests/kvm/snapshot_fixture.h"
#include "vmm/snapshot.h"
#include "vmm/virtine.h"

namespace cryptine {
namespace {

// One request; returns the guest's report: 1 if the first instruction where it resumed ran.
uint8_t request(Virtine& v, uint64_t exit_at_resume) {
  EXPECT_TRUE(v.memory()
                  .write(GuestAddr{CRYPTINE_MAILBOX_ADDR + 8},
                         {reinterpret_cast<const uint8_t*>(&exit_at_resume), sizeof(exit_at_resume)})
                  .ok());
  auto call = v.run();
  EXPECT_TRUE(call.ok() && call->kind == HypercallKind::kDone) << (call.ok() ? "not DONE" : call.error().message());
  uint8_t ran = 0xff;
  EXPECT_TRUE(v.memory().read(GuestAddr{CRYPTINE_MAILBOX_ADDR}, {&ran, 1}).ok());
  return ran;
}

// The test must be able to fail: the exit's OUT really lies where resets resume.
void expect_exit_at_resume(Virtine& v, const Snapshot& snapshot) {
  auto regs = v.vcpu().regs();
  ASSERT_TRUE(regs.ok());
  EXPECT_EQ(regs->rip, snapshot.vcpu().regs.rip);
}

TEST(OutAtResume, AfterARunThatCopiedTheStateOut) {
  auto s = testing_support::snapshot_of("out-at-resume.elf");
  ASSERT_NE(s.snapshot, nullptr);
  Virtine& v = *s.booted;

  EXPECT_EQ(request(v, 0), 1) << "an honest request";
  ASSERT_TRUE(v.reset().ok());

  EXPECT_EQ(request(v, 1), 1);
  if (s.kvm->can_sync_state()) {
    EXPECT_NE(v.vcpu().state_at_exit(), nullptr) << "the first run after a reset";
  }
  expect_exit_at_resume(v, *s.snapshot);
  ASSERT_TRUE(v.reset().ok());

  EXPECT_EQ(request(v, 0), 1) << "the request after it started past the resume's first instruction";
  ASSERT_TRUE(v.reset().ok());
  EXPECT_EQ(request(v, 0), 1);
}

TEST(OutAtResume, AfterManyRunsWithoutAReset) {
  auto s = testing_support::snapshot_of("out-at-resume.elf");
  ASSERT_NE(s.snapshot, nullptr);
  Virtine& v = *s.booted;

  for (int i = 0; i < 10; ++i) EXPECT_EQ(request(v, 0), 1) << "honest request " << i;
  EXPECT_EQ(v.vcpu().state_at_exit(), nullptr) << "a long-lived virtine's runs pay for no copy";
  EXPECT_EQ(request(v, 1), 1);
  expect_exit_at_resume(v, *s.snapshot);
  ASSERT_TRUE(v.reset().ok());
  EXPECT_EQ(request(v, 0), 1) << "the request after it started past the resume's first instruction";
}

}  // namespace
}  // namespace cryptine
