#include <gtest/gtest.h>

#include "abi/hypercall_abi.h"
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

}  // namespace
}  // namespace cryptine
