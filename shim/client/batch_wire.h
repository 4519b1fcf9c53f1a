// CIPHER_BATCH step lists (guest_abi.h), host side: the no-output calls a cipher context
// recorded (init with key and/or IV, AAD, set params) encoded for its next request.
// Holds key bytes until sent, so it cleanses what it drops.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "abi/guest_abi.h"

namespace cryptine {

class PendingSteps {
 public:
  // What a context may hold before it must send them on their own: small enough to ride
  // beside a full update in one mailbox.
  static constexpr size_t kMaxBytes = 16 * 1024;

  PendingSteps() = default;
  PendingSteps(const PendingSteps&) = default;
  PendingSteps& operator=(const PendingSteps& other);
  ~PendingSteps();

  // Each returns false (and records nothing) if the step would not fit: the caller sends
  // what is pending first, then records again or makes the call itself.
  bool add_init(int enc, const std::span<const uint8_t>* key, const std::span<const uint8_t>* iv);
  bool add_aad(std::span<const uint8_t> aad);
  bool add_set_params(std::span<const uint8_t> param_wire);

  bool empty() const { return steps_ == 0; }
  size_t steps() const { return steps_; }
  size_t aad_bytes() const { return aad_; }  // what the guest must say it took
  std::span<const uint8_t> wire() const { return wire_; }
  void clear();

 private:
  bool add(uint32_t kind, int32_t arg, uint32_t aux, std::span<const uint8_t> a, std::span<const uint8_t> b);
  std::vector<uint8_t> wire_;
  size_t steps_ = 0;
  size_t aad_ = 0;
};

}  // namespace cryptine
