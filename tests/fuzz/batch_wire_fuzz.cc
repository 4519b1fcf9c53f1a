// libFuzzer target: both decoders of CIPHER_BATCH's wire on bytes from the fuzzer. The
// guest's step-list decoder (batch_decode) either refuses or gives steps whose data lie
// inside the buffer, within their kinds' rules; the host's decoder of a predicted final
// (decode_predicted_final, the first 8 input bytes being the reply's update byte count)
// either refuses as a guest fault or gives a record whose bytes fit and whose verdict
// carries only what it may.
#include <cstdint>
#include <cstring>

#include "shim/client/batch_wire.h"
#include "tests/fuzz/fuzz_check.h"
#include "abi/guest_abi.h"

extern "C" {
#include "crypto-guest/batch_wire.h"
}

using cryptine::fuzz::check;

namespace {

bool inside(const uint8_t* p, size_t n, const uint8_t* buf, size_t len) {
  return p >= buf && p <= buf + len && n <= static_cast<size_t>(buf + len - p);
}

void steps(const uint8_t* data, size_t size) {
  batch_steps out;
  if (batch_decode(data, size, &out) != 1) return;
  check(out.count >= 0 && out.count <= CRYPTINE_BATCH_MAX_STEPS);
  for (int i = 0; i < out.count; ++i) {
    const batch_step& s = out.steps[i];
    check(s.kind == CRYPTINE_STEP_INIT || s.kind == CRYPTINE_STEP_AAD || s.kind == CRYPTINE_STEP_SET_PARAMS ||
          s.kind == CRYPTINE_STEP_FINAL);
    if (s.key != nullptr) check(inside(s.key, s.key_len, data, size));
    if (s.data != nullptr) check(inside(s.data, s.length, data, size));
    if (s.kind == CRYPTINE_STEP_INIT)
      check(s.arg >= -1 && s.arg <= 1);
    else
      check(s.arg == 0);
    if (s.kind == CRYPTINE_STEP_FINAL) check(s.length == 0 && s.key == nullptr);
  }
}

void predicted(const uint8_t* data, size_t size) {
  if (size < sizeof(int64_t)) return;
  int64_t update_bytes;
  std::memcpy(&update_bytes, data, sizeof(update_bytes));
  const std::span<const uint8_t> out(data + sizeof(update_bytes), size - sizeof(update_bytes));
  auto r = cryptine::decode_predicted_final(out, update_bytes);
  if (!r.ok()) {
    check(r.error().code() == cryptine::ErrorCode::kGuestFault);
    return;
  }
  check(update_bytes >= 0 && static_cast<uint64_t>(update_bytes) + sizeof(cryptine_predicted_final) == out.size());
  check(uint64_t{r->outl} + r->tag_len <= CRYPTINE_PREDICT_BYTES);
  if (r->verdict == CRYPTINE_PREDICT_OK)
    check(r->err_code == 0);
  else if (r->verdict == CRYPTINE_PREDICT_FAILED)
    check(r->outl == 0 && r->tag_len == 0);
  else
    check(r->verdict == CRYPTINE_PREDICT_NONE && r->outl == 0 && r->tag_len == 0 && r->err_code == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  steps(data, size);
  predicted(data, size);
  return 0;
}
