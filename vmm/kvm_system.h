// KvmSystem: the opened /dev/kvm, checked once for everything the monitor needs.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "vmm/result.h"
#include "vmm/unique_fd.h"

namespace cryptine {

class KvmSystem {
 public:
  // Opens the device (default /dev/kvm), checks the API version and every capability
  // in the required list, and reads what is needed for each vCPU (run-area size,
  // supported CPUID, XCR0 bits).
  static Result<KvmSystem> open(const char* path = "/dev/kvm");

  int fd() const { return fd_.get(); }
  size_t vcpu_mmap_size() const { return vcpu_mmap_size_; }
  // CPUID leaves to hand to each vCPU: KVM_GET_SUPPORTED_CPUID less the hypervisor
  // range (0x40000000-0x4fffffff, KVM's signature and paravirtual feature leaves).
  std::span<const kvm_cpuid_entry2> guest_cpuid() const { return cpuid_; }
  // Its leaf `function`, subleaf `index`; null if it has none.
  const kvm_cpuid_entry2* guest_cpuid_leaf(uint32_t function, uint32_t index) const;
  // KVM_CAP_ENFORCE_PV_FEATURE_CPUID: a vCPU can be made to refuse the paravirtual MSRs
  // its CPUID does not offer.
  bool can_enforce_pv_cpuid() const { return enforce_pv_cpuid_; }
  // KVM_CAP_SYNC_REGS with the general and special registers and the events: KVM_RUN can
  // leave them in the run area, and take the general registers from there.
  bool can_sync_state() const { return sync_state_; }
  uint64_t supported_xcr0() const { return supported_xcr0_; }

 private:
  KvmSystem() = default;
  UniqueFd fd_;
  size_t vcpu_mmap_size_ = 0;
  std::vector<kvm_cpuid_entry2> cpuid_;
  uint64_t supported_xcr0_ = 0;
  bool enforce_pv_cpuid_ = false;
  bool sync_state_ = false;
};

// Wraps ioctl() so that a failure becomes an Error naming the request and errno.
// EINTR/EAGAIN are retried except for KVM_RUN, where they carry meaning.
Result<int> kvm_ioctl(int fd, unsigned long request, const char* name, void* arg = nullptr);
Result<int> kvm_ioctl(int fd, unsigned long request, const char* name, unsigned long arg);

#define CRYPTINE_KVM_IOCTL(fd, req, ...) ::cryptine::kvm_ioctl((fd), (req), #req __VA_OPT__(, ) __VA_ARGS__)

}  // namespace cryptine
