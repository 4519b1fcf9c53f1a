#include "shim/client/batch_wire.h"

#include <openssl/crypto.h>

#include <cstring>

namespace cryptine {

PendingSteps& PendingSteps::operator=(const PendingSteps& other) {
  if (this != &other) {
    clear();
    wire_ = other.wire_;
    steps_ = other.steps_;
    aad_ = other.aad_;
  }
  return *this;
}

PendingSteps::~PendingSteps() {
  clear();
}

void PendingSteps::clear() {
  // The capacity stays (no allocation per operation); the bytes, keys among them, go.
  if (!wire_.empty()) OPENSSL_cleanse(wire_.data(), wire_.size());
  wire_.clear();
  steps_ = 0;
  aad_ = 0;
}

bool PendingSteps::add(uint32_t kind, int32_t arg, uint32_t aux, std::span<const uint8_t> a,
                       std::span<const uint8_t> b) {
  const size_t data = a.size() + b.size();  // both bounded by kMaxBytes below
  if (steps_ == CRYPTINE_BATCH_MAX_STEPS || a.size() > kMaxBytes || b.size() > kMaxBytes ||
      sizeof(cryptine_batch_step) + CRYPTINE_STEP_PADDED(data) > kMaxBytes - wire_.size())
    return false;
  const cryptine_batch_step h{kind, static_cast<uint32_t>(data), arg, aux};
  const size_t at = wire_.size();
  wire_.resize(at + sizeof(h) + CRYPTINE_STEP_PADDED(data), 0);
  std::memcpy(wire_.data() + at, &h, sizeof(h));
  if (!a.empty()) std::memcpy(wire_.data() + at + sizeof(h), a.data(), a.size());
  if (!b.empty()) std::memcpy(wire_.data() + at + sizeof(h) + a.size(), b.data(), b.size());
  ++steps_;
  return true;
}

bool PendingSteps::add_init(int enc, const std::span<const uint8_t>* key, const std::span<const uint8_t>* iv) {
  if (enc < -1 || enc > 1 || (key != nullptr && key->size() > CRYPTINE_STEP_KEY_LEN_MASK)) return false;
  uint32_t aux = 0;
  if (key != nullptr) aux |= CRYPTINE_STEP_KEY_GIVEN | static_cast<uint32_t>(key->size());
  if (iv != nullptr) aux |= CRYPTINE_STEP_IV_GIVEN;
  return add(CRYPTINE_STEP_INIT, enc, aux, key != nullptr ? *key : std::span<const uint8_t>{},
             iv != nullptr ? *iv : std::span<const uint8_t>{});
}

bool PendingSteps::add_aad(std::span<const uint8_t> aad) {
  if (!add(CRYPTINE_STEP_AAD, 0, 0, aad, {})) return false;
  aad_ += aad.size();
  return true;
}

bool PendingSteps::add_set_params(std::span<const uint8_t> param_wire) {
  return add(CRYPTINE_STEP_SET_PARAMS, 0, 0, param_wire, {});
}

}  // namespace cryptine
