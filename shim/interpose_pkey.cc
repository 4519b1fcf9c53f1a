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
#include "shim/real_symbol.h"
#include "shim/virtine_call.h"

namespace cryptine {
namespace {

// A DER encoding made by OpenSSL, wiped and freed when done.
struct Der {
  unsigned char* data = nullptr;
  int len = 0;
  Der() = default;
  Der(const Der&) = delete;
  Der& operator=(const Der&) = delete;
  ~Der() {
    if (data != nullptr) OPENSSL_clear_free(data, static_cast<size_t>(len));
  }
  std::span<const uint8_t> bytes() const { return {data, len > 0 ? static_cast<size_t>(len) : 0}; }
};

bool private_key_der(const EVP_PKEY* pkey, Der* der) {
  InOpenSsl in_openssl;
  PKCS8_PRIV_KEY_INFO* p8 = EVP_PKEY2PKCS8(pkey);
  if (p8 != nullptr) der->len = i2d_PKCS8_PRIV_KEY_INFO(p8, &der->data);
  PKCS8_PRIV_KEY_INFO_free(p8);
  return der->len > 0;
}

// The options a program set on its EVP_PKEY_CTX that change the result.
struct Options {
  bool known = true;  // false: a mode the request cannot carry (libssl's TLS padding)
  std::string md;     // the signature or OAEP digest, "" for none
  int padding = 0;
  int saltlen = 0;
};

Options options_of(EVP_PKEY_CTX* pctx, bool for_decrypt) {
  InOpenSsl in_openssl;
  Options o;
  char name[80] = "";
  OSSL_PARAM p[] = {OSSL_PARAM_construct_utf8_string(
                        for_decrypt ? OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST : OSSL_SIGNATURE_PARAM_DIGEST, name,
                        sizeof(name)),
                    OSSL_PARAM_construct_end()};
  if (EVP_PKEY_CTX_get_params(pctx, p) > 0 && OSSL_PARAM_modified(&p[0])) o.md = name;
  const EVP_PKEY* pkey = EVP_PKEY_CTX_get0_pkey(pctx);
  const int id = pkey != nullptr ? EVP_PKEY_get_base_id(pkey) : 0;
  if (id == EVP_PKEY_RSA || id == EVP_PKEY_RSA_PSS) {
    // The padding as a param: EVP_PKEY_CTX_get_rsa_padding crashes inside OpenSSL 3.0 on a
    // context in libssl's TLS padding mode, whose number the provider does not report.
    OSSL_PARAM pad[] = {OSSL_PARAM_construct_int(
                            for_decrypt ? OSSL_ASYM_CIPHER_PARAM_PAD_MODE : OSSL_SIGNATURE_PARAM_PAD_MODE, &o.padding),
                        OSSL_PARAM_construct_end()};
    if (EVP_PKEY_CTX_get_params(pctx, pad) <= 0 || !OSSL_PARAM_modified(&pad[0])) o.known = false;
    // The modes the guest runs with nothing but the padding number (and the digests):
    // RSA_PKCS1_WITH_TLS_PADDING, say, needs the client's version besides.
    const bool carried = for_decrypt ? (o.padding == RSA_PKCS1_PADDING || o.padding == RSA_NO_PADDING ||
                                        o.padding == RSA_PKCS1_OAEP_PADDING)
                                     : (o.padding == RSA_PKCS1_PADDING || o.padding == RSA_NO_PADDING ||
                                        o.padding == RSA_X931_PADDING || o.padding == RSA_PKCS1_PSS_PADDING);
    if (!carried) o.known = false;
    // Nor can it carry an OAEP label or an MGF1 digest other than the main one.
    char mgf1[80] = "";
    void* label = nullptr;
    OSSL_PARAM more[] = {
        OSSL_PARAM_construct_utf8_string(
            for_decrypt ? OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST : OSSL_SIGNATURE_PARAM_MGF1_DIGEST, mgf1, sizeof(mgf1)),
        OSSL_PARAM_construct_octet_ptr(OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL, &label, 0), OSSL_PARAM_construct_end()};
    if (!for_decrypt) more[1] = OSSL_PARAM_construct_end();
    if (EVP_PKEY_CTX_get_params(pctx, more) > 0) {
      if (OSSL_PARAM_modified(&more[0]) && mgf1[0] != '\0' && !o.md.empty() &&
          EVP_MD_is_a(EVP_get_digestbyname(o.md.c_str()), mgf1) == 0)
        o.known = false;
      if (for_decrypt && OSSL_PARAM_modified(&more[1]) && more[1].return_size > 0) o.known = false;
    }
    if (o.padding == RSA_PKCS1_PSS_PADDING && EVP_PKEY_CTX_get_rsa_pss_saltlen(pctx, &o.saltlen) <= 0) o.known = false;
    if (for_decrypt && o.padding != RSA_PKCS1_OAEP_PADDING) o.md.clear();
  }
  return o;
}

// Runs a key operation whose size query OpenSSL already answered; `op` sends it. With
// options it cannot carry, OpenSSL's own function `native` runs it (counted as passed
// through).
int served(EVP_PKEY_CTX* pctx, unsigned char* out, size_t* outlen, bool for_decrypt,
           const std::function<Result<guest::Bytes>(Virtine&, const guest::KeyOp&)>& op,
           const std::function<int()>& native) {
  const Options o = options_of(pctx, for_decrypt);
  if (!o.known) {
    Runtime::get().counters().passed_through.fetch_add(1, std::memory_order_relaxed);
    return native();
  }
  const EVP_PKEY* pkey = EVP_PKEY_CTX_get0_pkey(pctx);
  Der der;
  if (!private_key_der(pkey, &der)) {
    fail_call(Error(ErrorCode::kUnsupported, "the private key could not be encoded for the virtine"));
    return 0;
  }
  guest::KeyOp k;
  k.key_der = der.bytes();
  k.md = o.md;
  k.rsa_padding = o.padding;
  k.pss_saltlen = o.saltlen;
  const size_t capacity = *outlen;
  k.capacity = static_cast<uint32_t>(std::min<size_t>(capacity, guest::kMaxPkeyOutput));
  return run_call_scoped(Family::kPkey, [&](Virtine& v) -> Status {
           guest::Bytes result = CRYPTINE_TRY(op(v, k));
           if (result.size() > capacity) return v.poison(Error(ErrorCode::kGuestFault, "key operation output too long"));
           if (!result.empty()) std::memcpy(out, result.data(), result.size());
           *outlen = result.size();
           return {};
         })
             ? 1
             : 0;
}

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
      if (CRYPTINE_REAL(EVP_PKEY_sign)(ctx, nullptr, &needed, tbs, tbslen) <= 0) return 0;
    }
    return served(
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
      if (CRYPTINE_REAL(EVP_PKEY_decrypt)(ctx, nullptr, &needed, in, inlen) <= 0) return 0;
    }
    return served(
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
      if (CRYPTINE_REAL(EVP_PKEY_derive)(ctx, nullptr, &needed) <= 0) return 0;
      EVP_PKEY* peer_key = EVP_PKEY_CTX_get0_peerkey(ctx);
      if (peer_key != nullptr) peer.len = i2d_PUBKEY(peer_key, &peer.data);
    }
    if (peer.len <= 0) {
      fail_call(Error(ErrorCode::kUnsupported, "the peer key could not be encoded for the virtine"));
      return 0;
    }
    return served(
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
      if (CRYPTINE_REAL(EVP_DigestSign)(ctx, nullptr, &needed, tbs, tbslen) <= 0) return 0;
    }
    return served(
        pctx, sigret, siglen, false,
        [&](Virtine& v, const guest::KeyOp& k) { return guest::digest_sign_with(v, k, {tbs, tbslen}); },
        [&] { return real(sigret); });
  });
}
