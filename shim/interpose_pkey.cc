// Interposed private-key operations: EVP_PKEY_sign, EVP_PKEY_decrypt, EVP_PKEY_derive
// and the one-shot EVP_DigestSign (what TLS uses for its handshake signatures). Each
// runs call-scoped in one request that carries the key (PKCS#8 DER) with the options
// read from the program's EVP_PKEY_CTX; the virtine is reset right after.
//
// OpenSSL's own function first answers the size query (output NULL), which also checks
// the context was initialised for the operation; only then is the key sent.
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <cstring>
#include <string>

#include "shim/guest_ops.h"
#include "shim/key_operation.h"
#include "shim/real_symbol.h"
#include "shim/virtine_call.h"

namespace cryptine {
namespace {

// Whether a key operation on pctx goes to a virtine; 0 or 1 when it went nowhere (fail).
enum class Decision { kVirtine, kNative, kFailed };
Decision decide(EVP_PKEY_CTX* pctx) {
  if (called_from_openssl() || pctx == nullptr) return Decision::kNative;
  switch (route(Runtime::get().pkey_enabled(EVP_PKEY_CTX_get0_pkey(pctx)))) {
    case Route::kNative: return Decision::kNative;
    case Route::kFail: return Decision::kFailed;
    case Route::kVirtine: return Decision::kVirtine;
  }
  return Decision::kNative;
}

}  // namespace
}  // namespace cryptine

using namespace cryptine;

CRYPTINE_EXPORT int EVP_PKEY_sign(EVP_PKEY_CTX* ctx, unsigned char* sig, size_t* siglen, const unsigned char* tbs,
                                  size_t tbslen) {
  auto real = [&](unsigned char* out) {
    InOpenSsl in_openssl;
    return CRYPTINE_REAL(EVP_PKEY_sign)(ctx, out, siglen, tbs, tbslen);
  };
  return no_throw(0, [&] {
    if (sig == nullptr || siglen == nullptr) return real(sig);
    switch (decide(ctx)) {
      case Decision::kNative: return real(sig);
      case Decision::kFailed: return 0;
      case Decision::kVirtine: break;
    }
    size_t needed = 0;
    {
      InOpenSsl in_openssl;  // checks the context, answers the size; no private-key use
      if (const int r = CRYPTINE_REAL(EVP_PKEY_sign)(ctx, nullptr, &needed, tbs, tbslen); r <= 0) return r;
    }
    return run_key_operation(
        ctx, sig, siglen, false,
        [&](Virtine& v, const guest::KeyOp& k) { return guest::sign_with(v, k, {tbs, tbslen}); },
        [&] { return real(sig); });
  });
}

CRYPTINE_EXPORT int EVP_PKEY_decrypt(EVP_PKEY_CTX* ctx, unsigned char* out, size_t* outlen, const unsigned char* in,
                                     size_t inlen) {
  auto real = [&](unsigned char* o) {
    InOpenSsl in_openssl;
    return CRYPTINE_REAL(EVP_PKEY_decrypt)(ctx, o, outlen, in, inlen);
  };
  return no_throw(0, [&] {
    if (out == nullptr || outlen == nullptr) return real(out);
    switch (decide(ctx)) {
      case Decision::kNative: return real(out);
      case Decision::kFailed: return 0;
      case Decision::kVirtine: break;
    }
    size_t needed = 0;
    {
      InOpenSsl in_openssl;
      if (const int r = CRYPTINE_REAL(EVP_PKEY_decrypt)(ctx, nullptr, &needed, in, inlen); r <= 0) return r;
    }
    return run_key_operation(
        ctx, out, outlen, true,
        [&](Virtine& v, const guest::KeyOp& k) { return guest::decrypt_with(v, k, {in, inlen}); },
        [&] { return real(out); });
  });
}

CRYPTINE_EXPORT int EVP_PKEY_derive(EVP_PKEY_CTX* ctx, unsigned char* key, size_t* keylen) {
  auto real = [&](unsigned char* k) {
    InOpenSsl in_openssl;
    return CRYPTINE_REAL(EVP_PKEY_derive)(ctx, k, keylen);
  };
  return no_throw(0, [&] {
    if (key == nullptr || keylen == nullptr) return real(key);
    switch (decide(ctx)) {
      case Decision::kNative: return real(key);
      case Decision::kFailed: return 0;
      case Decision::kVirtine: break;
    }
    size_t needed = 0;
    Der peer;
    {
      InOpenSsl in_openssl;  // also checks a peer is set
      if (const int r = CRYPTINE_REAL(EVP_PKEY_derive)(ctx, nullptr, &needed); r <= 0) return r;
      EVP_PKEY* peer_key = EVP_PKEY_CTX_get0_peerkey(ctx);
      if (peer_key != nullptr) peer.len = i2d_PUBKEY(peer_key, &peer.data);
    }
    if (peer.len <= 0) {
      fail_call(Error(ErrorCode::kUnsupported, "the peer key could not be encoded for the virtine"));
      return 0;
    }
    return run_key_operation(
        ctx, key, keylen, false,
        [&](Virtine& v, const guest::KeyOp& k) { return guest::derive_with(v, k, peer.bytes()); },
        [&] { return real(key); });
  });
}

CRYPTINE_EXPORT int EVP_DigestSign(EVP_MD_CTX* ctx, unsigned char* sigret, size_t* siglen, const unsigned char* tbs,
                                   size_t tbslen) {
  auto real = [&](unsigned char* sig) {
    InOpenSsl in_openssl;
    return CRYPTINE_REAL(EVP_DigestSign)(ctx, sig, siglen, tbs, tbslen);
  };
  return no_throw(0, [&] {
    if (sigret == nullptr || siglen == nullptr || ctx == nullptr || (tbs == nullptr && tbslen > 0)) return real(sigret);
    EVP_PKEY_CTX* pctx = EVP_MD_CTX_get_pkey_ctx(ctx);
    // A message longer than one request is signed by OpenSSL (counted as passed through).
    if (tbslen > guest::kMaxPkeyOutput * 1024) {
      (void)route(false);
      return real(sigret);
    }
    switch (decide(pctx)) {
      case Decision::kNative: return real(sigret);
      case Decision::kFailed: return 0;
      case Decision::kVirtine: break;
    }
    size_t needed = 0;
    {
      InOpenSsl in_openssl;  // checks the context is a signing one; answers the size
      if (const int r = CRYPTINE_REAL(EVP_DigestSign)(ctx, nullptr, &needed, tbs, tbslen); r <= 0) return r;
    }
    return run_key_operation(
        pctx, sigret, siglen, false,
        [&](Virtine& v, const guest::KeyOp& k) { return guest::digest_sign_with(v, k, {tbs, tbslen}); },
        [&] { return real(sigret); });
  });
}
