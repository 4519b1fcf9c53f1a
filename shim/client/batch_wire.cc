#include "shim/client/batch_wire.h"

#include <openssl/crypto.h>

#include <cstring>
#include <string>

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

bool PendingSteps::add_final() {
  return add(CRYPTINE_STEP_FINAL, 0, 0, {}, {});
}

Result<PredictedFinal> decode_predicted_final(std::span<const uint8_t> out, int64_t update_bytes) {
  const auto bad = [](const std::string& what) { return Error(ErrorCode::kGuestFault, "predicted final: " + what); };
  cryptine_predicted_final raw;
  if (update_bytes < 0 || out.size() < sizeof(raw) || static_cast<uint64_t>(update_bytes) != out.size() - sizeof(raw))
    return bad("record not after the update's " + std::to_string(update_bytes) + " of " + std::to_string(out.size()) +
               " bytes");
  std::memcpy(&raw, out.data() + update_bytes, sizeof(raw));
  PredictedFinal p;
  p.verdict = raw.verdict;
  p.outl = raw.outl;
  p.tag_len = raw.tag_len;
  p.err_code = raw.err_code;
  std::memcpy(p.bytes, raw.bytes, sizeof(p.bytes));
  const uint32_t reserved = raw.reserved;
  OPENSSL_cleanse(&raw, sizeof(raw));
  const uint64_t used = uint64_t{p.outl} + p.tag_len;  // 64-bit: cannot wrap
  if (reserved != 0) return bad("reserved field set");
  if (used > CRYPTINE_PREDICT_BYTES)
    return bad(std::to_string(used) + " bytes in a record of " + std::to_string(CRYPTINE_PREDICT_BYTES));
  switch (p.verdict) {
    case CRYPTINE_PREDICT_NONE:
      if (used != 0 || p.err_code != 0) return bad("an answer in a record that has none");
      break;
    case CRYPTINE_PREDICT_OK:
      if (p.err_code != 0) return bad("an error code for a final that succeeded");
      break;
    case CRYPTINE_PREDICT_FAILED:
      if (used != 0) return bad("output from a final that failed");
      break;
    default: return bad("verdict " + std::to_string(p.verdict));
  }
  return p;
}

}  // namespace cryptine
