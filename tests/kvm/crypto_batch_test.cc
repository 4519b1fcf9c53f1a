// CIPHER_BATCH against the host's libcrypto: recorded steps (init, AAD, set params) and an
// update or a final with its tag in one request give the host's bytes and tag; an update's
// predicted final gives the host's tag (a seal) or verdict (an open, never a tag), leaving
// the context as after the update; a step the guest's OpenSSL refuses stops the batch and
// is named; a malformed step list is refused.
#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "abi/guest_abi.h"
#include "shim/client/batch_wire.h"
#include "shim/client/guest_ops.h"
#include "shim/client/param_wire.h"
#include "tests/kvm/crypto_guest_fixture.h"

namespace cryptine {
namespace {

using testing_support::Bytes;
using testing_support::CryptoGuest;
using testing_support::random_bytes;

class CryptoBatch : public CryptoGuest {};

// AES-128-GCM by the host: ciphertext then the 16-byte tag.
Bytes host_seal(const Bytes& key, const Bytes& iv, const Bytes& aad, const Bytes& msg) {
  Bytes out(msg.size() + 16);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int n = 0, f = 0, dummy = 0;
  const bool ok = EVP_EncryptInit_ex(ctx, EVP_aes_128_gcm(), nullptr, key.data(), iv.data()) &&
                  EVP_EncryptUpdate(ctx, nullptr, &dummy, aad.data(), static_cast<int>(aad.size())) &&
                  EVP_EncryptUpdate(ctx, out.data(), &n, msg.data(), static_cast<int>(msg.size())) &&
                  EVP_EncryptFinal_ex(ctx, out.data() + n, &f) &&
                  EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, out.data() + msg.size()) > 0;
  EVP_CIPHER_CTX_free(ctx);
  return ok ? out : Bytes{};
}

TEST_F(CryptoBatch, StepsThenUpdateThenFinalWithTagAsTheHost) {
  const Bytes key = random_bytes(16), iv = random_bytes(12), aad = random_bytes(13), msg = random_bytes(1000);
  const std::span<const uint8_t> k(key), i(iv);
  auto h = guest::cipher_init(*v_, {.cipher = "AES-128-GCM", .enc = 1});
  ASSERT_TRUE(h.ok()) << h.error().message();
  PendingSteps steps;
  ASSERT_TRUE(steps.add_init(1, &k, &i));
  ASSERT_TRUE(steps.add_aad(aad));
  Bytes out(msg.size() + guest::kMaxBlock);
  guest::CipherBatch b{.handle = *h, .steps = steps.wire(), .then = guest::BatchThen::kUpdate, .in = msg};
  auto r = guest::cipher_batch(*v_, b, out);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->outl, static_cast<int64_t>(msg.size()));
  EXPECT_EQ(r->copied, msg.size());
  EXPECT_EQ(r->aad_taken, static_cast<int64_t>(aad.size()));
  Bytes tail(2 * guest::kMaxBlock);
  auto fin = guest::cipher_batch(*v_, {.handle = *h, .then = guest::BatchThen::kFinal, .tag = 16}, tail);
  ASSERT_TRUE(fin.ok()) << fin.error().message();
  EXPECT_EQ(fin->outl, 0);
  ASSERT_EQ(fin->tag_len, 16);
  ASSERT_EQ(fin->copied, 16u);
  Bytes got(out.begin(), out.begin() + static_cast<long>(msg.size()));
  got.insert(got.end(), tail.begin(), tail.begin() + 16);
  EXPECT_EQ(got, host_seal(key, iv, aad, msg));
}

// A predicting update of msg on a fresh AES-128-GCM context (`enc`), the steps being init,
// the expected tag (an open's, if any) and AAD.
Result<guest::BatchReply> predicting_update(Virtine& v, guest::Handle h, int enc, const Bytes& key, const Bytes& iv,
                                            const Bytes& aad, const Bytes& msg, const Bytes* tag, Bytes& out) {
  const std::span<const uint8_t> k(key), i(iv);
  PendingSteps steps;
  if (!steps.add_init(enc, &k, &i)) return Error(ErrorCode::kInvalidArgument, "init");
  std::vector<uint8_t> wire;
  if (tag != nullptr) {
    Bytes t = *tag;
    OSSL_PARAM set[] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, t.data(), t.size()),
                        OSSL_PARAM_construct_end()};
    auto w = encode_params(set);
    if (!w.ok() || !steps.add_set_params(*w)) return Error(ErrorCode::kInvalidArgument, "tag");
  }
  if (!steps.add_aad(aad)) return Error(ErrorCode::kInvalidArgument, "aad");
  out.assign(msg.size() + guest::kMaxBlock, 0);
  guest::CipherBatch b{.handle = h,
                       .steps = steps.wire(),
                       .then = guest::BatchThen::kUpdate,
                       .in = msg,
                       .predict = true,
                       .tag = 16};  // asked for an open too: the guest must not give it
  return guest::cipher_batch(v, b, out);
}

TEST_F(CryptoBatch, APredictedSealGivesTheHostsTagAndLeavesTheContextBeforeItsFinal) {
  const Bytes key = random_bytes(16), iv = random_bytes(12), aad = random_bytes(13), msg = random_bytes(1000);
  auto h = guest::cipher_init(*v_, {.cipher = "AES-128-GCM", .enc = 1});
  ASSERT_TRUE(h.ok()) << h.error().message();
  Bytes out;
  auto r = predicting_update(*v_, *h, 1, key, iv, aad, msg, nullptr, out);
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_EQ(r->copied, msg.size());
  ASSERT_TRUE(r->predicted.has_value());
  EXPECT_EQ(r->predicted->verdict, uint32_t{CRYPTINE_PREDICT_OK});
  EXPECT_EQ(r->predicted->outl, 0u);
  ASSERT_EQ(r->predicted->tag_len, 16u);
  Bytes got(out.begin(), out.begin() + static_cast<long>(msg.size()));
  got.insert(got.end(), r->predicted->bytes, r->predicted->bytes + 16);
  const Bytes want = host_seal(key, iv, aad, msg);
  EXPECT_EQ(got, want);
  // The context itself had no final: its real one gives the same tag.
  Bytes tail(2 * guest::kMaxBlock);
  auto fin = guest::cipher_batch(*v_, {.handle = *h, .then = guest::BatchThen::kFinal, .tag = 16}, tail);
  ASSERT_TRUE(fin.ok()) << fin.error().message();
  ASSERT_EQ(fin->tag_len, 16);
  EXPECT_TRUE(std::equal(tail.begin(), tail.begin() + 16, want.end() - 16));
}

TEST_F(CryptoBatch, APredictedOpenGivesOnlyTheVerdict) {
  const Bytes key = random_bytes(16), iv = random_bytes(12), aad = random_bytes(13), msg = random_bytes(1000);
  const Bytes sealed = host_seal(key, iv, aad, msg);
  ASSERT_FALSE(sealed.empty());
  const Bytes ct(sealed.begin(), sealed.end() - 16);
  Bytes tag(sealed.end() - 16, sealed.end());
  for (const bool flip : {false, true}) {
    if (flip) tag[5] ^= 1;
    auto h = guest::cipher_init(*v_, {.cipher = "AES-128-GCM", .enc = 0});
    ASSERT_TRUE(h.ok()) << h.error().message();
    Bytes out;
    auto r = predicting_update(*v_, *h, 0, key, iv, aad, ct, &tag, out);
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_TRUE(std::equal(msg.begin(), msg.end(), out.begin()));
    ASSERT_TRUE(r->predicted.has_value());
    EXPECT_EQ(r->predicted->verdict, flip ? uint32_t{CRYPTINE_PREDICT_FAILED} : uint32_t{CRYPTINE_PREDICT_OK});
    EXPECT_EQ(r->predicted->tag_len, 0u);  // 16 asked: never given for an open
    EXPECT_EQ(r->predicted->outl, 0u);
    EXPECT_TRUE(std::all_of(r->predicted->bytes, r->predicted->bytes + CRYPTINE_PREDICT_BYTES,
                            [](uint8_t b) { return b == 0; }));
    // A predicted open without the expected tag (none set): still no tag, only a verdict.
    auto h2 = guest::cipher_init(*v_, {.cipher = "AES-128-GCM", .enc = 0});
    ASSERT_TRUE(h2.ok()) << h2.error().message();
    auto r2 = predicting_update(*v_, *h2, 0, key, iv, aad, ct, nullptr, out);
    ASSERT_TRUE(r2.ok()) << r2.error().message();
    ASSERT_TRUE(r2->predicted.has_value());
    EXPECT_EQ(r2->predicted->verdict, uint32_t{CRYPTINE_PREDICT_FAILED});
    EXPECT_EQ(r2->predicted->tag_len, 0u);
  }
}

TEST_F(CryptoBatch, AFinalStepMovesTheContextOnAsTheServedFinal) {
  const Bytes key = random_bytes(16), iv = random_bytes(12), aad = random_bytes(13), msg = random_bytes(64);
  auto h = guest::cipher_init(*v_, {.cipher = "AES-128-GCM", .enc = 1});
  ASSERT_TRUE(h.ok()) << h.error().message();
  Bytes out;
  auto r = predicting_update(*v_, *h, 1, key, iv, aad, msg, nullptr, out);
  ASSERT_TRUE(r.ok() && r->predicted) << (r.ok() ? "no prediction" : r.error().message());
  // Without the final GCM gives no tag; after the FINAL step it gives the predicted one.
  PendingSteps steps;
  ASSERT_TRUE(steps.add_final());
  ASSERT_TRUE(guest::cipher_batch(*v_, {.handle = *h, .steps = steps.wire()}, {}).ok());
  unsigned char t[12] = {};
  OSSL_PARAM get[] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, t, sizeof(t)),
                      OSSL_PARAM_construct_end()};
  auto ret = guest::get_params(*v_, *h, get);
  ASSERT_TRUE(ret.ok()) << ret.error().message();
  EXPECT_EQ(*ret, 1);
  EXPECT_EQ(0, std::memcmp(t, r->predicted->bytes, sizeof(t)));
}

TEST_F(CryptoBatch, AStepOpenSslRefusesStopsTheBatchAndIsNamed) {
  const Bytes key = random_bytes(16), iv = random_bytes(12), aad = random_bytes(5);
  const std::span<const uint8_t> k(key), i(iv);
  auto h = guest::cipher_init(*v_, {.cipher = "AES-128-GCM", .key = &k, .iv = &i, .enc = 1});
  ASSERT_TRUE(h.ok()) << h.error().message();
  // GCM takes no expected tag while sealing: the second step fails, the third never runs.
  unsigned char tag[16] = {};
  OSSL_PARAM set[] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, sizeof(tag)),
                      OSSL_PARAM_construct_end()};
  auto wire = encode_params(set);
  ASSERT_TRUE(wire.ok());
  PendingSteps steps;
  ASSERT_TRUE(steps.add_aad(aad));
  ASSERT_TRUE(steps.add_set_params(*wire));
  ASSERT_TRUE(steps.add_aad(aad));
  auto r = guest::cipher_batch(*v_, {.handle = *h, .steps = steps.wire()}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kGuestRefused);
  EXPECT_NE(r.error().message().find("at step 2 of the batch"), std::string::npos) << r.error().message();
  EXPECT_EQ(v_->state(), Virtine::State::kReady);  // OpenSSL's no, not a broken guest
}

TEST_F(CryptoBatch, AMalformedStepListIsRefusedWhole) {
  auto h = guest::cipher_init(*v_, {.cipher = "AES-128-GCM", .enc = 1});
  ASSERT_TRUE(h.ok()) << h.error().message();
  Bytes bad(sizeof(cryptine_batch_step), 0);
  const cryptine_batch_step s{99, 0, 0, 0};
  std::memcpy(bad.data(), &s, sizeof(s));
  auto r = guest::cipher_batch(*v_, {.handle = *h, .steps = bad}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kGuestFault) << r.error().message();
}

}  // namespace
}  // namespace cryptine
