// A counter from KVM's binary statistics (KVM_GET_STATS_FD) of one vCPU or VM: what KVM
// counts in the kernel, such as every exit it handled there, which user space never sees.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string_view>

#include "vmm/result.h"
#include "vmm/unique_fd.h"

namespace cryptine {

class KvmStatCounter {
 public:
  // Opens the statistics of the vCPU or VM behind `kvm_fd` and finds the counter `name`.
  // kUnsupported when the kernel has no such statistic (or no binary statistics).
  static Result<KvmStatCounter> open(int kvm_fd, std::string_view name);

  // Its current value: one pread.
  Result<uint64_t> read() const;

 private:
  KvmStatCounter(UniqueFd fd, off_t at) : fd_(std::move(fd)), at_(at) {}
  UniqueFd fd_;
  off_t at_;
};

// A vCPU's exits as KVM counts them, read as the change since the last look: all of them,
// and of those the ones for the host's own interrupts (a timer tick while the guest runs),
// which grow with the time a call spends in the guest rather than with what it asks.
class KvmExitTally {
 public:
  static Result<KvmExitTally> open(int vcpu_fd);
  struct Change {
    uint64_t exits = 0, interrupt_exits = 0;
  };
  // Since the last look (or the opening); zero where a read fails.
  Change look();

 private:
  KvmExitTally(KvmStatCounter exits, std::optional<KvmStatCounter> interrupts);
  uint64_t since(const KvmStatCounter& counter, uint64_t& seen);
  KvmStatCounter exits_;
  std::optional<KvmStatCounter> interrupts_;  // "irq_exits", where KVM has it
  uint64_t exits_seen_ = 0, interrupts_seen_ = 0;
};

// Whether virtines add their vCPU's KVM exit count to vmm_counters().kvm_exits after every
// run (and kvm_interrupt_exits; four preads per run): off unless a benchmark or diagnosis asks.
void set_kvm_exit_counting(bool on);
bool kvm_exit_counting();

}  // namespace cryptine
