// SealedBytes: host bytes kept as guest memory is kept, for what must outlive a virtine
// but must not be readable by the program (the encoding of a private key decoded in a
// virtine, from which a forked child, or a key whose virtine failed, gets a virtine again).
//
// Its own mapping between PROT_NONE guard pages, carrying guest memory's protection key
// (guest_memory_access.h), so it is read only inside a GuestMemoryAccess scope, and
// excluded from core dumps. Unlike guest memory a child inherits it (MADV_DONTFORK is not
// set): the child's copy is what lets it rebuild the key. Wiped before it is unmapped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "vmm/guest_memory_access.h"
#include "vmm/result.h"

namespace cryptine {

class SealedBytes {
 public:
  // A sealed copy of `bytes`.
  static Result<SealedBytes> copy_of(std::span<const uint8_t> bytes);

  SealedBytes() = default;
  SealedBytes(SealedBytes&& other) noexcept;
  SealedBytes& operator=(SealedBytes&& other) noexcept;
  SealedBytes(const SealedBytes&) = delete;
  SealedBytes& operator=(const SealedBytes&) = delete;
  ~SealedBytes();

  // The bytes, readable while `open` lives.
  std::span<const uint8_t> bytes(const GuestMemoryAccess& /*open*/) const { return {data(), size_}; }
  size_t size() const { return size_; }

 private:
  const uint8_t* data() const {
    return reserved_ == nullptr ? nullptr : static_cast<const uint8_t*>(reserved_) + kGuard;
  }
  void release();

  static constexpr size_t kGuard = 4096;
  void* reserved_ = nullptr;  // guards included
  size_t reserved_size_ = 0;
  size_t size_ = 0;
};

}  // namespace cryptine
