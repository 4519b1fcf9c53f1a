// The MSRs a reset restores: every MSR KVM names (KVM_GET_MSR_INDEX_LIST, its feature
// list, and the few it emulates without listing them) less a justified deny-list,
// captured at the snapshot and put back with one KVM_SET_MSRS; plus the TSC offset.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <span>
#include <vector>

#include "vmm/kvm_system.h"
#include "vmm/result.h"

namespace cryptine {

// IA32_KERNEL_GS_BASE: the MSR SWAPGS exchanges with GS.base, without a WRMSR.
inline constexpr uint32_t kMsrKernelGsBase = 0xc0000102;

// An MSR a reset deliberately does not restore by value, and why (see the .cc).
struct DeniedMsr {
  uint32_t index;
  const char* name;
  bool clock;  // its value moves by itself: a read after the reset need not equal the snapshot's
};
std::span<const DeniedMsr> msr_deny_list();
bool msr_denied(uint32_t index);

struct MsrState {
  std::vector<kvm_msr_entry> entries;  // in restore order
  // Named by KVM but refused to userspace for this vCPU: not readable (KVM's
  // paravirtual MSRs once the CPUID is enforced, PMU counters the vCPU does not have,
  // MTRRs or banks KVM does not emulate), or readable but not writable back.
  std::vector<uint32_t> refused;
  // The guest's TSC is the host's plus this (KVM_VCPU_TSC_OFFSET): restoring it undoes
  // a guest's writes to IA32_TSC and TSC_ADJUST while the TSC keeps moving with time.
  uint64_t tsc_offset = 0;
};

// The candidates, in restore order: the feature MSRs first (others are checked against
// them), then KVM_GET_MSR_INDEX_LIST, then the unlisted ones (machine-check banks as
// many as the vCPU's MCG_CAP names), less the deny-list.
Result<std::vector<uint32_t>> msr_candidates(const KvmSystem& kvm, int vcpu_fd);

// Reads each candidate on its own (KVM_GET_MSRS stops at the first it cannot read)
// and the TSC offset. Those KVM does not let userspace read go to `refused`.
Result<MsrState> capture_msrs(int vcpu_fd, std::span<const uint32_t> candidates);

// At the snapshot: writes the captured values back to the same vCPU, which changes
// nothing, so that an MSR KVM would refuse at every reset is found now and moved to
// `refused` instead of failing each reset.
Status keep_restorable_msrs(int vcpu_fd, MsrState& state);

// One KVM_SET_MSRS with every entry (one per 255 if KVM lists more), one KVM_GET_MSRS
// to check they took, then the TSC offset. An MSR KVM refuses, or that keeps another
// value, is an error that names it.
Status restore_msrs(int vcpu_fd, const MsrState& state);

// Only those of `indices` the state holds, with one KVM_SET_MSRS (for a vCPU whose guest
// cannot write MSRs: vmm/msr_write_filter_x86_64.h).
Status restore_some_msrs(int vcpu_fd, const MsrState& state, std::span<const uint32_t> indices);

// Reads `indices` one by one from the vCPU; those KVM refuses are left out. For tests
// and diagnostics (the snapshot uses capture_msrs).
Result<std::vector<kvm_msr_entry>> read_msrs(int vcpu_fd, std::span<const uint32_t> indices);

// KVM_GET_MSR_INDEX_LIST (vCPU MSRs) or, with `features`, KVM_GET_MSR_FEATURE_INDEX_LIST
// (VM-wide capabilities; empty when KVM lacks KVM_CAP_GET_MSR_FEATURES).
Result<std::vector<uint32_t>> kvm_msr_index_list(const KvmSystem& kvm, bool features);

Result<uint64_t> get_tsc_offset(int vcpu_fd);

}  // namespace cryptine
