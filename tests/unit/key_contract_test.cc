// The provider's key contract: what a key's guest may answer, at each boundary (exact fit,
// one past, one short), and the lies it could tell about a key or an output's length.
#include "shim/provider/key_contract.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <vector>

namespace cryptine::provider {
namespace {

constexpr KeyFacts kRsa2048{KeyKind::kRsa, EVP_PKEY_RSA, 2048, 256, 0};
constexpr KeyFacts kP256{KeyKind::kEc, EVP_PKEY_EC, 256, 72, 32};
constexpr KeyFacts kEd25519{KeyKind::kEd25519, EVP_PKEY_ED25519, 256, 64, 0};
constexpr KeyFacts kX25519{KeyKind::kX25519, EVP_PKEY_X25519, 253, 32, 32};

bool lie(const Status& s) {
  return !s.ok() && s.error().code() == ErrorCode::kGuestFault;
}

// A signature of `len` bytes; for ECDSA (der) a SEQUENCE whose length says `len`.
std::vector<uint8_t> sig(size_t len, bool der = false) {
  std::vector<uint8_t> s(len, 0x5a);
  if (der && len >= 2) {
    s[0] = 0x30;
    if (len - 2 < 0x80) {
      s[1] = static_cast<uint8_t>(len - 2);
    } else {
      s[1] = 0x81;
      s[2] = static_cast<uint8_t>(len - 3);
    }
  }
  return s;
}

TEST(KeyContract, AnImportMustBeTheSameKeyAsOnTheHost) {
  EXPECT_TRUE(check_import(kRsa2048, EVP_PKEY_RSA, 2048, 256).ok());
  EXPECT_TRUE(lie(check_import(kRsa2048, EVP_PKEY_EC, 2048, 256)));
  EXPECT_TRUE(lie(check_import(kRsa2048, EVP_PKEY_RSA, 2047, 256)));
  EXPECT_TRUE(lie(check_import(kRsa2048, EVP_PKEY_RSA, 2048, 257)));
  EXPECT_TRUE(lie(check_import(kRsa2048, EVP_PKEY_RSA, 2048, -1)));
  EXPECT_TRUE(check_import(kP256, EVP_PKEY_EC, 256, 72).ok());
}

TEST(KeyContract, AnRsaSignatureIsExactlyTheModulusSize) {
  EXPECT_TRUE(check_signature(kRsa2048, sig(256), 256).ok());
  EXPECT_TRUE(lie(check_signature(kRsa2048, sig(255), 256)));
  EXPECT_TRUE(lie(check_signature(kRsa2048, sig(257), 1024)));
  EXPECT_TRUE(lie(check_signature(kRsa2048, sig(0), 256)));
  EXPECT_TRUE(lie(check_signature(kRsa2048, sig(256), 255)));  // past the buffer
}

TEST(KeyContract, AnEcdsaSignatureIsDerUpToTheMaximum) {
  EXPECT_TRUE(check_signature(kP256, sig(72, true), 72).ok());
  EXPECT_TRUE(check_signature(kP256, sig(70, true), 72).ok());
  EXPECT_TRUE(check_signature(kP256, sig(8, true), 72).ok());
  EXPECT_TRUE(lie(check_signature(kP256, sig(7, true), 72)));
  EXPECT_TRUE(lie(check_signature(kP256, sig(73, true), 1024)));
  EXPECT_TRUE(lie(check_signature(kP256, sig(71, true), 70)));
}

TEST(KeyContract, AnEcdsaSignatureIsExactlyItsDerLength) {
  std::vector<uint8_t> longer = sig(70, true);
  longer.push_back(0);  // a byte the guest added: within the maximum, but not DER's
  EXPECT_TRUE(lie(check_signature(kP256, longer, 72)));
  std::vector<uint8_t> shorter = sig(71, true);
  shorter.pop_back();
  EXPECT_TRUE(lie(check_signature(kP256, shorter, 72)));
  EXPECT_TRUE(lie(check_signature(kP256, sig(70), 72)));  // not a SEQUENCE
  constexpr KeyFacts kP521{KeyKind::kEc, EVP_PKEY_EC, 521, 139, 66};
  EXPECT_TRUE(check_signature(kP521, sig(139, true), 139).ok());  // the long form
}

TEST(KeyContract, AnEd25519SignatureIs64Bytes) {
  EXPECT_TRUE(check_signature(kEd25519, sig(64), 64).ok());
  EXPECT_TRUE(lie(check_signature(kEd25519, sig(63), 64)));
  EXPECT_TRUE(lie(check_signature(kEd25519, sig(65), 128)));
}

TEST(KeyContract, AKeyExchangeKeyDoesNotSign) {
  EXPECT_TRUE(lie(check_signature(kX25519, sig(32), 64)));
}

TEST(KeyContract, AnRsaPlaintextFitsTheModulusAndTheBuffer) {
  EXPECT_TRUE(check_plaintext(kRsa2048, 0, 256).ok());
  EXPECT_TRUE(check_plaintext(kRsa2048, 256, 256).ok());
  EXPECT_TRUE(lie(check_plaintext(kRsa2048, 257, 1024)));
  EXPECT_TRUE(lie(check_plaintext(kRsa2048, 33, 32)));
  EXPECT_TRUE(lie(check_plaintext(kP256, 16, 256)));
}

TEST(KeyContract, ATlsPremasterSecretIsExactly48Bytes) {
  EXPECT_TRUE(check_plaintext(kRsa2048, 48, 48, 48).ok());
  EXPECT_TRUE(lie(check_plaintext(kRsa2048, 47, 48, 48)));
  EXPECT_TRUE(lie(check_plaintext(kRsa2048, 49, 256, 48)));
}

TEST(KeyContract, ASharedSecretIsExactlyTheKeysSecretSize) {
  EXPECT_TRUE(check_secret(kP256, 32, 32).ok());
  EXPECT_TRUE(lie(check_secret(kP256, 31, 32)));
  EXPECT_TRUE(lie(check_secret(kP256, 33, 64)));
  EXPECT_TRUE(lie(check_secret(kP256, 32, 31)));
  EXPECT_TRUE(check_secret(kX25519, 32, 64).ok());
  EXPECT_TRUE(lie(check_secret(kRsa2048, 256, 256)));
}

}  // namespace
}  // namespace cryptine::provider
