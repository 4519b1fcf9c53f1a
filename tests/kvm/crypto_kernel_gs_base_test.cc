// The crypto guest puts KERNEL_GS_BASE back itself where a reset resumes it
// (guest-libc/snapshot_state.inc, CRYPTINE_SNAPSHOT_LOADS_KERNEL_GS_BASE), so a reset
// behind the MSR filter restores no MSR: whatever a request leaves there by SWAPGS must
// still be gone before the next request's code runs, and GS.base stay the snapshot's.
#include <gtest/gtest.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <cstdint>
#include <vector>

#include "tests/kvm/crypto_guest_fixture.h"
#include "vmm/vcpu_msrs_x86_64.h"

namespace cryptine {
namespace {

using testing_support::CryptoGuest;

class CryptoKernelGsBase : public CryptoGuest {
 protected:
  uint64_t kernel_gs_base_now() {
    const std::vector<uint32_t> one{kMsrKernelGsBase};
    auto got = read_msrs(v_->vcpu().fd(), one);
    EXPECT_TRUE(got.ok() && got->size() == 1);
    return got.ok() && got->size() == 1 ? (*got)[0].data : 0;
  }
  // What a request's SWAPGS could leave (the host writes it: the guest's WRMSR faults).
  void plant_kernel_gs_base(uint64_t value) {
    MsrState planted;
    planted.entries.push_back(kvm_msr_entry{kMsrKernelGsBase, 0, value});
    const std::vector<uint32_t> one{kMsrKernelGsBase};
    ASSERT_TRUE(restore_some_msrs(v_->vcpu().fd(), planted, one).ok());
  }
  uint64_t gs_base_now() {
    kvm_sregs sregs{};
    EXPECT_EQ(0, ::ioctl(v_->vcpu().fd(), KVM_GET_SREGS, &sregs));
    return sregs.gs.base;
  }
};

TEST_F(CryptoKernelGsBase, ResetLeavesItToTheGuestWhichLoadsItBeforeTheNextRequest) {
  ASSERT_TRUE((*snapshot_)->guest_loads().kernel_gs_base) << "the crypto guest's claim was refused";
  ASSERT_TRUE(v_->msr_writes_denied()) << "this KVM has no MSR filter: resets restore every MSR";
  const uint64_t clean = kernel_gs_base_now();
  const uint64_t clean_gs_base = (*snapshot_)->vcpu().sregs.gs.base;
  RunEmptyRequest();
  EXPECT_EQ(kernel_gs_base_now(), clean);

  constexpr uint64_t kPlanted = 0x123456789000;
  ASSERT_NE(clean, kPlanted);
  plant_kernel_gs_base(kPlanted);
  ASSERT_TRUE(v_->reset().ok());
  // The reset did not restore it (the test must be able to fail: the planted value is there)...
  ASSERT_EQ(kernel_gs_base_now(), kPlanted);
  // ...and the guest did, before its request, with GS.base as the snapshot's.
  RunEmptyRequest();
  EXPECT_EQ(kernel_gs_base_now(), clean);
  EXPECT_EQ(gs_base_now(), clean_gs_base);
  ASSERT_TRUE(v_->reset().ok());
}

}  // namespace
}  // namespace cryptine
