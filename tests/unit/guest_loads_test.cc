#include <gtest/gtest.h>

#include "abi/hypercall_abi.h"
#include "vmm/long_mode_x86_64.h"
#include "vmm/vcpu_state_x86_64.h"

namespace cryptine {
namespace {

constexpr uint64_t kX87SseAvx = 0x7, kWithPkru = 0x207;

// A guest's word is taken only when XRSTOR with the snapshot's XCR0 covers every
// component the guest could have enabled since.
TEST(GuestLoadsXstate, OnlyWhenTheGuestSaysSoAndItsXcr0CoversAllItMayEnable) {
  EXPECT_TRUE(guest_loads_xstate(CRYPTINE_SNAPSHOT_LOADS_XSTATE, kWithPkru, kWithPkru));
  EXPECT_FALSE(guest_loads_xstate(0, kWithPkru, kWithPkru)) << "the guest did not say it loads them";
  EXPECT_FALSE(guest_loads_xstate(CRYPTINE_SNAPSHOT_LOADS_XSTATE, kX87SseAvx, kWithPkru))
      << "a request could enable PKRU's component, which the guest's XRSTOR would leave";
  EXPECT_FALSE(guest_loads_xstate(CRYPTINE_SNAPSHOT_LOADS_XSTATE | 0x2, kWithPkru, kWithPkru & ~uint64_t{0x200}))
      << "XCR0 holds a bit the guest may not enable";
}

// KERNEL_GS_BASE is taken only where the guest said it loads it and its WRGSBASE can run.
TEST(GuestLoadsKernelGsBase, OnlyWhenTheGuestSaysSoAndCr4AllowsWrgsbase) {
  constexpr uint64_t kCr4 = 0x620, kCr4WithFsgsbase = kCr4 | kCr4Fsgsbase;
  EXPECT_TRUE(guest_loads_kernel_gs_base(CRYPTINE_SNAPSHOT_LOADS_KERNEL_GS_BASE, kCr4WithFsgsbase));
  EXPECT_TRUE(guest_loads_kernel_gs_base(CRYPTINE_SNAPSHOT_LOADS_KERNEL_GS_BASE | CRYPTINE_SNAPSHOT_LOADS_XSTATE,
                                         kCr4WithFsgsbase));
  EXPECT_FALSE(guest_loads_kernel_gs_base(CRYPTINE_SNAPSHOT_LOADS_XSTATE, kCr4WithFsgsbase))
      << "the guest did not say it loads it";
  EXPECT_FALSE(guest_loads_kernel_gs_base(CRYPTINE_SNAPSHOT_LOADS_KERNEL_GS_BASE, kCr4))
      << "without CR4.FSGSBASE its WRGSBASE would fault";
}

}  // namespace
}  // namespace cryptine
