// What a key's guest may answer: the contract every number a key operation's virtine
// returns is checked against before OpenSSL or the program sees it, in one place. Pure
// functions of the key's facts (learnt on the host, from its public part) and the
// call's sizes, so tests feed them lies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "vmm/result.h"

namespace cryptine::provider {

enum class KeyKind { kRsa, kEc, kEd25519, kX25519 };

// A key's fixed facts, from the host's copy of its public part.
struct KeyFacts {
  KeyKind kind;
  int type;            // EVP_PKEY_get_id
  int bits;            // EVP_PKEY_get_bits
  size_t max_size;     // EVP_PKEY_get_size: the largest signature or ciphertext
  size_t secret_size;  // a key exchange's shared secret (EC: the field's bytes), 0 if none
};

// KEY_IMPORT's reply: the guest read the same key (type, bits and size as on the host).
Status check_import(const KeyFacts& f, int type, int bits, int size);

// A signature `sig` for a buffer of `capacity`: never empty, never past either; RSA's is
// exactly the modulus' size, Ed25519's exactly 64 bytes, an ECDSA one a DER SEQUENCE of
// at least 8 bytes whose length covers exactly the signature (a byte added or dropped
// shows, though the length varies).
Status check_signature(const KeyFacts& f, std::span<const uint8_t> sig, size_t capacity);

// An RSA decryption of `len` bytes: at most the modulus' size and the buffer (it may be
// empty: a message can be); exactly `exact` bytes when that is not 0 (TLS padding's
// premaster secret).
Status check_plaintext(const KeyFacts& f, size_t len, size_t capacity, size_t exact = 0);

// A derived shared secret: exactly the key's secret size, within the buffer.
Status check_secret(const KeyFacts& f, size_t len, size_t capacity);

}  // namespace cryptine::provider
