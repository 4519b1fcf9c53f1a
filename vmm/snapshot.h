// Snapshot: a guest's memory and vCPU state, recorded once after it initialised, from
// which every later virtine starts.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "vmm/guest_mapping.h"
#include "vmm/guest_memory.h"
#include "vmm/guest_memory_access.h"
#include "vmm/result.h"
#include "vmm/unique_fd.h"
#include "vmm/vcpu_state_x86_64.h"

namespace cryptine {

class Snapshot {
 public:
  // Records `memory` into a sealed memfd and keeps `vcpu` as the state to restore;
  // `guest_loads`: what resets leave to the guest (vcpu_state_x86_64.h).
  static Result<std::shared_ptr<const Snapshot>> create(const GuestMemory& memory, VcpuState vcpu,
                                                        GuestLoads guest_loads);

  // The same snapshot for a child process after fork(): the parent's image is not
  // inherited (MADV_DONTFORK), so the sealed memfd is mapped anew, on a fd of its own.
  Result<std::shared_ptr<const Snapshot>> remap() const;

  int memfd() const { return memfd_.get(); }
  uint64_t mem_size() const { return image_.size(); }
  // The recorded memory, read-only, for restoring pages and for tests; guest memory like
  // a virtine's (guest_mapping.h), so usable only while `open` lives.
  std::span<const uint8_t> memory(const GuestMemoryAccess& /*open*/) const {
    return {static_cast<const uint8_t*>(image_.get()), image_.size()};
  }
  const VcpuState& vcpu() const { return vcpu_; }
  const GuestLoads& guest_loads() const { return guest_loads_; }
  // Pages that hold anything but zeroes: the snapshot's real memory footprint.
  uint64_t nonzero_pages() const { return nonzero_pages_; }

 private:
  Snapshot() = default;
  Status map_image(uint64_t size);  // image_ from memfd_, read-only, fenced as guest memory
  UniqueFd memfd_;
  GuestMapping image_;
  VcpuState vcpu_;
  GuestLoads guest_loads_;
  uint64_t nonzero_pages_ = 0;
};

}  // namespace cryptine
