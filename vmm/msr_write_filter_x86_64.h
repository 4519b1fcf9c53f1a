// After its snapshot a guest may not write any MSR: KVM's MSR filter (KVM_X86_SET_MSR_FILTER)
// denies every guest WRMSR, which then faults (#GP) in the guest; reads stay allowed. So a
// reset need not write the ~240 MSRs back and check them (one KVM_SET_MSRS, one
// KVM_GET_MSRS and the TSC offset: about a third of a reset's time in the KVM harness).
// It restores only the MSRs an instruction other than WRMSR changes (see the .cc).
#pragma once

#include <cstdint>
#include <span>

#include "vmm/kvm_system.h"
#include "vmm/result.h"

namespace cryptine {

// Installs the filter on the VM (host-initiated KVM_SET_MSRS is not filtered, so the
// snapshot's MSRs can still be put back). False, and nothing changed, when KVM lacks
// KVM_CAP_X86_MSR_FILTER: then every reset restores every MSR by value.
Result<bool> deny_guest_msr_writes(const KvmSystem& kvm, int vm_fd);

// MSRs a guest changes without WRMSR, which a reset restores even behind the filter.
std::span<const uint32_t> msrs_changed_without_wrmsr();

}  // namespace cryptine
