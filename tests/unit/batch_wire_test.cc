// CIPHER_BATCH step lists: the host's encoder (PendingSteps) and the guest's decoder
// (plain C, compiled here too), round trip and at every boundary.
#include "shim/client/batch_wire.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

extern "C" {
#include "crypto-guest/batch_wire.h"
}

namespace cryptine {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes step(uint32_t kind, uint32_t length, int32_t arg, uint32_t aux, size_t data_room) {
  Bytes b(sizeof(cryptine_batch_step) + data_room, 0);
  const cryptine_batch_step h{kind, length, arg, aux};
  std::memcpy(b.data(), &h, sizeof(h));
  return b;
}

int decode(const Bytes& b, batch_steps* out) {
  return batch_decode(b.data(), b.size(), out);
}

TEST(BatchWire, RoundTripsInitAadAndParamsInOrder) {
  PendingSteps p;
  const Bytes key(16, 0x11), iv(12, 0x22), aad = {1, 2, 3, 4, 5}, params(32, 0);
  const std::span<const uint8_t> k(key), i(iv);
  ASSERT_TRUE(p.add_init(1, &k, &i));
  ASSERT_TRUE(p.add_aad(aad));
  ASSERT_TRUE(p.add_set_params(params));
  ASSERT_TRUE(p.add_init(-1, nullptr, &i));
  EXPECT_EQ(p.steps(), 4u);
  EXPECT_EQ(p.aad_bytes(), 5u);
  batch_steps out;
  ASSERT_EQ(batch_decode(p.wire().data(), p.wire().size(), &out), 1);
  ASSERT_EQ(out.count, 4);
  EXPECT_EQ(out.steps[0].kind, uint32_t{CRYPTINE_STEP_INIT});
  EXPECT_EQ(out.steps[0].arg, 1);
  ASSERT_EQ(out.steps[0].key_len, 16u);
  EXPECT_EQ(std::memcmp(out.steps[0].key, key.data(), 16), 0);
  ASSERT_EQ(out.steps[0].length, 12u);
  EXPECT_EQ(std::memcmp(out.steps[0].data, iv.data(), 12), 0);
  EXPECT_EQ(out.steps[1].kind, uint32_t{CRYPTINE_STEP_AAD});
  ASSERT_EQ(out.steps[1].length, 5u);
  EXPECT_EQ(std::memcmp(out.steps[1].data, aad.data(), 5), 0);
  EXPECT_EQ(out.steps[2].kind, uint32_t{CRYPTINE_STEP_SET_PARAMS});
  EXPECT_EQ(out.steps[2].length, 32u);
  EXPECT_EQ(out.steps[3].key, nullptr);  // no key: unset, as in OpenSSL
  EXPECT_EQ(out.steps[3].arg, -1);
  EXPECT_NE(out.steps[3].data, nullptr);
}

TEST(BatchWire, InitWithNeitherKeyNorIvDecodesToNulls) {
  PendingSteps p;
  ASSERT_TRUE(p.add_init(0, nullptr, nullptr));
  batch_steps out;
  ASSERT_EQ(batch_decode(p.wire().data(), p.wire().size(), &out), 1);
  ASSERT_EQ(out.count, 1);
  EXPECT_EQ(out.steps[0].key, nullptr);
  EXPECT_EQ(out.steps[0].data, nullptr);
}

TEST(BatchWire, ClearDropsEverything) {
  PendingSteps p;
  const Bytes aad(3, 7);
  ASSERT_TRUE(p.add_aad(aad));
  p.clear();
  EXPECT_TRUE(p.empty());
  EXPECT_EQ(p.aad_bytes(), 0u);
  EXPECT_TRUE(p.wire().empty());
}

TEST(BatchWire, RefusesPastItsLimits) {
  PendingSteps p;
  const Bytes one(1, 0);
  for (int n = 0; n < CRYPTINE_BATCH_MAX_STEPS; ++n) ASSERT_TRUE(p.add_aad(one));
  EXPECT_FALSE(p.add_aad(one));
  EXPECT_EQ(p.steps(), size_t{CRYPTINE_BATCH_MAX_STEPS});
  PendingSteps q;
  EXPECT_FALSE(q.add_aad(Bytes(PendingSteps::kMaxBytes, 0)));  // header + data past the cap
  EXPECT_TRUE(q.add_aad(Bytes(PendingSteps::kMaxBytes - sizeof(cryptine_batch_step), 0)));  // exact fit
  EXPECT_FALSE(q.add_aad(Bytes()));
  PendingSteps r;
  EXPECT_FALSE(r.add_init(2, nullptr, nullptr));
  EXPECT_TRUE(r.empty());
}

TEST(BatchWire, AFinalServedFromItsPredictionRidesAsAnEmptyStep) {
  PendingSteps p;
  const Bytes aad(3, 7);
  ASSERT_TRUE(p.add_final());
  ASSERT_TRUE(p.add_aad(aad));
  EXPECT_EQ(p.steps(), 2u);
  EXPECT_EQ(p.aad_bytes(), 3u);
  batch_steps out;
  ASSERT_EQ(batch_decode(p.wire().data(), p.wire().size(), &out), 1);
  ASSERT_EQ(out.count, 2);
  EXPECT_EQ(out.steps[0].kind, uint32_t{CRYPTINE_STEP_FINAL});
  EXPECT_EQ(out.steps[0].length, 0u);
  EXPECT_EQ(out.steps[1].kind, uint32_t{CRYPTINE_STEP_AAD});
}

TEST(BatchWire, DecoderBoundaries) {
  batch_steps out;
  EXPECT_EQ(batch_decode(nullptr, 0, &out), 1);  // empty: nothing to apply
  EXPECT_EQ(out.count, 0);
  // Data exactly fitting (padded to 8), one byte short, a header cut short.
  Bytes exact = step(CRYPTINE_STEP_AAD, 5, 0, 0, 8);
  EXPECT_EQ(decode(exact, &out), 1);
  Bytes shorter = exact;
  shorter.pop_back();
  EXPECT_EQ(decode(shorter, &out), 0);
  Bytes cut(exact.begin(), exact.begin() + 15);
  EXPECT_EQ(decode(cut, &out), 0);
  // A length that would wrap the padding or the sum.
  EXPECT_EQ(decode(step(CRYPTINE_STEP_AAD, 0xffffffffu, 0, 0, 8), &out), 0);
  // Unknown kind, stray arg or aux, enc out of range, unknown aux bits.
  EXPECT_EQ(decode(step(0, 0, 0, 0, 0), &out), 0);
  EXPECT_EQ(decode(step(CRYPTINE_STEP_FINAL + 1, 0, 0, 0, 0), &out), 0);
  // FINAL: no data, no arg, no aux.
  EXPECT_EQ(decode(step(CRYPTINE_STEP_FINAL, 0, 0, 0, 0), &out), 1);
  EXPECT_EQ(decode(step(CRYPTINE_STEP_FINAL, 1, 0, 0, 8), &out), 0);
  EXPECT_EQ(decode(step(CRYPTINE_STEP_FINAL, 0, 1, 0, 0), &out), 0);
  EXPECT_EQ(decode(step(CRYPTINE_STEP_FINAL, 0, 0, 1, 0), &out), 0);
  EXPECT_EQ(decode(step(CRYPTINE_STEP_AAD, 0, 1, 0, 0), &out), 0);
  EXPECT_EQ(decode(step(CRYPTINE_STEP_SET_PARAMS, 0, 0, 1, 0), &out), 0);
  EXPECT_EQ(decode(step(CRYPTINE_STEP_INIT, 0, 2, 0, 0), &out), 0);
  EXPECT_EQ(decode(step(CRYPTINE_STEP_INIT, 0, -2, 0, 0), &out), 0);
  EXPECT_EQ(decode(step(CRYPTINE_STEP_INIT, 0, 1, 0x40000u, 0), &out), 0);
  // INIT's key length: within the data, 0 without a key, all of it without an IV.
  const uint32_t both = CRYPTINE_STEP_KEY_GIVEN | CRYPTINE_STEP_IV_GIVEN;
  EXPECT_EQ(decode(step(CRYPTINE_STEP_INIT, 16, 1, both | 16, 16), &out), 1);
  EXPECT_EQ(decode(step(CRYPTINE_STEP_INIT, 16, 1, both | 17, 16), &out), 0);
  EXPECT_EQ(decode(step(CRYPTINE_STEP_INIT, 8, 1, CRYPTINE_STEP_IV_GIVEN | 4, 8), &out), 0);
  EXPECT_EQ(decode(step(CRYPTINE_STEP_INIT, 8, 1, CRYPTINE_STEP_KEY_GIVEN | 4, 8), &out), 0);
  EXPECT_EQ(decode(step(CRYPTINE_STEP_INIT, 8, 1, CRYPTINE_STEP_KEY_GIVEN | 8, 8), &out), 1);
  EXPECT_EQ(decode(step(CRYPTINE_STEP_INIT, 8, 1, 0, 8), &out), 0);  // data with neither
  // At most CRYPTINE_BATCH_MAX_STEPS records.
  Bytes many;
  for (int n = 0; n <= CRYPTINE_BATCH_MAX_STEPS; ++n) {
    const Bytes one = step(CRYPTINE_STEP_AAD, 0, 0, 0, 0);
    many.insert(many.end(), one.begin(), one.end());
    EXPECT_EQ(decode(many, &out), n < CRYPTINE_BATCH_MAX_STEPS ? 1 : 0) << n;
  }
}

// A predicting update's output: `update` bytes of its own, then one record.
Bytes predicted(size_t update, const cryptine_predicted_final& rec) {
  Bytes b(update + sizeof(rec), 0x5a);
  std::memcpy(b.data() + update, &rec, sizeof(rec));
  return b;
}

cryptine_predicted_final sealed(uint32_t outl, uint32_t tag_len) {
  cryptine_predicted_final r{};
  r.verdict = CRYPTINE_PREDICT_OK;
  r.outl = outl;
  r.tag_len = tag_len;
  for (size_t i = 0; i < sizeof(r.bytes); ++i) r.bytes[i] = static_cast<uint8_t>(i + 1);
  return r;
}

bool refused(const Result<PredictedFinal>& r) {
  return !r.ok() && r.error().code() == ErrorCode::kGuestFault;
}

TEST(PredictedFinalWire, TheRecordRightAfterTheUpdatesBytesDecodes) {
  const Bytes b = predicted(100, sealed(0, 16));
  auto r = decode_predicted_final(b, 100);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->verdict, uint32_t{CRYPTINE_PREDICT_OK});
  EXPECT_EQ(r->outl, 0u);
  EXPECT_EQ(r->tag_len, 16u);
  EXPECT_EQ(r->bytes[0], 1);
  EXPECT_TRUE(decode_predicted_final(predicted(0, sealed(0, 16)), 0).ok());  // an empty update
}

TEST(PredictedFinalWire, PlacementBoundaries) {
  const Bytes b = predicted(100, sealed(0, 16));
  EXPECT_TRUE(refused(decode_predicted_final(b, 99)));   // one byte before
  EXPECT_TRUE(refused(decode_predicted_final(b, 101)));  // one byte past
  EXPECT_TRUE(refused(decode_predicted_final(b, -1)));
  EXPECT_TRUE(refused(decode_predicted_final(b, INT64_MAX)));
  EXPECT_TRUE(
      refused(decode_predicted_final(std::span<const uint8_t>(b).first(sizeof(cryptine_predicted_final) - 1), 0)));
  EXPECT_TRUE(refused(decode_predicted_final({}, 0)));
}

TEST(PredictedFinalWire, FieldBoundaries) {
  // outl + tag_len: exactly the record's bytes, one past, and a sum that would wrap 32 bits.
  EXPECT_TRUE(decode_predicted_final(predicted(0, sealed(32, 16)), 0).ok());
  EXPECT_TRUE(refused(decode_predicted_final(predicted(0, sealed(33, 16)), 0)));
  EXPECT_TRUE(refused(decode_predicted_final(predicted(0, sealed(0xffffffffu, 1)), 0)));
  cryptine_predicted_final r = sealed(0, 16);
  r.reserved = 1;
  EXPECT_TRUE(refused(decode_predicted_final(predicted(0, r), 0)));
  r = sealed(0, 16);
  r.err_code = 1;  // an error code for a final that succeeded
  EXPECT_TRUE(refused(decode_predicted_final(predicted(0, r), 0)));
  r = cryptine_predicted_final{};
  r.verdict = CRYPTINE_PREDICT_FAILED;
  r.err_code = 0x1234;
  EXPECT_TRUE(decode_predicted_final(predicted(0, r), 0).ok());
  r.tag_len = 16;  // a tag from a final that failed
  EXPECT_TRUE(refused(decode_predicted_final(predicted(0, r), 0)));
  r = cryptine_predicted_final{};
  EXPECT_TRUE(decode_predicted_final(predicted(0, r), 0).ok());  // NONE, empty
  r.outl = 1;
  EXPECT_TRUE(refused(decode_predicted_final(predicted(0, r), 0)));
  r = cryptine_predicted_final{};
  r.verdict = CRYPTINE_PREDICT_FAILED + 1;
  EXPECT_TRUE(refused(decode_predicted_final(predicted(0, r), 0)));
}

}  // namespace
}  // namespace cryptine
