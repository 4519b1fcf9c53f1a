// The crypto guest loads XCR0 and its XSAVE state itself where a reset resumes it
// (guest-libc/entry.asm's cryptine_snapshot, CRYPTINE_SNAPSHOT_LOADS_XSTATE), so a reset
// leaves both as the last request left them: whatever a request leaves in the vector
// registers must still be gone before the next request's code runs.
#include <gtest/gtest.h>
#include <sys/ioctl.h>

#include <cstring>

#include "tests/kvm/crypto_guest_fixture.h"
#include "vmm/kvm_uapi_x86_64.h"
#include "vmm/vcpu_state_x86_64.h"

namespace cryptine {
namespace {

using testing_support::CryptoGuest;

class CryptoXstate : public CryptoGuest {
 protected:
  KvmXsave xsave_now() {
    KvmXsave x{};
    EXPECT_EQ(0, ::ioctl(v_->vcpu().fd(), kKvmGetXsave, &x));
    return x;
  }
};

// The standard-format XSAVE image (Intel SDM vol. 1, 13.4): MXCSR at 24, XMM0-15 at 160,
// the upper halves of YMM0-15 (AVX) at 576.
constexpr size_t kMxcsr = 24, kXmm8 = 160 + 8 * 16, kYmmHigh = 576;

TEST_F(CryptoXstate, ResetLeavesTheStateToTheGuestWhichLoadsItBeforeTheNextRequest) {
  ASSERT_TRUE((*snapshot_)->guest_loads().xstate) << "the crypto guest's claim was refused: resets restore it here";
  const KvmXsave& clean = (*snapshot_)->vcpu().xsave;
  RunEmptyRequest();

  // What a request could leave: a pattern in XMM8-15 and every YMM upper half, and MXCSR
  // rounding toward zero.
  KvmXsave planted = xsave_now();
  std::memset(reinterpret_cast<uint8_t*>(planted.region) + kXmm8, 0xa5, 8 * 16);
  std::memset(reinterpret_cast<uint8_t*>(planted.region) + kYmmHigh, 0x5a, 16 * 16);
  const uint32_t odd_mxcsr = 0x7f80;
  std::memcpy(reinterpret_cast<uint8_t*>(planted.region) + kMxcsr, &odd_mxcsr, 4);
  reinterpret_cast<uint64_t*>(planted.region)[512 / 8] |= 0x7;  // XSTATE_BV: x87, SSE, AVX in use
  ASSERT_EQ(0, ::ioctl(v_->vcpu().fd(), kKvmSetXsave, &planted));

  ASSERT_TRUE(v_->reset().ok());
  // The reset did not load it (the test must be able to fail: the pattern is there)...
  const KvmXsave left = xsave_now();
  ASSERT_EQ(0, std::memcmp(reinterpret_cast<const uint8_t*>(left.region) + kXmm8,
                           reinterpret_cast<const uint8_t*>(planted.region) + kXmm8, 8 * 16));
  // ...and the guest did, before its request: XMM8-15, the YMM upper halves and MXCSR are
  // the snapshot's again.
  RunEmptyRequest();
  const KvmXsave after = xsave_now();
  const auto* a = reinterpret_cast<const uint8_t*>(after.region);
  const auto* c = reinterpret_cast<const uint8_t*>(clean.region);
  EXPECT_EQ(0, std::memcmp(a + kXmm8, c + kXmm8, 8 * 16)) << "XMM8-15";
  EXPECT_EQ(0, std::memcmp(a + kYmmHigh, c + kYmmHigh, 16 * 16)) << "YMM upper halves";
  EXPECT_EQ(0, std::memcmp(a + kMxcsr, c + kMxcsr, 4)) << "MXCSR";
}

}  // namespace
}  // namespace cryptine
