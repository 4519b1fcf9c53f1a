// Virtine: one single-purpose VM (memory, one vCPU) running a guest image, started
// cold from an ELF image or from a snapshot, and reset to that snapshot between uses.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vmm/dirty_log.h"
#include "vmm/exit_decision.h"
#include "vmm/guest_memory.h"
#include "vmm/kvm_system.h"
#include "vmm/kvm_vcpu_stats.h"
#include "vmm/result.h"
#include "vmm/snapshot.h"
#include "vmm/unique_fd.h"
#include "vmm/vcpu_kvm_x86_64.h"

namespace cryptine {

struct VirtineConfig {
  uint64_t mem_size = 64ull << 20;  // a 2 MiB multiple in [4 MiB, 1 GiB]
  uint32_t timeout_ms = 10000;      // per run(); 0: no limit
  // Where LOG text goes (already sanitised); empty: stderr, prefixed.
  std::function<void(std::string_view)> log_sink;
  uint32_t max_log_lines = 256;  // per virtine; more are counted, not printed
  // The guest's environment at a cold boot (NAME=VALUE each); see CRYPTINE_BOOT_ENV_MAX.
  std::vector<std::string> boot_env;
  // Past its snapshot the guest may not write MSRs (each WRMSR faults), so a reset restores
  // none by value (vmm/msr_write_filter_x86_64.h). Off: guests that must write them.
  bool deny_msr_writes = true;
};

struct VirtineCounters {
  uint64_t exits = 0;
  uint64_t hypercalls = 0;
  uint64_t interruptions = 0;  // KVM_RUN returned EINTR and was re-entered (the watchdog gave more time)
  uint64_t resets = 0;
  uint64_t pages_restored = 0;  // by all resets
  uint64_t last_reset_pages = 0;
  uint64_t log_lines = 0;
  uint64_t log_dropped = 0;
};

class Virtine {
 public:
  enum class State {
    kReady,     // may run
    kFinished,  // the guest made the EXIT hypercall; reset() makes it ready again
    kPoisoned,  // the guest faulted or timed out; it must be discarded
  };

  // Cold start: creates the VM, validates and loads the ELF image, sets up long mode
  // and the boot info (with fresh entropy). The guest has not run yet.
  static Result<Virtine> boot(const KvmSystem& kvm, std::span<const uint8_t> elf, const VirtineConfig& config);

  // Creates a VM whose memory is a copy-on-write view of the snapshot and whose vCPU
  // holds the snapshot's state, with fresh entropy in the boot info.
  static Result<Virtine> from_snapshot(const KvmSystem& kvm, std::shared_ptr<const Snapshot> snapshot,
                                       const VirtineConfig& config);

  // Runs until the guest makes a hypercall other than LOG. Any exit the ABI does not
  // allow, ABORT, or running past config.timeout_ms poisons the virtine and returns
  // kGuestFault or kTimeout.
  Result<Hypercall> run() { return run(config_.timeout_ms); }
  // The same with another limit for this run (0: none): for a call known to take long.
  Result<Hypercall> run(uint32_t timeout_ms);
  uint32_t timeout_ms() const { return config_.timeout_ms; }

  // Records the snapshot; call right after run() returned SNAPSHOT. Later resets of
  // this virtine return to it.
  Result<std::shared_ptr<const Snapshot>> take_snapshot(const KvmSystem& kvm);

  // Returns to the snapshot: the pages written since (by the guest, per KVM's dirty
  // log, or by the host, but for the boot info's, written whole anew) are copied back,
  // every vCPU register, FPU/XSAVE state, XCR0, the MSRs KVM names (less a deny-list) and
  // the TSC offset restored (behind the MSR filter, see msr_writes_denied(), only the MSRs
  // changed without WRMSR; XCR0, the XSAVE state and KERNEL_GS_BASE by the guest where it
  // resumes, if its snapshot says so and may, see Snapshot::guest_loads()), and fresh
  // entropy put in the boot info. No VM is created and nothing is mapped. A poisoned
  // virtine cannot be reset, and a reset that fails part-way poisons it.
  Status reset();

  // Marks the virtine unusable, counted as a failure, and returns `error`: for callers
  // that find the guest misbehaved in ways only they can tell (a malformed reply).
  Error poison(Error error);

  State state() const { return state_; }
  GuestMemory& memory() { return memory_; }
  Vcpu& vcpu() { return vcpu_; }
  const VirtineCounters& counters() const { return counters_; }
  const std::shared_ptr<const Snapshot>& snapshot() const { return snapshot_; }
  // The guest's WRMSRs fault (config.deny_msr_writes, on a KVM with the MSR filter).
  bool msr_writes_denied() const { return msr_writes_denied_; }

 private:
  Virtine(UniqueFd vm, bool manual_protect, GuestMemory memory, Vcpu vcpu, const VirtineConfig& config);

  static Result<UniqueFd> create_vm(const KvmSystem& kvm, GuestMemory& memory, bool* manual_protect);
  Result<Hypercall> run_until_hypercall();
  Status restore_dirty_pages();
  Status restore_to_snapshot();
  Status deny_msr_writes_if_configured(const KvmSystem& kvm);
  Status handle_log(uint32_t length);
  Result<std::string> read_log_text(uint32_t length);
  // Reads KVM's exit count for this vCPU (opening it at the first look), counting those
  // since the last look or only taking them as the baseline.
  void look_at_kvm_exits(bool count_them);

  UniqueFd vm_;
  GuestMemory memory_;
  Vcpu vcpu_;
  VirtineConfig config_;
  State state_ = State::kReady;
  bool io_pending_ = false;  // the last exit was a port write KVM has yet to complete
  bool msr_writes_denied_ = false;
  uint32_t snapshot_flags_ = 0;  // what the last SNAPSHOT hypercall said (hypercall_abi.h)
  std::shared_ptr<const Snapshot> snapshot_;
  std::vector<uint64_t> dirty_bitmap_;  // reused by every reset
  DirtyLog dirty_log_;
  VirtineCounters counters_;
  // With kvm_exit_counting(): the vCPU's exit count in KVM, and its value at the last look
  // (four preads per run: counting is for benchmarks, which time runs without it).
  std::optional<KvmExitTally> kvm_exits_;
  // KVM_RUNs since the last reset (or the snapshot, or the start from one): the first few
  // copy the vCPU's state out at their exit, for a reset right after (restore_to_snapshot).
  uint32_t runs_since_reset_ = 0;
};

std::string_view virtine_state_name(Virtine::State state);

}  // namespace cryptine
