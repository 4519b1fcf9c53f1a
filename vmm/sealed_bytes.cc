#include "vmm/sealed_bytes.h"

#include <string.h>
#include <sys/mman.h>

#include <cstring>
#include <utility>

namespace cryptine {

Result<SealedBytes> SealedBytes::copy_of(std::span<const uint8_t> bytes) {
  SealedBytes s;
  if (bytes.empty()) return s;                                         // nothing to seal, nothing mapped
  const size_t inner = (bytes.size() + kGuard - 1) / kGuard * kGuard;  // whole pages
  s.reserved_size_ = inner + 2 * kGuard;
  void* reserved = ::mmap(nullptr, s.reserved_size_, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (reserved == MAP_FAILED) return Error::from_errno("mmap sealed bytes");
  s.reserved_ = reserved;
  s.size_ = bytes.size();
  char* data = static_cast<char*>(reserved) + kGuard;
  const int key = guest_memory_pkey();
  const int rw = PROT_READ | PROT_WRITE;
  if ((key >= 0 ? ::pkey_mprotect(data, inner, rw, key) : ::mprotect(data, inner, rw)) != 0)
    return Error::from_errno("protecting sealed bytes");
  if (::madvise(data, inner, MADV_DONTDUMP) != 0) return Error::from_errno("madvise sealed bytes");
  const GuestMemoryAccess open;
  std::memcpy(data, bytes.data(), bytes.size());
  return s;
}

SealedBytes::SealedBytes(SealedBytes&& other) noexcept
    : reserved_(std::exchange(other.reserved_, nullptr)),
      reserved_size_(std::exchange(other.reserved_size_, 0)),
      size_(std::exchange(other.size_, 0)) {}

SealedBytes& SealedBytes::operator=(SealedBytes&& other) noexcept {
  if (this != &other) {
    release();
    reserved_ = std::exchange(other.reserved_, nullptr);
    reserved_size_ = std::exchange(other.reserved_size_, 0);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

SealedBytes::~SealedBytes() {
  release();
}

// Unmapped in whichever process frees it: a child's copy is its own.
void SealedBytes::release() {
  if (reserved_ == nullptr) return;
  if (size_ > 0) {
    const GuestMemoryAccess open;
    ::explicit_bzero(static_cast<char*>(reserved_) + kGuard, size_);
  }
  ::munmap(reserved_, reserved_size_);
  reserved_ = nullptr;
  reserved_size_ = size_ = 0;
}

}  // namespace cryptine
