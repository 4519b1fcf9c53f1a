// Private-key operations in a virtine, shared by the one-shot (interpose_pkey.cc) and the
// streaming (interpose_digest_sign.cc) interposers: the key encoded for the request, the
// options read from the program's EVP_PKEY_CTX, and the call-scoped run.
#pragma once

#include <openssl/evp.h>

#include <functional>
#include <span>
#include <string>

#include "shim/client/guest_ops.h"
#include "vmm/result.h"
#include "vmm/virtine.h"

namespace cryptine {

// A DER encoding made by OpenSSL, wiped and freed when done.
struct Der {
  unsigned char* data = nullptr;
  int len = 0;
  Der() = default;
  Der(const Der&) = delete;
  Der& operator=(const Der&) = delete;
  ~Der();
  std::span<const uint8_t> bytes() const { return {data, len > 0 ? static_cast<size_t>(len) : 0}; }
};

// The private key as PKCS#8 DER, which the guest reads whatever the key type.
bool private_key_der(const EVP_PKEY* pkey, Der* der);

// The options a program set on its EVP_PKEY_CTX that change the result.
struct KeyOptions {
  bool known = true;  // false: a mode the request cannot carry (libssl's TLS padding)
  std::string md;     // the signature or OAEP digest, "" for none
  int padding = 0;
  int saltlen = 0;
};
KeyOptions key_options(EVP_PKEY_CTX* pctx, bool for_decrypt);

// Runs a key operation whose size query OpenSSL already answered; `op` sends it. With
// options it cannot carry, OpenSSL's own function `native` runs it (counted as passed
// through). Returns OpenSSL's convention: 1, or 0 with the error raised.
int run_key_operation(EVP_PKEY_CTX* pctx, unsigned char* out, size_t* outlen, bool for_decrypt,
                      const std::function<Result<guest::Bytes>(Virtine&, const guest::KeyOp&)>& op,
                      const std::function<int()>& native);

// Signs `digest` with pctx's key and options (EVP_PKEY_sign's work) in a virtine.
int sign_digest_in_virtine(EVP_PKEY_CTX* pctx, unsigned char* sig, size_t* siglen, std::span<const uint8_t> digest,
                           const std::function<int()>& native);

}  // namespace cryptine
