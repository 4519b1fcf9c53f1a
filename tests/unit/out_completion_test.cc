#include <gtest/gtest.h>

#include "vmm/vcpu_state_x86_64.h"

namespace cryptine {
namespace {

constexpr uint64_t kEferLongMode = 0x500;  // LME | LMA
constexpr uint64_t kResume = 0x401005;

VcpuState resuming_at(uint64_t rip) {
  VcpuState s;
  s.regs.rip = rip;
  s.sregs.efer = kEferLongMode;
  s.sregs.cs.l = 1;
  return s;
}

// KVM skips a finished OUT only where RIP is still at the OUT's linear address: a reset
// lets it finish the port write first only when the exit's OUT lies where it resumes.
TEST(OutCompletion, CouldSkipOnlyAnOutAtTheResumeAddress) {
  const VcpuState snapshot = resuming_at(kResume);
  kvm_regs exit{};
  kvm_sregs long_mode = snapshot.sregs;

  exit.rip = 0x401020;  // the guest's DONE elsewhere
  EXPECT_FALSE(out_completion_could_skip_resume(exit, long_mode, snapshot));
  exit.rip = kResume;  // a guest that put its OUT where resets resume it
  EXPECT_TRUE(out_completion_could_skip_resume(exit, long_mode, snapshot));

  // Out of 64-bit mode KVM adds CS's base and keeps 32 bits: the same linear address
  // from another RIP.
  kvm_sregs compat = long_mode;
  compat.cs.l = 0;
  compat.cs.base = 0x1000;
  exit.rip = kResume - 0x1000;
  EXPECT_TRUE(out_completion_could_skip_resume(exit, compat, snapshot));
  exit.rip = (uint64_t{1} << 32) + kResume - 0x1000;  // wraps to it
  EXPECT_TRUE(out_completion_could_skip_resume(exit, compat, snapshot));
  exit.rip = kResume - 0x2000;
  EXPECT_FALSE(out_completion_could_skip_resume(exit, compat, snapshot));
}

}  // namespace
}  // namespace cryptine
