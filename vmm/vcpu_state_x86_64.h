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

Status restore_vcpu_state(Vcpu& vcpu, const VcpuState& state);

}  // namespace cryptine
