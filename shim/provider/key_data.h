// A key as the provider's key management holds it: the private part in its own virtine
// (sent there once, as PKCS#8 DER, when OpenSSL imports the key) and on the host only a
// copy of the public part, kept by OpenSSL's default provider, which answers what a key
// is asked on the host (bits, maximum size, default digest, public export, verification).
#pragma once

#include <openssl/core.h>
#include <openssl/evp.h>

#include <memory>
#include <optional>
#include <string>

#include "shim/client/twin.h"
#include "shim/provider/key_contract.h"

namespace cryptine::provider {

// Shared by the keydata objects OpenSSL dups and by the operations using it; the last
// one to go frees the guest's key and with it (by the lease) its virtine.
struct Key {
  explicit Key(KeyKind k) : kind(k) {}
  Key(const Key&) = delete;
  Key& operator=(const Key&) = delete;
  ~Key();

  KeyKind kind;
  EVP_PKEY* pub = nullptr;  // the default provider's: public part, or parameters only
  bool has_public = false;
  std::optional<Twin> twin;  // the private key in its virtine
  KeyFacts facts{};
};

// The keymgmt's keydata: what `kind` of key, and the key once imported.
struct KeyData {
  KeyKind kind;
  std::shared_ptr<Key> key;
};

// The default provider's name of the key type ("RSA", "EC", "ED25519", "X25519").
const char* key_type_name(KeyKind kind);

// OSSL_FUNC_keymgmt_import's work: the public part kept on the host; with a private key
// selected, the key sent to a virtine of its own (one virtine call) and its DER wiped.
// Returns 1, or 0 with the error raised.
int import_key(KeyData* kd, int selection, const OSSL_PARAM params[]);

// OSSL_FUNC_keymgmt_gen's work: with a private key selected, the key generated in a
// virtine of its own (one virtine call; its public part checked and kept on the host);
// otherwise only parameters (EC: the curve `group`), made on the host. Returns 1, or 0 with
// the error raised.
int generate_key(KeyData* kd, int selection, const std::string& group, int bits);

// OSSL_FUNC_keymgmt_set_params's work: a key with parameters only (a TLS peer's) takes its
// encoded public key. Returns 1, or 0 with the error raised.
int set_encoded_public_key(KeyData* kd, const OSSL_PARAM* encoded);

// A keydata's key, or null (with the error raised) when it holds none.
std::shared_ptr<Key> key_of(void* keydata);

// A new EVP_PKEY_CTX of the default provider on the key's public part: the host's half of
// an operation (verification, encryption, parameters).
EVP_PKEY_CTX* host_context(const Key& key);

}  // namespace cryptine::provider
