#include "vmm/vcpu_state_x86_64.h"

#include "vmm/kvm_uapi_x86_64.h"

namespace cryptine {

Result<VcpuState> capture_vcpu_state(Vcpu& vcpu, std::span<const uint32_t> msr_indices) {
  const int fd = vcpu.fd();
  VcpuState s;
  CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(fd, KVM_GET_REGS, &s.regs));
  CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(fd, KVM_GET_SREGS, &s.sregs));
  CRYPTINE_TRY(kvm_ioctl(fd, kKvmGetXsave, "KVM_GET_XSAVE", &s.xsave));
  CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(fd, KVM_GET_XCRS, &s.xcrs));
  CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(fd, KVM_GET_DEBUGREGS, &s.debugregs));
  CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(fd, KVM_GET_VCPU_EVENTS, &s.events));

  s.msrs = CRYPTINE_TRY(capture_msrs(fd, msr_indices));
  return s;
}

Status restore_vcpu_state(Vcpu& vcpu, const VcpuState& state) {
  const int fd = vcpu.fd();
  // The ioctls take non-const pointers: copies of the fixed-size parts.
  kvm_sregs sregs = state.sregs;
  kvm_xcrs xcrs = state.xcrs;
  KvmXsave xsave = state.xsave;
  kvm_regs regs = state.regs;
  kvm_debugregs debugregs = state.debugregs;
  kvm_vcpu_events events = state.events;
  // Special registers first: XCR0 and XSAVE are validated against CR4.OSXSAVE.
  CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(fd, KVM_SET_SREGS, &sregs));
  CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(fd, KVM_SET_XCRS, &xcrs));
  CRYPTINE_TRY(kvm_ioctl(fd, kKvmSetXsave, "KVM_SET_XSAVE", &xsave));
  CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(fd, KVM_SET_REGS, &regs));
  CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(fd, KVM_SET_DEBUGREGS, &debugregs));
  CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(fd, KVM_SET_VCPU_EVENTS, &events));
  // Last: MSRs whose checks depend on the state above (EFER, CR4, XCR0) see it.
  CRYPTINE_TRY_STATUS(restore_msrs(fd, state.msrs));
  return {};
}

}  // namespace cryptine
