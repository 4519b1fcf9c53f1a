// Known answers for the guest's operations beyond the basic protocol: params by value,
// in-place updates and EVP_Cipher (TLS records), one-shot DigestSign, key-carrying key
// operations (the retired interposers' form, which the guest still serves), named MACs.
// Each is compared with the host's libcrypto.
#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <vector>

#include "abi/guest_abi.h"
#include "shim/client/guest_ops.h"
#include "tests/kvm/crypto_guest_fixture.h"

namespace cryptine {
namespace {

using testing_support::Bytes;
using testing_support::CryptoGuest;
using testing_support::random_bytes;

class CryptoOps : public CryptoGuest {};

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

Bytes der(EVP_PKEY* key, int (*i2d)(const EVP_PKEY*, unsigned char**)) {
  unsigned char* p = nullptr;
  const int n = i2d(key, &p);
  Bytes out(p, p + (n > 0 ? n : 0));
  OPENSSL_free(p);
  return out;
}

Bytes host_digest_sign(EVP_PKEY* key, const char* md, const Bytes& msg, int padding = 0) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  size_t len = 0;
  Bytes sig;
  if (EVP_DigestSignInit_ex(ctx, &pctx, md, nullptr, nullptr, key, nullptr) > 0 &&
      (padding == 0 || EVP_PKEY_CTX_set_rsa_padding(pctx, padding) > 0) &&
      EVP_DigestSign(ctx, nullptr, &len, msg.data(), msg.size()) > 0) {
    sig.resize(len);
    if (EVP_DigestSign(ctx, sig.data(), &len, msg.data(), msg.size()) > 0)
      sig.resize(len);
    else
      sig.clear();
  }
  EVP_MD_CTX_free(ctx);
  return sig;
}

bool host_digest_verify(EVP_PKEY* key, const char* md, const Bytes& msg, const Bytes& sig, int padding) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  const bool ok = EVP_DigestVerifyInit_ex(ctx, &pctx, md, nullptr, nullptr, key, nullptr) > 0 &&
                  EVP_PKEY_CTX_set_rsa_padding(pctx, padding) > 0 &&
                  EVP_DigestVerify(ctx, sig.data(), sig.size(), msg.data(), msg.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

TEST_F(CryptoOps, CipherParamsCrossByValue) {
  const Bytes key = random_bytes(16);
  const std::span<const uint8_t> k(key);
  auto h = guest::cipher_init(*v_, {.cipher = "AES-128-GCM", .key = &k, .enc = 1});
  ASSERT_TRUE(h.ok()) << h.error().message();
  size_t ivlen = 16;
  OSSL_PARAM set[] = {OSSL_PARAM_construct_size_t(OSSL_CIPHER_PARAM_AEAD_IVLEN, &ivlen), OSSL_PARAM_construct_end()};
  auto r = guest::set_params(*v_, *h, set);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(*r, 1);
  size_t got_ivlen = 0, got_keylen = 0;
  OSSL_PARAM get[] = {OSSL_PARAM_construct_size_t(OSSL_CIPHER_PARAM_IVLEN, &got_ivlen),
                      OSSL_PARAM_construct_size_t(OSSL_CIPHER_PARAM_KEYLEN, &got_keylen), OSSL_PARAM_construct_end()};
  r = guest::get_params(*v_, *h, get);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(*r, 1);
  EXPECT_EQ(got_ivlen, 16u);
  EXPECT_EQ(got_keylen, 16u);
  EXPECT_EQ(get[0].return_size, sizeof(size_t));
  // A pointer-typed param cannot cross: refused before anything is sent.
  void* mac = nullptr;
  OSSL_PARAM ptr[] = {OSSL_PARAM_construct_octet_ptr(OSSL_CIPHER_PARAM_TLS_MAC, &mac, 16), OSSL_PARAM_construct_end()};
  EXPECT_EQ(guest::get_params(*v_, *h, ptr).error().code(), ErrorCode::kUnsupported);
}

// A TLS 1.2 AES-GCM record (explicit IV, payload, tag) sealed by the host is opened in
// place in the guest: the plaintext lands after the explicit IV, outl is its length.
TEST_F(CryptoOps, TlsGcmRecordOpensInPlace) {
  const Bytes key = random_bytes(16), fixed_iv = random_bytes(4), payload = random_bytes(100);
  unsigned char aad[13] = {0, 0, 0, 0, 0, 0, 0, 1, 23, 3, 3, 0, 0};
  const size_t record_len = 8 + payload.size() + 16;
  auto set_len = [&](size_t len) {
    aad[11] = static_cast<unsigned char>(len >> 8);
    aad[12] = static_cast<unsigned char>(len);
  };
  // Host: seal in place, as libssl does.
  Bytes record(record_len);
  std::copy(payload.begin(), payload.end(), record.begin() + 8);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int outl = 0;
  set_len(8 + payload.size());  // the provider takes the explicit IV off (and, opening, the tag)
  ASSERT_EQ(1, EVP_CipherInit_ex(ctx, EVP_aes_128_gcm(), nullptr, key.data(), nullptr, 1));
  ASSERT_EQ(1, EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IV_FIXED, 4, const_cast<uint8_t*>(fixed_iv.data())));
  ASSERT_EQ(16, EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_TLS1_AAD, 13, aad));
  ASSERT_EQ(1, EVP_CipherUpdate(ctx, record.data(), &outl, record.data(), static_cast<int>(record_len)));
  EVP_CIPHER_CTX_free(ctx);
  // Guest: open in place.
  const std::span<const uint8_t> k(key);
  auto h = guest::cipher_init(*v_, {.cipher = "AES-128-GCM", .key = &k, .enc = 0});
  ASSERT_TRUE(h.ok()) << h.error().message();
  auto fixed = guest::cipher_ctrl(*v_, *h, EVP_CTRL_GCM_SET_IV_FIXED, 4, fixed_iv, 0);
  ASSERT_TRUE(fixed.ok()) << fixed.error().message();
  set_len(record_len);
  auto pad = guest::cipher_ctrl(*v_, *h, EVP_CTRL_AEAD_TLS1_AAD, 13, {aad, 13}, 13);
  ASSERT_TRUE(pad.ok()) << pad.error().message();
  EXPECT_EQ(pad->first, 16);
  Bytes buffer(record_len + 16, 0xee);  // the whole record comes back, nothing past it
  auto opened = guest::cipher_update_in_place(*v_, *h, record, buffer);
  ASSERT_TRUE(opened.ok()) << opened.error().message();
  EXPECT_EQ(*opened, static_cast<int>(payload.size()));
  EXPECT_EQ(Bytes(buffer.begin() + 8, buffer.begin() + 8 + payload.size()), payload);
  EXPECT_EQ(Bytes(buffer.begin() + record_len, buffer.end()), Bytes(16, 0xee));
  // A record with one flipped bit fails as in OpenSSL, as a crypto error.
  record[20] ^= 1;
  auto h2 = guest::cipher_init(*v_, {.cipher = "AES-128-GCM", .key = &k, .enc = 0});
  ASSERT_TRUE(h2.ok());
  ASSERT_TRUE(guest::cipher_ctrl(*v_, *h2, EVP_CTRL_GCM_SET_IV_FIXED, 4, fixed_iv, 0).ok());
  ASSERT_TRUE(guest::cipher_ctrl(*v_, *h2, EVP_CTRL_AEAD_TLS1_AAD, 13, {aad, 13}, 13).ok());
  EXPECT_EQ(guest::cipher_update_in_place(*v_, *h2, record, buffer).error().code(), ErrorCode::kGuestRefused);
}

TEST_F(CryptoOps, EvpCipherMatchesHostInPlaceAndNot) {
  const Bytes key = random_bytes(16), iv = random_bytes(16), data = random_bytes(64);
  Bytes host(64);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  ASSERT_EQ(1, EVP_CipherInit_ex(ctx, EVP_aes_128_cbc(), nullptr, key.data(), iv.data(), 1));
  const int host_ret = EVP_Cipher(ctx, host.data(), data.data(), 64);
  EVP_CIPHER_CTX_free(ctx);
  for (bool in_place : {false, true}) {
    const std::span<const uint8_t> k(key), i(iv);
    auto h = guest::cipher_init(*v_, {.cipher = "AES-128-CBC", .key = &k, .iv = &i, .enc = 1});
    ASSERT_TRUE(h.ok()) << h.error().message();
    auto raw = guest::cipher_raw(*v_, *h, data, false, false, in_place);
    ASSERT_TRUE(raw.ok()) << raw.error().message();
    EXPECT_EQ(raw->ret, host_ret) << in_place;
    EXPECT_EQ(Bytes(raw->out.begin(), raw->out.end()), host) << in_place;
  }
}

TEST_F(CryptoOps, DigestSignWithTheKeyInTheRequestMatchesHost) {
  Pkey rsa(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}));
  Pkey ed(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  ASSERT_TRUE(rsa && ed);
  const Bytes msg = random_bytes(300), rsa_der = der(rsa.get(), i2d_PrivateKey), ed_der = der(ed.get(), i2d_PrivateKey);
  // PKCS#1 v1.5 and Ed25519 are deterministic: the same bytes as the host.
  auto sig = guest::digest_sign_with(*v_, {.key_der = rsa_der, .md = "SHA256"}, msg);
  ASSERT_TRUE(sig.ok()) << sig.error().message();
  EXPECT_EQ(*sig, host_digest_sign(rsa.get(), "SHA256", msg));
  auto ed_sig = guest::digest_sign_with(*v_, {.key_der = ed_der, .md = ""}, msg);
  ASSERT_TRUE(ed_sig.ok()) << ed_sig.error().message();
  EXPECT_EQ(*ed_sig, host_digest_sign(ed.get(), nullptr, msg));
  // PSS is randomised: the host verifies it.
  auto pss = guest::digest_sign_with(
      *v_, {.key_der = rsa_der, .md = "SHA256", .rsa_padding = RSA_PKCS1_PSS_PADDING, .pss_saltlen = -1}, msg);
  ASSERT_TRUE(pss.ok()) << pss.error().message();
  EXPECT_TRUE(host_digest_verify(rsa.get(), "SHA256", msg, *pss, RSA_PKCS1_PSS_PADDING));
  // A buffer too small for the signature fails as in OpenSSL.
  EXPECT_EQ(guest::digest_sign_with(*v_, {.key_der = rsa_der, .md = "SHA256", .capacity = 255}, msg).error().code(),
            ErrorCode::kGuestRefused);
  // No key at all is refused before anything is sent.
  EXPECT_EQ(guest::digest_sign_with(*v_, {.md = "SHA256"}, msg).error().code(), ErrorCode::kInvalidArgument);
}

TEST_F(CryptoOps, KeyOperationsWithTheKeyInTheRequestMatchHost) {
  Pkey rsa(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}));
  Pkey x1(EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519")), x2(EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519"));
  ASSERT_TRUE(rsa && x1 && x2);
  const Bytes rsa_der = der(rsa.get(), i2d_PrivateKey);
  // Sign a SHA-256 digest with PKCS#1 v1.5: deterministic.
  const Bytes digest = random_bytes(32);
  EVP_PKEY_CTX* pctx = EVP_PKEY_CTX_new(rsa.get(), nullptr);
  size_t len = 256;
  Bytes host_sig(len);
  ASSERT_TRUE(EVP_PKEY_sign_init(pctx) > 0 && EVP_PKEY_CTX_set_signature_md(pctx, EVP_sha256()) > 0 &&
              EVP_PKEY_sign(pctx, host_sig.data(), &len, digest.data(), digest.size()) > 0);
  EVP_PKEY_CTX_free(pctx);
  auto sig = guest::sign_with(*v_, {.key_der = rsa_der, .md = "SHA256"}, digest);
  ASSERT_TRUE(sig.ok()) << sig.error().message();
  EXPECT_EQ(*sig, host_sig);
  // OAEP-SHA256: the guest decrypts what the host encrypted.
  const Bytes secret = random_bytes(48);
  pctx = EVP_PKEY_CTX_new(rsa.get(), nullptr);
  Bytes ct(256);
  len = ct.size();
  ASSERT_TRUE(EVP_PKEY_encrypt_init(pctx) > 0 && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) > 0 &&
              EVP_PKEY_CTX_set_rsa_oaep_md(pctx, EVP_sha256()) > 0 &&
              EVP_PKEY_encrypt(pctx, ct.data(), &len, secret.data(), secret.size()) > 0);
  EVP_PKEY_CTX_free(pctx);
  auto pt = guest::decrypt_with(*v_, {.key_der = rsa_der, .md = "SHA256", .rsa_padding = RSA_PKCS1_OAEP_PADDING}, ct);
  ASSERT_TRUE(pt.ok()) << pt.error().message();
  EXPECT_EQ(*pt, secret);
  // X25519: the same shared secret as the host's derive.
  pctx = EVP_PKEY_CTX_new(x1.get(), nullptr);
  Bytes host_shared(32);
  len = host_shared.size();
  ASSERT_TRUE(EVP_PKEY_derive_init(pctx) > 0 && EVP_PKEY_derive_set_peer(pctx, x2.get()) > 0 &&
              EVP_PKEY_derive(pctx, host_shared.data(), &len) > 0);
  EVP_PKEY_CTX_free(pctx);
  auto shared = guest::derive_with(*v_, {.key_der = der(x1.get(), i2d_PrivateKey)}, der(x2.get(), i2d_PUBKEY));
  ASSERT_TRUE(shared.ok()) << shared.error().message();
  EXPECT_EQ(*shared, host_shared);
}

// HMAC computed by the host's libcrypto (empty if it failed).
Bytes host_hmac(const char* md, const Bytes& key, const Bytes& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  size_t len = 0;
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, md, nullptr, key.data(), key.size(), data.data(), data.size(), out,
                sizeof(out), &len) == nullptr)
    return {};
  return Bytes(out, out + len);
}

// An HMAC context in the guest whose digest is named by a param (as libssl and the KDFs
// name it), then keyed; an error if the guest's OpenSSL did not take the param.
Result<guest::Handle> keyed_hmac(Virtine& v, const char* md_name, const Bytes& key) {
  const guest::Handle h = CRYPTINE_TRY(guest::mac_new(v, "HMAC"));
  std::string md(md_name);
  OSSL_PARAM digest[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, md.data(), 0),
                         OSSL_PARAM_construct_end()};
  const int set = CRYPTINE_TRY(guest::set_params(v, h, digest));
  if (set != 1) return Error(ErrorCode::kGuestRefused, "set_params returned " + std::to_string(set));
  const std::span<const uint8_t> k(key);
  CRYPTINE_TRY_STATUS(guest::mac_start(v, h, &k, nullptr));
  return h;
}

TEST_F(CryptoOps, NamedMacWithParamsMatchesHostHmac) {
  const Bytes key = random_bytes(40), data = random_bytes(1000);
  const Bytes host = host_hmac("SHA384", key, data);
  auto h = keyed_hmac(*v_, "SHA384", key);
  ASSERT_TRUE(h.ok()) << h.error().message();
  size_t size = 0;
  OSSL_PARAM get[] = {OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size), OSSL_PARAM_construct_end()};
  ASSERT_TRUE(guest::get_params(*v_, *h, get).ok());
  EXPECT_EQ(size, 48u);
  ASSERT_TRUE(guest::mac_update(*v_, *h, data).ok());
  auto mac = guest::mac_final(*v_, *h, 47);  // one byte short: refused as OpenSSL does
  EXPECT_EQ(mac.error().code(), ErrorCode::kGuestRefused);
  mac = guest::mac_final(*v_, *h, 48);
  ASSERT_TRUE(mac.ok()) << mac.error().message();
  EXPECT_EQ(*mac, host);
}

// MAC_RUN: a held init with its key, the input and the final in one exit; an init without
// a key keeps the context's key; a run without a final returns nothing, and the context's
// own final then finishes it; a wrong handle is the guest losing a context.
TEST_F(CryptoOps, MacRunDoesInitUpdateAndFinalInOneExit) {
  const Bytes key = random_bytes(40), data = random_bytes(3000), other = random_bytes(20);
  auto h = keyed_hmac(*v_, "SHA256", other);
  ASSERT_TRUE(h.ok()) << h.error().message();
  const std::span<const uint8_t> k(key);
  uint64_t exits = v_->counters().exits;
  auto mac = guest::mac_run(*v_, *h, {.key = &k, .data = data, .final_capacity = 64});
  ASSERT_TRUE(mac.ok()) << mac.error().message();
  EXPECT_EQ(*mac, host_hmac("SHA256", key, data));
  EXPECT_EQ(v_->counters().exits - exits, 1u);

  exits = v_->counters().exits;
  mac = guest::mac_run(*v_, *h, {.data = other, .final_capacity = 32});
  ASSERT_TRUE(mac.ok()) << mac.error().message();
  EXPECT_EQ(*mac, host_hmac("SHA256", key, other));  // the key of the run before
  EXPECT_EQ(v_->counters().exits - exits, 1u);

  mac = guest::mac_run(*v_, *h, {.data = data});
  ASSERT_TRUE(mac.ok()) << mac.error().message();
  EXPECT_TRUE(mac->empty());
  ASSERT_TRUE(guest::mac_update(*v_, *h, other).ok());
  mac = guest::mac_final(*v_, *h, 32);
  ASSERT_TRUE(mac.ok()) << mac.error().message();
  Bytes both = data;
  both.insert(both.end(), other.begin(), other.end());
  EXPECT_EQ(*mac, host_hmac("SHA256", key, both));

  mac = guest::mac_run(*v_, *h, {.data = data, .final_capacity = 31});  // one byte short
  EXPECT_EQ(mac.error().code(), ErrorCode::kGuestRefused);
  mac = guest::mac_run(*v_, *h + 1, {.data = data, .final_capacity = 32});
  EXPECT_EQ(mac.error().code(), ErrorCode::kGuestFault);
}

// One request derives with a KDF in a fresh guest context: HKDF with two info params (which
// OpenSSL concatenates), and the KDF's refusal of a missing digest as the guest's answer.
TEST_F(CryptoOps, KdfDerivesInOneRequestLikeTheHost) {
  char digest[] = "SHA256";
  unsigned char key[] = "input keying material", salt[] = "salt", info1[] = "in", info2[] = "fo";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, key, sizeof(key) - 1),
                         OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt, sizeof(salt) - 1),
                         OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info1, sizeof(info1) - 1),
                         OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info2, sizeof(info2) - 1),
                         OSSL_PARAM_construct_end()};
  Bytes host(42);
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
  ASSERT_EQ(EVP_KDF_derive(ctx, host.data(), host.size(), params), 1);
  EVP_KDF_CTX_free(ctx);
  EVP_KDF_free(kdf);
  const uint64_t exits = v_->counters().exits;
  auto derived = guest::kdf_derive(*v_, "HKDF", params, 42);
  ASSERT_TRUE(derived.ok()) << derived.error().message();
  EXPECT_EQ(*derived, host);
  EXPECT_EQ(v_->counters().exits - exits, 1u);
  derived = guest::kdf_derive(*v_, "HKDF", &params[1], 42);  // no digest
  ASSERT_FALSE(derived.ok());
  EXPECT_EQ(derived.error().code(), ErrorCode::kGuestRefused);
}

// OpenSSL reads a digest name as a C string. "SHA2-256" is eight bytes, so before the wire
// gave every value a NUL, what the previous request left in the mailbox after it was read
// as part of the name (TLS 1.2's PRF failed so under scope thread).
TEST_F(CryptoOps, ANameOfEightBytesIsReadWithoutWhatFollowsIt) {
  const Bytes key = random_bytes(32), data = random_bytes(100);
  auto filler = guest::digest(*v_, "SHA256", Bytes(4096, 'X'));  // the mailbox full of 'X'
  ASSERT_TRUE(filler.ok()) << filler.error().message();
  const Bytes host = host_hmac("SHA256", key, data);
  auto h = keyed_hmac(*v_, "SHA2-256", key);  // fails unless the guest took the name
  ASSERT_TRUE(h.ok()) << h.error().message();
  ASSERT_TRUE(guest::mac_update(*v_, *h, data).ok());
  auto mac = guest::mac_final(*v_, *h, 32);
  ASSERT_TRUE(mac.ok()) << mac.error().message();
  EXPECT_EQ(*mac, host);
}

// A full context table is said as such; nothing is lost and the virtine lives on.
TEST_F(CryptoOps, AFullContextTableIsSaidAndTheVirtineLivesOn) {
  std::vector<guest::Handle> handles;
  for (int i = 0; i < CRYPTINE_MAX_HANDLES; ++i) {
    auto h = guest::digest_init(*v_, "SHA256");
    ASSERT_TRUE(h.ok()) << i << ": " << h.error().message();
    handles.push_back(*h);
  }
  auto full = guest::digest_init(*v_, "SHA256");
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code(), ErrorCode::kOutOfRange);
  EXPECT_NE(full.error().message().find("256 live contexts"), std::string::npos) << full.error().message();
  EXPECT_EQ(v_->state(), Virtine::State::kReady);
  ASSERT_TRUE(guest::free_handle(*v_, handles.back()).ok());
  auto again = guest::digest_init(*v_, "SHA256");
  ASSERT_TRUE(again.ok()) << again.error().message();
  ASSERT_TRUE(guest::digest_update(*v_, *again, Bytes{'a', 'b', 'c'}).ok());
  auto md = guest::digest_final(*v_, *again);
  ASSERT_TRUE(md.ok()) << md.error().message();
  EXPECT_EQ((*md)[0], 0xba);  // SHA-256("abc") = ba7816bf...
  EXPECT_EQ((*md)[31], 0xad);
}

// The host names only handles the guest gave it: a guest that says it has no such context
// has lost track of its own state, so its virtine is poisoned, not reused.
TEST_F(CryptoOps, AGuestThatLostAHandleIsPoisoned) {
  auto freed = guest::free_handle(*v_, 4242);
  ASSERT_FALSE(freed.ok());
  EXPECT_EQ(freed.error().code(), ErrorCode::kGuestFault) << freed.error().message();
  EXPECT_EQ(v_->state(), Virtine::State::kPoisoned);
  EXPECT_FALSE(v_->reset().ok());  // never back into a pool
}

}  // namespace
}  // namespace cryptine
