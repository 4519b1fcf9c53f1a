// VcpuState: everything of a vCPU that a guest can change, captured at the snapshot and
// restored on every reset (general, special and debug registers, x87/SSE/AVX state,
// XCR0, pending events, the MSRs (see vcpu_msrs_x86_64.h) and the TSC offset).
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
// MSRs, vmm/msr_write_filter_x86_64.h) those changed without WRMSR.
enum class MsrRestore { kAll, kChangedWithoutWrmsr };

// `now`, when known, is the vCPU's special registers and events now: those equal to the
// state's are not set again (KVM_SET_SREGS also resets the MMU).
Status restore_vcpu_state(Vcpu& vcpu, const VcpuState& state, MsrRestore msrs = MsrRestore::kAll,
                          const SyncedState* now = nullptr);

// Equal in every field KVM_SET_SREGS takes (padding aside).
bool same_special_registers(const kvm_sregs& a, const kvm_sregs& b);

}  // namespace cryptine
