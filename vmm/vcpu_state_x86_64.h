// VcpuState: everything of a vCPU that a guest can change, captured at the snapshot and
// restored on every reset (general, special and debug registers, x87/SSE/AVX state,
// XCR0, pending events, the MSRs (see vcpu_msrs_x86_64.h) and the TSC offset), XCR0 and
// the XSAVE state by the guest itself where it says it loads them (guest_loads_xstate).
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <span>
#include <vector>

#include "vmm/kvm_uapi_x86_64.h"
#include "vmm/result.h"
#include "vmm/vcpu_kvm_x86_64.h"
#include "vmm/vcpu_msrs_x86_64.h"

namespace cryptine {

struct VcpuState {
  kvm_regs regs{};
  kvm_sregs sregs{};
  KvmXsave xsave{};
  kvm_xcrs xcrs{};
  kvm_debugregs debugregs{};
  kvm_vcpu_events events{};
  MsrState msrs;
};

// Captures the state, with the MSRs of msr_candidates(). The vCPU must have no I/O
// pending (see Vcpu::complete_pending_io).
Result<VcpuState> capture_vcpu_state(Vcpu& vcpu, std::span<const uint32_t> msr_indices);

// Which MSRs a restore writes back: all it holds, or (for a vCPU whose guest cannot write
// MSRs, vmm/msr_write_filter_x86_64.h) those changed without WRMSR, or none (such a guest
// that also loads KERNEL_GS_BASE itself, the one MSR SWAPGS changes: GuestLoads).
enum class MsrRestore { kAll, kChangedWithoutWrmsr, kNone };

// Who puts XCR0 and the XSAVE state back: this restore, or the guest's own code where it
// resumes (a snapshot's CRYPTINE_SNAPSHOT_LOADS_XSTATE, see guest_loads_xstate).
enum class XstateRestore { kHere, kByGuest };

// `now`, when known, is the vCPU's special registers and events now: those equal to the
// state's are not set again (KVM_SET_SREGS also resets the MMU).
Status restore_vcpu_state(Vcpu& vcpu, const VcpuState& state, MsrRestore msrs = MsrRestore::kAll,
                          XstateRestore xstate = XstateRestore::kHere, const SyncedState* now = nullptr);

// What a guest loads itself where a reset resumes it, as its SNAPSHOT said and the monitor
// accepted (guest-libc/snapshot_state.inc).
struct GuestLoads {
  bool xstate = false;          // XCR0 and the XSAVE state: guest_loads_xstate()
  bool kernel_gs_base = false;  // guest_loads_kernel_gs_base()
};

// Whether resets may leave KERNEL_GS_BASE to the guest: it said it loads it (SNAPSHOT's
// `flags`) and CR4.FSGSBASE, which its WRGSBASE needs, is set at the snapshot (a reset
// puts CR4 back before the guest resumes).
bool guest_loads_kernel_gs_base(uint32_t flags, uint64_t snapshot_cr4);

// Whether resets may leave XCR0 and the XSAVE state to the guest: it said it loads them
// where it resumes (SNAPSHOT's `flags`), and XCR0 at the snapshot enables every component
// it may enable (`guest_xcr0_bits`, its CPUID leaf 0xD): XRSTOR then covers all state a
// request could have left, in any component, and XSETBV can only put back the same XCR0.
bool guest_loads_xstate(uint32_t flags, uint64_t snapshot_xcr0, uint64_t guest_xcr0_bits);

// KVM finishes an exit's port write at the next KVM_RUN, after registers set meanwhile,
// and skips the OUT there only if RIP is still at the OUT's linear address
// (complete_fast_pio_out). Whether that could move a vCPU restored to `state` on from
// where it resumes: the exit's OUT lies where `state` resumes (a guest put one there).
// Otherwise a restore need not let KVM finish the port write first.
bool out_completion_could_skip_resume(const kvm_regs& exit_regs, const kvm_sregs& exit_sregs, const VcpuState& state);

// XCR0 in a KVM_GET_XCRS answer (0 if it holds none).
uint64_t xcr0_of(const kvm_xcrs& xcrs);

// Equal in every field KVM_SET_SREGS takes (padding aside).
bool same_special_registers(const kvm_sregs& a, const kvm_sregs& b);

}  // namespace cryptine
