// A reset leaves KVM's completion of the exit's port write to the next call's KVM_RUN,
// except where the guest exited through an OUT at the address where the snapshot resumes:
// there KVM would skip the resume's first instruction (tests/guests/out-at-resume.asm).
#include <gtest/gtest.h>

#include <cstdint>

#include "abi/guest_abi.h"
#include "tests/kvm/snapshot_fixture.h"
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

TEST(OutAtResume, TheNextRequestStartsAtTheSnapshotsFirstInstruction) {
  auto s = testing_support::snapshot_of("out-at-resume.elf");
  ASSERT_NE(s.snapshot, nullptr);
  Virtine& v = *s.booted;
  const uint64_t resume_rip = s.snapshot->vcpu().regs.rip;

  EXPECT_EQ(request(v, 0), 1) << "an honest request";
  ASSERT_TRUE(v.reset().ok());

  EXPECT_EQ(request(v, 1), 1);
  // The test must be able to fail: the exit's OUT really lies where resets resume.
  auto rip = v.vcpu().regs();
  ASSERT_TRUE(rip.ok());
  EXPECT_EQ(rip->rip, resume_rip);
  ASSERT_TRUE(v.reset().ok());

  EXPECT_EQ(request(v, 0), 1) << "the request after it started past the resume's first instruction";
  ASSERT_TRUE(v.reset().ok());
  EXPECT_EQ(request(v, 0), 1);
}

}  // namespace
}  // namespace cryptine
