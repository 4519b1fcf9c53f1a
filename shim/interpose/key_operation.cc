#include "shim/interpose/key_operation.h"

#include <openssl/core_names.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstring>

#include "shim/client/virtine_call.h"
#include "shim/interpose/real_symbol.h"

namespace cryptine {

Der::~Der() {
  if (data != nullptr) OPENSSL_clear_free(data, static_cast<size_t>(len));
}

bool private_key_der(const EVP_PKEY* pkey, Der* der) {
  InOpenSsl in_openssl;
  PKCS8_PRIV_KEY_INFO* p8 = EVP_PKEY2PKCS8(pkey);
  if (p8 != nullptr) der->len = i2d_PKCS8_PRIV_KEY_INFO(p8, &der->data);
  PKCS8_PRIV_KEY_INFO_free(p8);
  return der->len > 0;
}

KeyOptions key_options(EVP_PKEY_CTX* pctx, bool for_decrypt) {
  InOpenSsl in_openssl;
  KeyOptions o;
  char name[80] = "";
  OSSL_PARAM p[] = {
      OSSL_PARAM_construct_utf8_string(for_decrypt ? OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST : OSSL_SIGNATURE_PARAM_DIGEST,
                                       name, sizeof(name)),
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

int run_key_operation(EVP_PKEY_CTX* pctx, unsigned char* out, size_t* outlen, bool for_decrypt,
                      const std::function<Result<guest::Bytes>(Virtine&, const guest::KeyOp&)>& op,
                      const std::function<int()>& native) {
  const KeyOptions o = key_options(pctx, for_decrypt);
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
  // The key's largest signature, plaintext or secret bounds what comes back; only a
  // decryption may yield nothing.
  const size_t most = std::min(capacity, static_cast<size_t>(std::max(EVP_PKEY_get_size(pkey), 0)));
  const Served served = run_call_scoped(Family::kPkey, [&](Virtine& v) -> Status {
    guest::Bytes result = CRYPTINE_TRY(op(v, k));
    if (result.size() > most || (result.empty() && !for_decrypt))
      return v.poison(Error(ErrorCode::kGuestFault, "key operation output of the wrong length"));
    if (!result.empty()) std::memcpy(out, result.data(), result.size());
    *outlen = result.size();
    return {};
  });
  switch (served) {
    case Served::kDone: return 1;
    case Served::kNative: return native();
    case Served::kFailed: break;
  }
  return 0;
}

int sign_digest_in_virtine(EVP_PKEY_CTX* pctx, unsigned char* sig, size_t* siglen, std::span<const uint8_t> digest,
                           const std::function<int()>& native) {
  return run_key_operation(
      pctx, sig, siglen, false, [&](Virtine& v, const guest::KeyOp& k) { return guest::sign_with(v, k, digest); },
      native);
}

}  // namespace cryptine
