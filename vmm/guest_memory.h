// GuestMemory: a virtine's RAM, and the one door through which the host touches it.
//
// Guest-physical addresses have their own type; the only way from one to host memory
// is translate(), which checks the whole range (overflow-safe) and returns a bounded
// span. Everything the guest controls (reply lengths, log lengths, offsets) goes
// through it.
//
// The memory is mapped between guard pages and, where there are protection keys, closed
// to the program's code (guest_mapping.h, guest_memory_access.h). The copies made here
// (read, write, fill, restore_pages) open it themselves; a span from translate() is
// usable only while the GuestMemoryAccess it was asked with lives.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "vmm/guest_mapping.h"
#include "vmm/guest_memory_access.h"
#include "vmm/result.h"

namespace cryptine {

struct GuestAddr {
  uint64_t value;
  friend bool operator==(GuestAddr, GuestAddr) = default;
};

class GuestMemory {
 public:
  // size must be a non-zero multiple of the page size. Anonymous, zero-filled,
  // reserved lazily (MAP_NORESERVE): untouched pages cost nothing.
  static Result<GuestMemory> create(uint64_t size);

  // A private copy-on-write mapping of `size` bytes of `fd` (a snapshot's memory):
  // pages are shared with the snapshot until written.
  static Result<GuestMemory> map_private(int fd, uint64_t size);

  uint64_t size() const { return mapping_.size(); }
  uint64_t pages() const { return size() / kPageSize; }

  // [addr, addr+len) as host memory, or kOutOfRange if any byte lies outside guest
  // RAM or addr+len overflows. len 0 is valid at any addr <= size().
  // `open` is the caller's scope, which must outlive every use of the span.
  Result<std::span<const uint8_t>> translate(const GuestMemoryAccess& open, GuestAddr addr, uint64_t len) const;
  // The same for writing; the pages are recorded as written by the host, so a reset
  // restores them too (KVM's dirty log sees only the guest's writes).
  Result<std::span<uint8_t>> translate_mut(const GuestMemoryAccess& open, GuestAddr addr, uint64_t len);

  Status write(GuestAddr addr, std::span<const uint8_t> bytes);
  // As write(), but the pages are not recorded as written by the host. Only for bytes the
  // host writes again, whole, after every reset (the boot info) and the only bytes on
  // their page the host writes: the next reset's copy of that page from the snapshot
  // would be overwritten at once. The guest's own writes to it are in KVM's dirty log.
  Status write_rewritten_at_reset(GuestAddr addr, std::span<const uint8_t> bytes);
  Status read(GuestAddr addr, std::span<uint8_t> out);
  Status fill(GuestAddr addr, uint8_t byte, uint64_t len);

  // ORs the pages written by the host since the last call into `bitmap` (one bit a
  // page, as KVM_GET_DIRTY_LOG returns), then forgets them.
  void take_host_written(std::span<uint64_t> bitmap);

  // Copies back from `clean` (a snapshot image of the same size) every page whose bit
  // is set in `bitmap`, clearing the bits; returns how many pages it copied.
  Result<uint64_t> restore_pages(std::span<uint64_t> bitmap, std::span<const uint8_t> clean);

  // The host address KVM's memory slot is registered with: a number for the ioctl,
  // not a way in (there is none but translate()).
  uint64_t kvm_userspace_addr() const { return reinterpret_cast<uint64_t>(mapping_.get()); }

  static constexpr uint64_t kPageSize = 4096;

 private:
  explicit GuestMemory(GuestMapping mapping)
      : mapping_(std::move(mapping)), host_written_((mapping_.size() / kPageSize + 63) / 64, 0) {}
  // Inline, as translate() is (a virtine call makes several; see Counter::add for why
  // that matters): only the error is made out of line.
  Result<std::span<uint8_t>> checked_span(GuestAddr addr, uint64_t len) const;
  Error outside(GuestAddr addr, uint64_t len) const;
  uint8_t* base() const { return static_cast<uint8_t*>(mapping_.get()); }

  GuestMapping mapping_;
  std::vector<uint64_t> host_written_;
};

// True if [addr, addr+len) lies within [0, limit), without overflow. The one range
// check, shared by translate() and every parser of guest-supplied ranges.
constexpr bool range_within(uint64_t addr, uint64_t len, uint64_t limit) {
  return addr <= limit && len <= limit - addr;
}

inline Result<std::span<uint8_t>> GuestMemory::checked_span(GuestAddr addr, uint64_t len) const {
  if (!range_within(addr.value, len, size())) return outside(addr, len);
  return std::span<uint8_t>(base() + addr.value, len);
}

inline Result<std::span<const uint8_t>> GuestMemory::translate(const GuestMemoryAccess&, GuestAddr addr,
                                                               uint64_t len) const {
  auto span = CRYPTINE_TRY(checked_span(addr, len));
  return std::span<const uint8_t>(span);
}

}  // namespace cryptine
