#include "vmm/vcpu_state_x86_64.h"

#include <algorithm>
#include <string>

#include "vmm/kvm_uapi_x86_64.h"

namespace cryptine {
namespace {

// Architectural MSRs a 64-bit guest can write with WRMSR (FS/GS base live in sregs).
constexpr uint32_t kGuestWritableMsrs[] = {
    0x00000048,                                      // SPEC_CTRL
    0x00000174, 0x00000175, 0x00000176,              // SYSENTER_CS/ESP/EIP
    0x000001a0,                                      // MISC_ENABLE
    0x00000200, 0x00000201, 0x00000202, 0x00000203,  // MTRR physbase/mask 0-1
    0x00000204, 0x00000205, 0x00000206, 0x00000207,  // MTRR 2-3
    0x00000208, 0x00000209, 0x0000020a, 0x0000020b,  // MTRR 4-5
    0x0000020c, 0x0000020d, 0x0000020e, 0x0000020f,  // MTRR 6-7
    0x00000250, 0x00000258, 0x00000259,              // fixed-range MTRRs
    0x00000268, 0x00000269, 0x0000026a, 0x0000026b, 0x0000026c, 0x0000026d, 0x0000026e, 0x0000026f,
    0x00000277,                                      // PAT
    0x000002ff,                                      // MTRR_DEF_TYPE
    0x00000da0,                                      // XSS
    0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084,  // STAR, LSTAR, CSTAR, SFMASK
    0xc0000102,                                      // KERNEL_GS_BASE
    0xc0000103,                                      // TSC_AUX
};

}  // namespace

Result<std::vector<uint32_t>> guest_writable_msrs(const KvmSystem& kvm) {
  constexpr uint32_t kMaxIndices = 1024;
  FlexBuffer<KvmMsrListHeader, uint32_t> list(kMaxIndices);
  list.header()->nmsrs = kMaxIndices;
  CRYPTINE_TRY(kvm_ioctl(kvm.fd(), kKvmGetMsrIndexList, "KVM_GET_MSR_INDEX_LIST", list.get()));
  auto indices = list.first(list.header()->nmsrs);
  std::vector<uint32_t> supported(indices.begin(), indices.end());

  std::vector<uint32_t> out;
  for (uint32_t msr : kGuestWritableMsrs)
    if (std::find(supported.begin(), supported.end(), msr) != supported.end()) out.push_back(msr);
  return out;
}

Result<VcpuState> capture_vcpu_state(Vcpu& vcpu, std::span<const uint32_t> msr_indices) {
  const int fd = vcpu.fd();
  VcpuState s;
  CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(fd, KVM_GET_REGS, &s.regs));
  CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(fd, KVM_GET_SREGS, &s.sregs));
  CRYPTINE_TRY(kvm_ioctl(fd, kKvmGetXsave, "KVM_GET_XSAVE", &s.xsave));
  CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(fd, KVM_GET_XCRS, &s.xcrs));
  CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(fd, KVM_GET_DEBUGREGS, &s.debugregs));
  CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(fd, KVM_GET_VCPU_EVENTS, &s.events));

  // KVM_GET_MSRS stops at the first MSR it cannot read, so ask one at a time (only at
  // snapshot time) and keep those it could.
  for (uint32_t index : msr_indices) {
    FlexBuffer<KvmMsrsHeader, kvm_msr_entry> one(1);
    one.header()->nmsrs = 1;
    one.entries()[0].index = index;
    int n = CRYPTINE_TRY(kvm_ioctl(fd, kKvmGetMsrs, "KVM_GET_MSRS", one.get()));
    if (n == 1) s.msrs.push_back(one.entries()[0]);
  }
  return s;
}

Status restore_vcpu_state(Vcpu& vcpu, const VcpuState& state) {
  const int fd = vcpu.fd();
  VcpuState s = state;  // the ioctls take non-const pointers
  // Special registers first: XCR0 and XSAVE are validated against CR4.OSXSAVE.
  CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(fd, KVM_SET_SREGS, &s.sregs));
  CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(fd, KVM_SET_XCRS, &s.xcrs));
  CRYPTINE_TRY(kvm_ioctl(fd, kKvmSetXsave, "KVM_SET_XSAVE", &s.xsave));
  CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(fd, KVM_SET_REGS, &s.regs));
  CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(fd, KVM_SET_DEBUGREGS, &s.debugregs));
  CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(fd, KVM_SET_VCPU_EVENTS, &s.events));
  if (!s.msrs.empty()) {
    FlexBuffer<KvmMsrsHeader, kvm_msr_entry> buf(s.msrs.size());
    buf.header()->nmsrs = static_cast<uint32_t>(s.msrs.size());
    std::copy(s.msrs.begin(), s.msrs.end(), buf.entries());
    int n = CRYPTINE_TRY(kvm_ioctl(fd, kKvmSetMsrs, "KVM_SET_MSRS", buf.get()));
    if (n != static_cast<int>(s.msrs.size()))
      return Error(ErrorCode::kSystem, "KVM_SET_MSRS set " + std::to_string(n) + " of " +
                                           std::to_string(s.msrs.size()) + " MSRs (stopped at MSR " +
                                           std::to_string(s.msrs[static_cast<size_t>(n)].index) + ")");
  }
  return {};
}

}  // namespace cryptine
