// CIPHER_BATCH against the host's libcrypto: recorded steps (init, AAD, set params) and an
// update or a final with its tag in one request give the host's bytes and tag; a step the
// guest's OpenSSL refuses stops the batch and is named; a malformed step list is refused.
#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <cstring>
#include <vector>

#include "shim/client/batch_wire.h"
#include "shim/client/guest_ops.h"
#include "shim/client/param_wire.h"
#include "tests/kvm/crypto_guest_fixture.h"
#include "abi/guest_abi.h"

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
  EXPECT_EQ(r.error().code(), ErrorCode::kCryptoFailed);
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
