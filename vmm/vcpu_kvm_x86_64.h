// Vcpu: one KVM vCPU and its mapped run area, started in 64-bit long mode.
#pragma once

#include <linux/kvm.h>

#include <cstdint>

#include "vmm/exit_decision.h"
#include "vmm/kvm_system.h"
#include "vmm/result.h"
#include "vmm/unique_fd.h"

namespace cryptine {

// What KVM_RUN can copy out for user space on its way back (KVM_CAP_SYNC_REGS).
struct SyncedState {
  kvm_sregs sregs;
  kvm_vcpu_events events;
};

class Vcpu {
 public:
  // Creates vCPU 0 of vm_fd with KvmSystem::guest_cpuid() and, where KVM can, the
  // paravirtual MSRs refused (KVM_CAP_ENFORCE_PV_FEATURE_CPUID).
  static Result<Vcpu> create(const KvmSystem& kvm, int vm_fd);

  // State for a cold boot: long-mode special registers, power-on FPU state, XCR0
  // enabling every state component the guest may use, rip at `entry`.
  Status set_boot_state(const KvmSystem& kvm, uint64_t entry);

  // One KVM_RUN, translated into a backend-neutral exit. EINTR (a signal, such as the
  // watchdog's) comes back as a kSystem error with errno EINTR. With `copy_state_out`,
  // KVM also leaves the vCPU's state at the exit in the run area (state_at_exit()).
  Result<VmExit> run(bool copy_state_out = false);

  // The general and special registers and the pending events as the last run() left
  // them, copied out by that KVM_RUN (KVM_CAP_SYNC_REGS: no KVM_GET_* call); null if it
  // was not asked to, without the capability, and once anything else has used the run
  // area since.
  const kvm_sync_regs* state_at_exit() const { return exit_state_known_ ? &run_->s.regs : nullptr; }

  // Lets KVM finish the port write of the last exit without entering the guest
  // (KVM_RUN with immediate_exit), so registers can be captured or replaced. With `left`,
  // where KVM can (KVM_CAP_SYNC_REGS), the same KVM_RUN leaves the special registers and
  // the pending events there too (no KVM_GET_* call): true if it did.
  Result<bool> complete_pending_io(SyncedState* left = nullptr);

  kvm_run* run_area() { return run_; }

  // The general registers, as the next KVM_RUN will find them.
  Result<kvm_regs> regs() const;
  Status set_regs(const kvm_regs& regs);
  // Leaves the registers in the run area for KVM to set as the next KVM_RUN begins
  // (KVM_CAP_SYNC_REGS), which saves a KVM_SET_REGS; without the capability, set_regs().
  Status set_regs_at_next_run(const kvm_regs& regs);

  int fd() const { return fd_.get(); }

 private:
  Vcpu() = default;
  UniqueFd fd_;
  Mapping run_area_;
  kvm_run* run_ = nullptr;
  bool sync_state_ = false;
  bool exit_state_known_ = false;
};

}  // namespace cryptine
