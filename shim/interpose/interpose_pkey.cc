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

#include <functional>

#include "abi/guest_abi.h"
#include "shim/client/guest_ops.h"
#include "shim/client/virtine_call.h"
#include "shim/interpose/key_operation.h"
#include "shim/interpose/real_symbol.h"

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

// OpenSSL's own entry point, called with an output buffer and its length.
using RealKeyCall = std::function<int(unsigned char* out, size_t* outlen)>;
using KeyCall = std::function<Result<guest::Bytes>(Virtine&, const guest::KeyOp&)>;

// The shape every entry point shares: OpenSSL's function for what is not served here,
// then its size query (which checks the context was set up for the operation, with no
// private-key use), then the operation in a virtine.
int key_entry(EVP_PKEY_CTX* pctx, unsigned char* out, size_t* outlen, bool for_decrypt, const RealKeyCall& real,
              const KeyCall& op) {
  if (out == nullptr || outlen == nullptr) return real(out, outlen);
  switch (decide(pctx)) {
    case Decision::kNative: return real(out, outlen);
    case Decision::kFailed: return 0;
    case Decision::kVirtine: break;
  }
  size_t needed = 0;
  if (const int r = real(nullptr, &needed); r <= 0) return r;
  return run_key_operation(pctx, out, outlen, for_decrypt, op, [&] { return real(out, outlen); });
}

}  // namespace
}  // namespace cryptine

using namespace cryptine;

CRYPTINE_EXPORT int EVP_PKEY_sign(EVP_PKEY_CTX* ctx, unsigned char* sig, size_t* siglen, const unsigned char* tbs,
                                  size_t tbslen) {
  return no_throw(0, [&] {
    return key_entry(
        ctx, sig, siglen, false,
        [&](unsigned char* out, size_t* outlen) {
          InOpenSsl in_openssl;
          return CRYPTINE_REAL(EVP_PKEY_sign)(ctx, out, outlen, tbs, tbslen);
        },
        [&](Virtine& v, const guest::KeyOp& k) {
          return guest::sign_with(v, k, {tbs, tbslen});
        });
  });
}

CRYPTINE_EXPORT int EVP_PKEY_decrypt(EVP_PKEY_CTX* ctx, unsigned char* out, size_t* outlen, const unsigned char* in,
                                     size_t inlen) {
  return no_throw(0, [&] {
    return key_entry(
        ctx, out, outlen, true,
        [&](unsigned char* o, size_t* olen) {
          InOpenSsl in_openssl;
          return CRYPTINE_REAL(EVP_PKEY_decrypt)(ctx, o, olen, in, inlen);
        },
        [&](Virtine& v, const guest::KeyOp& k) {
          return guest::decrypt_with(v, k, {in, inlen});
        });
  });
}

CRYPTINE_EXPORT int EVP_PKEY_derive(EVP_PKEY_CTX* ctx, unsigned char* key, size_t* keylen) {
  return no_throw(0, [&] {
    return key_entry(
        ctx, key, keylen, false,
        [&](unsigned char* out, size_t* outlen) {
          InOpenSsl in_openssl;  // the size query also checks a peer is set
          return CRYPTINE_REAL(EVP_PKEY_derive)(ctx, out, outlen);
        },
        [&](Virtine& v, const guest::KeyOp& k) -> Result<guest::Bytes> {
          Der peer;
          {
            InOpenSsl in_openssl;
            if (EVP_PKEY* peer_key = EVP_PKEY_CTX_get0_peerkey(ctx); peer_key != nullptr)
              peer.len = i2d_PUBKEY(peer_key, &peer.data);
          }
          if (peer.len <= 0) return Error(ErrorCode::kUnsupported, "the peer key could not be encoded for the virtine");
          return guest::derive_with(v, k, peer.bytes());
        });
  });
}

CRYPTINE_EXPORT int EVP_DigestSign(EVP_MD_CTX* ctx, unsigned char* sigret, size_t* siglen, const unsigned char* tbs,
                                   size_t tbslen) {
  auto real = [&](unsigned char* sig, size_t* len) {
    InOpenSsl in_openssl;
    return CRYPTINE_REAL(EVP_DigestSign)(ctx, sig, len, tbs, tbslen);
  };
  return no_throw(0, [&] {
    if (ctx == nullptr || (tbs == nullptr && tbslen > 0)) return real(sigret, siglen);
    // A message longer than one request (the 1 MiB mailbox) is signed by OpenSSL (counted as
    // passed through).
    if (sigret != nullptr && siglen != nullptr && tbslen > CRYPTINE_MAILBOX_SIZE) {
      (void)route(false);
      return real(sigret, siglen);
    }
    return key_entry(EVP_MD_CTX_get_pkey_ctx(ctx), sigret, siglen, false, real, [&](Virtine& v, const guest::KeyOp& k) {
      return guest::digest_sign_with(v, k, {tbs, tbslen});
    });
  });
}
