// Program input the provider holds on the host before it goes to a virtine (a digest's
// deferred updates; a PEM key block and its passphrase as the decoder reads them). It is the
// program's own input, but, as OpenSSL cleanses a context's buffered block, no copy of it
// outlives its use: every buffer it drops, including the one left behind when it grows, is
// cleansed first.
#pragma once

#include <openssl/crypto.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>

#include "vmm/bulk_copy.h"

namespace cryptine::provider {

class HeldInput {
 public:
  HeldInput() = default;
  HeldInput(const HeldInput& other) { append(other.bytes()); }
  HeldInput& operator=(const HeldInput&) = delete;
  ~HeldInput() { clear(); }

  std::span<const uint8_t> bytes() const { return {data_.get(), size_}; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // The caller bounds the total (it never approaches SIZE_MAX).
  void append(std::span<const uint8_t> in) {
    if (in.empty()) return;
    if (in.size() > capacity_ - size_) grow(size_ + in.size());
    copy_bulk(data_.get() + size_, in.data(), in.size());
    size_ += in.size();
  }

  // Cleansed and released.
  void clear() {
    if (data_ != nullptr) OPENSSL_cleanse(data_.get(), size_);
    data_.reset();
    size_ = capacity_ = 0;
  }

 private:
  void grow(size_t need) {
    const size_t capacity = std::max({need, 2 * capacity_, size_t{256}});
    auto bigger = std::make_unique_for_overwrite<uint8_t[]>(capacity);
    copy_bulk(bigger.get(), data_.get(), size_);
    const size_t size = size_;
    clear();
    data_ = std::move(bigger);
    size_ = size;
    capacity_ = capacity;
  }

  std::unique_ptr<uint8_t[]> data_;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace cryptine::provider
