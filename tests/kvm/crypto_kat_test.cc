// Known-answer tests: every operation of the protocol runs in a virtine and its bytes
// are compared with the host's own libcrypto on the same inputs (edge-case and random
// lengths, including the largest that fits one request and one more, which is split),
// and with published vectors for AES-GCM, SHA-256 and HMAC-SHA-256.
#include <gtest/gtest.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <string>
#include <vector>

#include "shim/client/guest_ops.h"
#include "tests/kvm/crypto_guest_fixture.h"

namespace cryptine {
namespace {

using testing_support::Bytes;
using testing_support::CryptoGuest;
using testing_support::from_hex;
using testing_support::random_bytes;

// Lengths at the edges: empty, around a block, block multiples, and around the largest
// one-shot request (max_request_input(64): one more is split into updates).
std::vector<size_t> edge_lengths(uint64_t fixed) {
  const size_t largest = static_cast<size_t>(max_request_input(fixed));
  return {0, 1, 15, 16, 17, 32, 64, 1000, 4096, largest, largest + 1};
}

Bytes host_digest(const char* md, const Bytes& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EXPECT_EQ(1, EVP_Digest(data.data(), data.size(), out, &len, EVP_get_digestbyname(md), nullptr));
  return Bytes(out, out + len);
}

Bytes host_hmac(const char* md, const Bytes& key, const Bytes& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  static const unsigned char no_key[1] = {0};  // HMAC() refuses a NULL key, even an empty one
  EXPECT_NE(nullptr, HMAC(EVP_get_digestbyname(md), key.empty() ? no_key : key.data(), static_cast<int>(key.size()),
                          data.data(), data.size(), out, &len));
  return Bytes(out, out + len);
}

const char* const kDigests[] = {"SHA1", "SHA224", "SHA256", "SHA384", "SHA512", "SHA3-256"};

using CryptoKat = CryptoGuest;

TEST_F(CryptoKat, Sha256PublishedVectors) {
  const std::string abc = "abc";
  auto d = guest::digest(*v_, "SHA256", {reinterpret_cast<const uint8_t*>(abc.data()), abc.size()});
  ASSERT_TRUE(d.ok()) << d.error().message();
  EXPECT_EQ(*d, from_hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
  auto empty = guest::digest(*v_, "SHA256", {});
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, from_hex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
}

TEST_F(CryptoKat, DigestsMatchHostAtEdgeLengths) {
  for (const char* md : kDigests) {
    for (size_t len : edge_lengths(guest::kMaxDigest)) {
      const Bytes data = random_bytes(len);
      auto d = guest::digest(*v_, md, data);
      ASSERT_TRUE(d.ok()) << md << " " << len << ": " << d.error().message();
      EXPECT_EQ(*d, host_digest(md, data)) << md << " of " << len << " bytes";
    }
  }
}

TEST_F(CryptoKat, StreamingDigestAndCopyMatchHost) {
  const Bytes a = random_bytes(300), b = random_bytes(77);
  auto h = guest::digest_init(*v_, "SHA384");
  ASSERT_TRUE(h.ok());
  ASSERT_TRUE(guest::digest_update(*v_, *h, a).ok());
  auto copy = guest::copy_context(*v_, *h);
  ASSERT_TRUE(copy.ok());
  ASSERT_TRUE(guest::digest_update(*v_, *h, b).ok());
  Bytes ab = a;
  ab.insert(ab.end(), b.begin(), b.end());
  EXPECT_EQ(*guest::digest_final(*v_, *h), host_digest("SHA384", ab));
  EXPECT_EQ(*guest::digest_final(*v_, *copy), host_digest("SHA384", a));
  EXPECT_TRUE(guest::free_handle(*v_, *h).ok());
  EXPECT_FALSE(guest::free_handle(*v_, *h).ok());  // freed: the handle is gone
  EXPECT_FALSE(guest::digest_update(*v_, 12345, a).ok());
}

TEST_F(CryptoKat, HmacSha256PublishedVector) {
  // RFC 4231, test case 2.
  const std::string key = "Jefe", data = "what do ya want for nothing?";
  auto mac = guest::hmac(*v_, "SHA256", {reinterpret_cast<const uint8_t*>(key.data()), key.size()},
                         {reinterpret_cast<const uint8_t*>(data.data()), data.size()});
  ASSERT_TRUE(mac.ok()) << mac.error().message();
  EXPECT_EQ(*mac, from_hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"));
}

TEST_F(CryptoKat, HmacsMatchHost) {
  for (const char* md : kDigests) {
    for (size_t key_len : {0, 1, 64, 65, 200}) {
      for (size_t len :
           {size_t{0}, size_t{1}, size_t{17}, size_t{1000}, size_t{max_request_input(guest::kMaxDigest)}}) {
        const Bytes key = random_bytes(key_len);
        const Bytes data = random_bytes(len - (len > key_len ? key_len : 0));
        auto mac = guest::hmac(*v_, md, key, data);
        ASSERT_TRUE(mac.ok()) << md << ": " << mac.error().message();
        EXPECT_EQ(*mac, host_hmac(md, key, data)) << md << " key " << key_len << " data " << data.size();
      }
    }
  }
}

// Host-side reference: one EVP cipher pass, with AAD and tag for AEAD modes.
struct Sealed {
  Bytes out, tag;
};
Sealed host_encrypt(const char* name, const Bytes& key, const Bytes& iv, const Bytes& aad, const Bytes& in) {
  const EVP_CIPHER* c = EVP_get_cipherbyname(name);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  Sealed s;
  s.out.resize(in.size() + 32);
  int n = 0, f = 0;
  EXPECT_EQ(1, EVP_EncryptInit_ex(ctx, c, nullptr, key.data(), iv.empty() ? nullptr : iv.data()));
  if (!aad.empty()) {
    EXPECT_EQ(1, EVP_EncryptUpdate(ctx, nullptr, &n, aad.data(), static_cast<int>(aad.size())));
  }
  EXPECT_EQ(1, EVP_EncryptUpdate(ctx, s.out.data(), &n, in.data(), static_cast<int>(in.size())));
  EXPECT_EQ(1, EVP_EncryptFinal_ex(ctx, s.out.data() + n, &f));
  s.out.resize(static_cast<size_t>(n + f));
  if (EVP_CIPHER_get_flags(c) & EVP_CIPH_FLAG_AEAD_CIPHER) {
    s.tag.resize(16);
    EXPECT_EQ(1, EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, s.tag.data()));
  }
  EVP_CIPHER_CTX_free(ctx);
  return s;
}

// The same through the guest: init, AAD, update (split when large), final, tag.
Result<Sealed> guest_encrypt(Virtine& v, const char* name, const Bytes& key, const Bytes& iv, const Bytes& aad,
                             const Bytes& in, bool aead) {
  std::span<const uint8_t> k = key, i = iv;
  guest::Handle h = CRYPTINE_TRY(guest::cipher_init(v, {0, name, &k, iv.empty() ? nullptr : &i, 1}));
  if (!aad.empty()) CRYPTINE_TRY(guest::cipher_aad(v, h, aad));
  Sealed s;
  s.out = CRYPTINE_TRY(guest::cipher_update(v, h, in));
  Bytes fin = CRYPTINE_TRY(guest::cipher_final(v, h));
  s.out.insert(s.out.end(), fin.begin(), fin.end());
  if (aead) s.tag = CRYPTINE_TRY(guest::cipher_ctrl(v, h, EVP_CTRL_AEAD_GET_TAG, 16, {}, 16)).second;
  CRYPTINE_TRY_STATUS(guest::free_handle(v, h));
  return s;
}

Result<Bytes> guest_decrypt(Virtine& v, const char* name, const Bytes& key, const Bytes& iv, const Bytes& aad,
                            const Bytes& in, const Bytes& tag) {
  std::span<const uint8_t> k = key, i = iv;
  guest::Handle h = CRYPTINE_TRY(guest::cipher_init(v, {0, name, &k, iv.empty() ? nullptr : &i, 0}));
  if (!tag.empty()) {
    auto set = CRYPTINE_TRY(guest::cipher_ctrl(v, h, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(tag.size()), tag, 0));
    if (set.first != 1) return Error(ErrorCode::kGuestRefused, "SET_TAG refused");
  }
  if (!aad.empty()) CRYPTINE_TRY(guest::cipher_aad(v, h, aad));
  Bytes out = CRYPTINE_TRY(guest::cipher_update(v, h, in));
  auto fin = guest::cipher_final(v, h);
  CRYPTINE_TRY_STATUS(guest::free_handle(v, h));
  if (!fin.ok()) return std::move(fin).error();
  out.insert(out.end(), fin->begin(), fin->end());
  return out;
}

TEST_F(CryptoKat, AesGcmPublishedVector) {
  // The GCM specification's test case 4 (AES-128, 60-byte plaintext, 20-byte AAD).
  const Bytes key = from_hex("feffe9928665731c6d6a8f9467308308"), iv = from_hex("cafebabefacedbaddecaf888");
  const Bytes aad = from_hex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  const Bytes pt = from_hex(
      "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de"
      "657ba637b39");
  auto s = guest_encrypt(*v_, "AES-128-GCM", key, iv, aad, pt, true);
  ASSERT_TRUE(s.ok()) << s.error().message();
  EXPECT_EQ(s->out, from_hex("42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5a"
                             "ac84aa051ba30b396a0aac973d58e091"));
  EXPECT_EQ(s->tag, from_hex("5bc94fbc3221a5db94fae95ae7121a47"));
}

struct CipherCase {
  const char* name;
  size_t key_len, iv_len;
  bool aead;
};
const CipherCase kCiphers[] = {
    {"AES-128-ECB", 16, 0, false},       {"AES-192-ECB", 24, 0, false},  {"AES-256-ECB", 32, 0, false},
    {"AES-128-CBC", 16, 16, false},      {"AES-192-CBC", 24, 16, false}, {"AES-256-CBC", 32, 16, false},
    {"AES-128-CTR", 16, 16, false},      {"AES-192-CTR", 24, 16, false}, {"AES-256-CTR", 32, 16, false},
    {"AES-128-GCM", 16, 12, true},       {"AES-192-GCM", 24, 12, true},  {"AES-256-GCM", 32, 12, true},
    {"ChaCha20-Poly1305", 32, 12, true},
};

TEST_F(CryptoKat, CiphersMatchHostAtEdgeLengthsAndRoundTrip) {
  // An update carries in + out + one block: its largest input is half the payload.
  const size_t largest = static_cast<size_t>(max_request_input(guest::kMaxBlock) / 2);
  for (const CipherCase& c : kCiphers) {
    for (size_t len :
         {size_t{0}, size_t{1}, size_t{15}, size_t{16}, size_t{17}, size_t{64}, size_t{1000}, largest, largest + 1}) {
      const Bytes key = random_bytes(c.key_len), iv = random_bytes(c.iv_len), pt = random_bytes(len);
      const Bytes aad = c.aead ? random_bytes(len % 29) : Bytes{};
      const Sealed want = host_encrypt(c.name, key, iv, aad, pt);
      auto got = guest_encrypt(*v_, c.name, key, iv, aad, pt, c.aead);
      ASSERT_TRUE(got.ok()) << c.name << " " << len << ": " << got.error().message();
      EXPECT_EQ(got->out, want.out) << c.name << " of " << len << " bytes";
      EXPECT_EQ(got->tag, want.tag) << c.name << " tag, " << len << " bytes";
      auto back = guest_decrypt(*v_, c.name, key, iv, aad, want.out, want.tag);
      ASSERT_TRUE(back.ok()) << c.name << " decrypt " << len << ": " << back.error().message();
      EXPECT_EQ(*back, pt) << c.name << " round trip of " << len << " bytes";
    }
  }
}

TEST_F(CryptoKat, AeadRejectsAWrongTagAsOpenSslDoes) {
  const Bytes key = random_bytes(16), iv = random_bytes(12), pt = random_bytes(100);
  Sealed s = host_encrypt("AES-128-GCM", key, iv, {}, pt);
  s.tag[0] ^= 1;
  auto back = guest_decrypt(*v_, "AES-128-GCM", key, iv, {}, s.out, s.tag);
  ASSERT_FALSE(back.ok());
  EXPECT_EQ(back.error().code(), ErrorCode::kGuestRefused);
}

TEST_F(CryptoKat, WrongKeyLengthOrUnknownAlgorithmIsACryptoError) {
  auto unknown = guest::digest(*v_, "NO-SUCH-DIGEST", {});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code(), ErrorCode::kGuestRefused);
  EXPECT_NE(unknown.error().detail(), 0u);  // OpenSSL's error code came back
  // The virtine stays usable after OpenSSL said no.
  EXPECT_TRUE(guest::digest(*v_, "SHA256", {}).ok());
}

// ---- private-key operations ------------------------------------------------------------

EVP_PKEY* host_keygen(const char* type, int bits_or_nid) {
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
  EVP_PKEY* key = nullptr;
  EXPECT_EQ(1, EVP_PKEY_keygen_init(ctx));
  if (std::string(type) == "RSA") {
    EXPECT_EQ(1, EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, bits_or_nid));
  }
  if (std::string(type) == "EC") {
    EXPECT_EQ(1, EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx, bits_or_nid));
  }
  EXPECT_EQ(1, EVP_PKEY_keygen(ctx, &key));
  EVP_PKEY_CTX_free(ctx);
  return key;
}

Bytes private_pem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  EXPECT_EQ(1, PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr));
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  Bytes out(data, data + len);
  BIO_free(bio);
  return out;
}

// DER of a key through one of OpenSSL's i2d functions (private or public form).
template <typename I2d>
Bytes der_of(EVP_PKEY* key, I2d i2d) {
  unsigned char* der = nullptr;
  int len = i2d(key, &der);
  EXPECT_GT(len, 0);
  Bytes out(der, der + (len > 0 ? len : 0));
  OPENSSL_free(der);
  return out;
}
Bytes private_der(EVP_PKEY* key) {
  return der_of(key, i2d_PrivateKey);
}
Bytes public_der(EVP_PKEY* key) {
  return der_of(key, i2d_PUBKEY);
}

bool host_verify(EVP_PKEY* key, const char* md, const Bytes& digest, const Bytes& sig, int padding = 0) {
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(key, nullptr);
  bool ok = EVP_PKEY_verify_init(ctx) == 1 && EVP_PKEY_CTX_set_signature_md(ctx, EVP_get_digestbyname(md)) == 1;
  if (padding) ok = ok && EVP_PKEY_CTX_set_rsa_padding(ctx, padding) == 1;
  if (padding == RSA_PKCS1_PSS_PADDING) ok = ok && EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_DIGEST) == 1;
  ok = ok && EVP_PKEY_verify(ctx, sig.data(), sig.size(), digest.data(), digest.size()) == 1;
  EVP_PKEY_CTX_free(ctx);
  return ok;
}

TEST_F(CryptoKat, RandomBytesDifferBetweenVirtinesFromOneSnapshot) {
  auto other = fresh();
  ASSERT_NE(other, nullptr);
  auto a = guest::random_bytes(*v_, 64);
  auto b = guest::random_bytes(*other, 64);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->size(), 64u);
  EXPECT_NE(*a, *b);
  // And a reset virtine does not replay its own earlier stream either.
  ASSERT_TRUE(v_->reset().ok());
  auto again = guest::random_bytes(*v_, 64);
  ASSERT_TRUE(again.ok());
  EXPECT_NE(*again, *a);
}

TEST_F(CryptoKat, EcdsaSignaturesFromTwoVirtinesDifferAndBothVerify) {
  for (int nid : {NID_X9_62_prime256v1, NID_secp384r1}) {
    EVP_PKEY* key = host_keygen("EC", nid);
    const Bytes pem = private_pem(key);
    const Bytes digest = host_digest("SHA256", random_bytes(100));
    auto other = fresh();
    ASSERT_NE(other, nullptr);
    auto ka = guest::import_private_key(*v_, pem);
    auto kb = guest::import_private_key(*other, pem);
    ASSERT_TRUE(ka.ok() && kb.ok()) << (ka.ok() ? kb.error().message() : ka.error().message());
    EXPECT_EQ(ka->type, EVP_PKEY_EC);
    auto sa = guest::sign(*v_, ka->handle, "SHA256", digest);
    auto sb = guest::sign(*other, kb->handle, "SHA256", digest);
    ASSERT_TRUE(sa.ok() && sb.ok());
    EXPECT_NE(*sa, *sb) << "two virtines from one snapshot reused the ECDSA nonce";
    EXPECT_TRUE(host_verify(key, "SHA256", digest, *sa));
    EXPECT_TRUE(host_verify(key, "SHA256", digest, *sb));
    EVP_PKEY_free(key);
  }
}

TEST_F(CryptoKat, RsaSignAndDecryptMatchHost) {
  for (int bits : {2048, 3072, 4096}) {
    EVP_PKEY* key = host_keygen("RSA", bits);
    auto k = guest::import_private_key(*v_, private_der(key));
    ASSERT_TRUE(k.ok()) << k.error().message();
    EXPECT_EQ(k->bits, bits);
    const Bytes digest = host_digest("SHA256", random_bytes(50));
    // PKCS#1 v1.5 signatures are deterministic: the bytes must equal the host's.
    auto sig = guest::sign(*v_, k->handle, "SHA256", digest, RSA_PKCS1_PADDING);
    ASSERT_TRUE(sig.ok()) << sig.error().message();
    {
      EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(key, nullptr);
      size_t len = 1024;
      Bytes want(len);
      ASSERT_EQ(1, EVP_PKEY_sign_init(ctx));
      ASSERT_EQ(1, EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()));
      ASSERT_EQ(1, EVP_PKEY_sign(ctx, want.data(), &len, digest.data(), digest.size()));
      want.resize(len);
      EVP_PKEY_CTX_free(ctx);
      EXPECT_EQ(*sig, want) << "RSA-" << bits;
    }
    auto pss = guest::sign(*v_, k->handle, "SHA256", digest, RSA_PKCS1_PSS_PADDING, RSA_PSS_SALTLEN_DIGEST);
    ASSERT_TRUE(pss.ok()) << pss.error().message();
    EXPECT_TRUE(host_verify(key, "SHA256", digest, *pss, RSA_PKCS1_PSS_PADDING));

    for (int padding : {RSA_PKCS1_PADDING, RSA_PKCS1_OAEP_PADDING}) {
      const Bytes secret = random_bytes(32);
      EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(key, nullptr);
      size_t len = 1024;
      Bytes ct(len);
      ASSERT_EQ(1, EVP_PKEY_encrypt_init(ctx));
      ASSERT_EQ(1, EVP_PKEY_CTX_set_rsa_padding(ctx, padding));
      if (padding == RSA_PKCS1_OAEP_PADDING) {
        ASSERT_EQ(1, EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()));
      }
      if (padding == RSA_PKCS1_OAEP_PADDING) {
        ASSERT_EQ(1, EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()));
      }
      ASSERT_EQ(1, EVP_PKEY_encrypt(ctx, ct.data(), &len, secret.data(), secret.size()));
      ct.resize(len);
      EVP_PKEY_CTX_free(ctx);
      auto pt = guest::decrypt(*v_, k->handle, ct, padding, padding == RSA_PKCS1_OAEP_PADDING ? "SHA256" : "");
      ASSERT_TRUE(pt.ok()) << pt.error().message();
      EXPECT_EQ(*pt, secret) << "RSA-" << bits << " padding " << padding;
    }
    EVP_PKEY_free(key);
  }
}

// The guest keeps a key's signing context for the next SIGN with the same options: each
// signature still follows its own request's digest, padding and salt length, and one that
// fails leaves the next one unharmed.
TEST_F(CryptoKat, SignaturesByOneKeyFollowEachRequestsOptions) {
  EVP_PKEY* key = host_keygen("RSA", 2048);
  auto k = guest::import_private_key(*v_, private_der(key));
  ASSERT_TRUE(k.ok()) << k.error().message();
  const Bytes d256 = host_digest("SHA256", random_bytes(50)), d384 = host_digest("SHA384", random_bytes(50));
  auto host_sign = [&](const char* md, const Bytes& digest) {
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(key, nullptr);
    size_t len = 1024;
    Bytes want(len);
    const bool ok = EVP_PKEY_sign_init(ctx) == 1 && EVP_PKEY_CTX_set_signature_md(ctx, EVP_get_digestbyname(md)) == 1 &&
                    EVP_PKEY_sign(ctx, want.data(), &len, digest.data(), digest.size()) == 1;
    EVP_PKEY_CTX_free(ctx);
    want.resize(ok ? len : 0);
    return want;
  };
  for (int round = 0; round < 2; ++round) {
    auto a = guest::sign(*v_, k->handle, "SHA256", d256, RSA_PKCS1_PADDING);
    ASSERT_TRUE(a.ok()) << a.error().message();
    EXPECT_EQ(*a, host_sign("SHA256", d256));
    auto pss = guest::sign(*v_, k->handle, "SHA256", d256, RSA_PKCS1_PSS_PADDING, RSA_PSS_SALTLEN_DIGEST);
    ASSERT_TRUE(pss.ok()) << pss.error().message();
    EXPECT_TRUE(host_verify(key, "SHA256", d256, *pss, RSA_PKCS1_PSS_PADDING));
    auto b = guest::sign(*v_, k->handle, "SHA384", d384, RSA_PKCS1_PADDING);
    ASSERT_TRUE(b.ok()) << b.error().message();
    EXPECT_EQ(*b, host_sign("SHA384", d384));
    // A SHA-384 context asked to sign a SHA-256 digest: OpenSSL refuses, and the next
    // signature with the same options is made as before.
    EXPECT_EQ(guest::sign(*v_, k->handle, "SHA384", d256, RSA_PKCS1_PADDING).error().code(), ErrorCode::kGuestRefused);
    auto again = guest::sign(*v_, k->handle, "SHA384", d384, RSA_PKCS1_PADDING);
    ASSERT_TRUE(again.ok()) << again.error().message();
    EXPECT_EQ(*again, *b);
  }
  EVP_PKEY_free(key);
  // ECDSA with a kept context still draws a fresh nonce for each signature.
  key = host_keygen("EC", NID_X9_62_prime256v1);
  auto ec = guest::import_private_key(*v_, private_pem(key));
  ASSERT_TRUE(ec.ok()) << ec.error().message();
  auto s1 = guest::sign(*v_, ec->handle, "", d256);
  auto s2 = guest::sign(*v_, ec->handle, "", d256);
  ASSERT_TRUE(s1.ok() && s2.ok());
  EXPECT_NE(*s1, *s2);
  EXPECT_TRUE(host_verify(key, "SHA256", d256, *s1));
  EXPECT_TRUE(host_verify(key, "SHA256", d256, *s2));
  EVP_PKEY_free(key);
}

TEST_F(CryptoKat, X25519AndEcdhDeriveMatchHost) {
  struct {
    const char* type;
    int nid;
  } kinds[] = {{"X25519", 0}, {"EC", NID_X9_62_prime256v1}};
  for (const auto& kind : kinds) {
    EVP_PKEY* mine = host_keygen(kind.type, kind.nid);
    EVP_PKEY* peer = host_keygen(kind.type, kind.nid);
    auto k = guest::import_private_key(*v_, private_der(mine));
    ASSERT_TRUE(k.ok()) << kind.type << ": " << k.error().message();
    auto secret = guest::derive(*v_, k->handle, public_der(peer));
    ASSERT_TRUE(secret.ok()) << kind.type << ": " << secret.error().message();
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(peer, nullptr);
    size_t len = 256;
    Bytes want(len);
    ASSERT_EQ(1, EVP_PKEY_derive_init(ctx));
    ASSERT_EQ(1, EVP_PKEY_derive_set_peer(ctx, mine));
    ASSERT_EQ(1, EVP_PKEY_derive(ctx, want.data(), &len));
    want.resize(len);
    EVP_PKEY_CTX_free(ctx);
    EXPECT_EQ(*secret, want) << kind.type;
    EVP_PKEY_free(mine);
    EVP_PKEY_free(peer);
  }
}

}  // namespace
}  // namespace cryptine
