#include "shim/provider/key_contract.h"

#include <string>

namespace cryptine::provider {
namespace {

constexpr size_t kEd25519Signature = 64;
constexpr size_t kMinEcdsaSignature = 8;  // SEQUENCE { INTEGER r, INTEGER s }, one byte each

Error lie(const std::string& what) {
  return Error(ErrorCode::kGuestFault, "key contract: " + what);
}

// A DER SEQUENCE whose length (short form, or long form in one byte: P-521's signatures
// reach 139 bytes) covers exactly the rest of `der`.
bool der_sequence_fills(std::span<const uint8_t> der) {
  if (der.size() < 2 || der[0] != 0x30) return false;
  if (der[1] < 0x80) return der.size() == 2u + der[1];
  return der[1] == 0x81 && der.size() >= 3 && der.size() == 3u + der[2];
}

}  // namespace

Status check_import(const KeyFacts& f, int type, int bits, int size) {
  if (type != f.type) return lie("the imported key is of another type");
  if (bits != f.bits) return lie("the imported key has another size in bits");
  if (size < 0 || static_cast<size_t>(size) != f.max_size) return lie("the imported key has another maximum size");
  return {};
}

Status check_signature(const KeyFacts& f, std::span<const uint8_t> sig, size_t capacity) {
  const size_t len = sig.size();
  if (len == 0) return lie("an empty signature");
  if (len > capacity || len > f.max_size) return lie("a signature longer than the key's maximum or the buffer");
  switch (f.kind) {
    case KeyKind::kRsa:
      if (len != f.max_size) return lie("an RSA signature shorter than the modulus");
      break;
    case KeyKind::kEd25519:
      if (len != kEd25519Signature) return lie("an Ed25519 signature not of 64 bytes");
      break;
    case KeyKind::kEc:
      if (len < kMinEcdsaSignature) return lie("an ECDSA signature too short to be DER");
      if (!der_sequence_fills(sig)) return lie("an ECDSA signature whose DER length is not its length");
      break;
    case KeyKind::kX25519: return lie("a signature by a key-exchange key");
  }
  return {};
}

Status check_plaintext(const KeyFacts& f, size_t len, size_t capacity, size_t exact) {
  if (f.kind != KeyKind::kRsa) return lie("a decryption by a key that cannot decrypt");
  if (len > f.max_size || len > capacity) return lie("a plaintext longer than the modulus or the buffer");
  if (exact != 0 && len != exact) return lie("a TLS premaster secret of the wrong length");
  return {};
}

Status check_secret(const KeyFacts& f, size_t len, size_t capacity) {
  if (f.secret_size == 0) return lie("a shared secret from a key that cannot derive one");
  if (len != f.secret_size) return lie("a shared secret of the wrong length");
  if (len > capacity) return lie("a shared secret longer than the buffer");
  return {};
}

}  // namespace cryptine::provider
