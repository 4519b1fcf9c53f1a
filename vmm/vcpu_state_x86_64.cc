#include "vmm/vcpu_state_x86_64.h"

#include <algorithm>
#include <cstring>
#include <iterator>

#include "abi/hypercall_abi.h"
#include "vmm/kvm_uapi_x86_64.h"
#include "vmm/long_mode_x86_64.h"
#include "vmm/msr_write_filter_x86_64.h"

namespace cryptine {

Result<VcpuState> capture_vcpu_state(Vcpu& vcpu, std::span<const uint32_t> msr_indices) {
  const int fd = vcpu.fd();
  VcpuState s;
  s.regs = CRYPTINE_TRY(vcpu.regs());
  CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(fd, KVM_GET_SREGS, &s.sregs));
  CRYPTINE_TRY(kvm_ioctl(fd, kKvmGetXsave, "KVM_GET_XSAVE", &s.xsave));
  CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(fd, KVM_GET_XCRS, &s.xcrs));
  CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(fd, KVM_GET_DEBUGREGS, &s.debugregs));
  CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(fd, KVM_GET_VCPU_EVENTS, &s.events));

  s.msrs = CRYPTINE_TRY(capture_msrs(fd, msr_indices));
  return s;
}

namespace {

bool same_segment(const kvm_segment& a, const kvm_segment& b) {
  return a.base == b.base && a.limit == b.limit && a.selector == b.selector && a.type == b.type &&
         a.present == b.present && a.dpl == b.dpl && a.db == b.db && a.s == b.s && a.l == b.l && a.g == b.g &&
         a.avl == b.avl && a.unusable == b.unusable;
}

bool same_dtable(const kvm_dtable& a, const kvm_dtable& b) {
  return a.base == b.base && a.limit == b.limit;
}

// What KVM compares (kvm_get_linear_rip).
uint64_t linear_rip(const kvm_regs& regs, const kvm_sregs& sregs) {
  constexpr uint64_t kEferLma = 1u << 10;
  if ((sregs.efer & kEferLma) != 0 && sregs.cs.l) return regs.rip;  // 64-bit mode: no CS base
  return static_cast<uint32_t>(sregs.cs.base + regs.rip);
}

}  // namespace

bool out_completion_could_skip_resume(const kvm_regs& exit_regs, const kvm_sregs& exit_sregs, const VcpuState& state) {
  return linear_rip(exit_regs, exit_sregs) == linear_rip(state.regs, state.sregs) ||
         exit_regs.rip == state.regs.rip;  // and the plain RIPs, to err on the side of completing
}

bool same_special_registers(const kvm_sregs& a, const kvm_sregs& b) {
  const kvm_segment kvm_sregs::*segments[] = {&kvm_sregs::cs, &kvm_sregs::ds, &kvm_sregs::es, &kvm_sregs::fs,
                                              &kvm_sregs::gs, &kvm_sregs::ss, &kvm_sregs::tr, &kvm_sregs::ldt};
  for (auto segment : segments)
    if (!same_segment(a.*segment, b.*segment)) return false;
  return same_dtable(a.gdt, b.gdt) && same_dtable(a.idt, b.idt) && a.cr0 == b.cr0 && a.cr2 == b.cr2 && a.cr3 == b.cr3 &&
         a.cr4 == b.cr4 && a.cr8 == b.cr8 && a.efer == b.efer && a.apic_base == b.apic_base &&
         std::equal(std::begin(a.interrupt_bitmap), std::end(a.interrupt_bitmap), std::begin(b.interrupt_bitmap));
}

uint64_t xcr0_of(const kvm_xcrs& xcrs) {
  const uint32_t n = std::min<uint32_t>(xcrs.nr_xcrs, KVM_MAX_XCRS);
  for (uint32_t i = 0; i < n; ++i)
    if (xcrs.xcrs[i].xcr == 0) return xcrs.xcrs[i].value;
  return 0;
}

bool guest_loads_xstate(uint32_t flags, uint64_t snapshot_xcr0, uint64_t guest_xcr0_bits) {
  return (flags & CRYPTINE_SNAPSHOT_LOADS_XSTATE) != 0 && snapshot_xcr0 == guest_xcr0_bits;
}

bool guest_loads_kernel_gs_base(uint32_t flags, uint64_t snapshot_cr4) {
  return (flags & CRYPTINE_SNAPSHOT_LOADS_KERNEL_GS_BASE) != 0 && (snapshot_cr4 & kCr4Fsgsbase) != 0;
}

Status restore_vcpu_state(Vcpu& vcpu, const VcpuState& state, MsrRestore msrs, XstateRestore xstate,
                          const SyncedState* now) {
  const int fd = vcpu.fd();
  // The ioctls take non-const pointers: copies of the fixed-size parts.
  kvm_sregs sregs = state.sregs;
  kvm_debugregs debugregs = state.debugregs;
  kvm_vcpu_events events = state.events;
  // Special registers first: XCR0 and XSAVE are validated against CR4.OSXSAVE.
  if (now == nullptr || !same_special_registers(now->sregs, state.sregs))
    CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(fd, KVM_SET_SREGS, &sregs));
  if (xstate == XstateRestore::kHere) {
    kvm_xcrs xcrs = state.xcrs;
    KvmXsave xsave = state.xsave;  // 4 KiB: copied only when set
    CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(fd, KVM_SET_XCRS, &xcrs));
    CRYPTINE_TRY(kvm_ioctl(fd, kKvmSetXsave, "KVM_SET_XSAVE", &xsave));
  }
  // The general registers go with the next KVM_RUN, unless the snapshot holds an
  // exception: setting them drops a pending one, so they must be set before the events.
  if (state.events.exception.injected == 0 && state.events.exception.pending == 0)
    CRYPTINE_TRY_STATUS(vcpu.set_regs_at_next_run(state.regs));
  else
    CRYPTINE_TRY_STATUS(vcpu.set_regs(state.regs));
  CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(fd, KVM_SET_DEBUGREGS, &debugregs));
  // Both sides come zeroed from KVM (and the run area is zeroed before): bytewise equal
  // is equal, and any difference sets them.
  if (now == nullptr || std::memcmp(&now->events, &state.events, sizeof(events)) != 0)
    CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(fd, KVM_SET_VCPU_EVENTS, &events));
  // Last: MSRs whose checks depend on the state above (EFER, CR4, XCR0) see it.
  if (msrs == MsrRestore::kNone) return {};
  if (msrs == MsrRestore::kChangedWithoutWrmsr)
    return restore_some_msrs(fd, state.msrs, msrs_changed_without_wrmsr());  // the TSC offset too is unchanged
  CRYPTINE_TRY_STATUS(restore_msrs(fd, state.msrs));
  return {};
}

}  // namespace cryptine
