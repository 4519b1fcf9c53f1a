// A counter from KVM's binary statistics (KVM_GET_STATS_FD) of one vCPU or VM: what KVM
// counts in the kernel, such as every exit it handled there, which user space never sees.
#pragma once

#include <sys/types.h>

#include <cstdint>
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

// Whether virtines add their vCPU's KVM exit count to vmm_counters().kvm_exits after every
// run (a pread per run): off unless a benchmark or diagnosis asks.
void set_kvm_exit_counting(bool on);
bool kvm_exit_counting();

}  // namespace cryptine
