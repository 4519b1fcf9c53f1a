// CIPHER_BATCH step lists (guest_abi.h), host side: the no-output calls a cipher context
// recorded (init with key and/or IV, AAD, set params, a final served from its prediction)
// encoded for its next request. Holds key bytes until sent, so it cleanses what it drops.
// And the decoder of the predicted final a batch's update brings back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "abi/guest_abi.h"
#include "vmm/result.h"

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
  // A final the program made and the host answered from the predicted one: the guest's
  // context must still take it, or it would be a final behind the program's.
  bool add_final();

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

// A predicted final (guest_abi.h's cryptine_predicted_final), copied out of the reply.
struct PredictedFinal {
  uint32_t verdict = CRYPTINE_PREDICT_NONE;
  uint32_t outl = 0;     // the final's output, bytes[0..outl)
  uint32_t tag_len = 0;  // a seal's tag, right after it
  uint64_t err_code = 0;
  uint8_t bytes[CRYPTINE_PREDICT_BYTES] = {};
};

// Splits a predicting batch update's output `out` (the reply's, in guest memory): exactly
// `update_bytes` (the reply's values[3]) of the update's own output, then one record,
// copied out before it is checked: a known verdict, reserved 0, outl + tag_len within
// bytes[], no bytes and no error code for NONE, no bytes for FAILED, no error code for
// OK. kGuestFault otherwise. Whether the values suit the operation is cipher_contract's.
Result<PredictedFinal> decode_predicted_final(std::span<const uint8_t> out, int64_t update_bytes);

}  // namespace cryptine
