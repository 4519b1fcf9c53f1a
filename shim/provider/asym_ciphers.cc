// RSA encryption and decryption, modelled on OpenSSL's
// providers/implementations/asymciphers/rsa_enc.c. As for signatures, a default-provider
// EVP_PKEY_CTX on the public part (initialised for encryption) holds and checks the
// parameters: padding, OAEP digest, MGF1 digest and label, libssl's TLS versions.
// Decryption sends the ciphertext and those options to the key's virtine and takes back
// the plaintext, checked by the key contract: one virtine call. Encryption needs only the
// public key, so it runs on the host. Preloaded, a key held on the host where no virtine
// can run (key_data.h) decrypts there: the host context is made on the whole key.
#include "shim/provider/asym_ciphers.h"

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/proverr.h>
#include <openssl/rsa.h>

#include <cstring>
#include <new>
#include <vector>

#include "shim/client/guest_ops.h"
#include "shim/client/virtine_call.h"
#include "shim/provider/algorithm_filter.h"
#include "shim/provider/host_context.h"
#include "shim/provider/key_data.h"

namespace cryptine::provider {
namespace {

constexpr const char* kDefault = "provider=default";
constexpr size_t kTlsPremaster = 48;  // SSL_MAX_MASTER_KEY_LENGTH

struct AsymContext {
  std::shared_ptr<Key> key;
  PrivatePart priv;  // decryption: where the private part is
  EVP_PKEY_CTX* host = nullptr;
  bool decrypting = false;

  AsymContext() = default;
  AsymContext(const AsymContext&) = delete;
  AsymContext& operator=(const AsymContext&) = delete;
  ~AsymContext() { EVP_PKEY_CTX_free(host); }
};

AsymContext* as_context(void* vctx) {
  return static_cast<AsymContext*>(vctx);
}

const EVP_ASYM_CIPHER* default_rsa() {
  static EVP_ASYM_CIPHER* const kRsa = EVP_ASYM_CIPHER_fetch(nullptr, "RSA", kDefault);
  return kRsa;
}

void* new_context(void*) {
  return new_host_context<AsymContext>();
}

void* dup_context(void* vctx) {
  return no_throw<void*>(nullptr, [&]() -> void* {
    const AsymContext* in = as_context(vctx);
    auto* out = new (std::nothrow) AsymContext;
    if (out == nullptr) {
      ERR_raise(ERR_LIB_PROV, ERR_R_MALLOC_FAILURE);
      return nullptr;
    }
    out->key = in->key;
    out->priv = in->priv;
    out->decrypting = in->decrypting;
    if (in->host != nullptr && (out->host = EVP_PKEY_CTX_dup(in->host)) == nullptr) {
      delete out;
      return nullptr;
    }
    return out;
  });
}

int set_ctx_params(void* vctx, const OSSL_PARAM params[]) {
  return no_throw(0, [&] {
    AsymContext* ctx = as_context(vctx);
    if (params == nullptr || params[0].key == nullptr) return 1;
    if (ctx->host == nullptr) {
      ERR_raise(ERR_LIB_PROV, ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED);
      return 0;
    }
    // OpenSSL's RSA fetches a digest named here with the properties given beside it, else
    // with the process's default query, which may prefer this provider: the host's own
    // hashing (encryption's OAEP and MGF1) would then run in virtines, a call per block.
    std::vector<OSSL_PARAM> with_props;
    for (const OSSL_PARAM* p = params; p->key != nullptr; ++p) with_props.push_back(*p);
    auto pin = [&](const char* digest, const char* props) {
      if (OSSL_PARAM_locate_const(params, digest) != nullptr && OSSL_PARAM_locate_const(params, props) == nullptr)
        with_props.push_back(OSSL_PARAM_construct_utf8_string(props, const_cast<char*>(kDefault), 0));
    };
    pin(OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST, OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST_PROPS);
    pin(OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST, OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST_PROPS);
    with_props.push_back(OSSL_PARAM_construct_end());
    return EVP_PKEY_CTX_set_params(ctx->host, with_props.data()) > 0 ? 1 : 0;
  });
}

int get_ctx_params(void* vctx, OSSL_PARAM params[]) {
  return no_throw(0, [&] {
    AsymContext* ctx = as_context(vctx);
    return ctx->host != nullptr && EVP_PKEY_CTX_get_params(ctx->host, params) > 0 ? 1 : 0;
  });
}

const OSSL_PARAM* settable_ctx_params(void*, void*) {
  return EVP_ASYM_CIPHER_settable_ctx_params(default_rsa());
}

const OSSL_PARAM* gettable_ctx_params(void*, void*) {
  return EVP_ASYM_CIPHER_gettable_ctx_params(default_rsa());
}

int init(void* vctx, void* keydata, const OSSL_PARAM params[], bool decrypting) {
  AsymContext* ctx = as_context(vctx);
  std::shared_ptr<Key> key = key_of(keydata);
  if (key == nullptr) return 0;
  if (key->kind != KeyKind::kRsa || !key->has_public) {
    ERR_raise(ERR_LIB_PROV, PROV_R_INVALID_KEY);
    return 0;
  }
  if (decrypting && !private_part(*key, &ctx->priv)) return 0;
  ctx->key = std::move(key);
  ctx->decrypting = decrypting;
  EVP_PKEY_CTX_free(ctx->host);
  const bool on_host = decrypting && ctx->priv.host != nullptr;
  ctx->host = on_host ? EVP_PKEY_CTX_new_from_pkey(nullptr, ctx->priv.host, kDefault) : host_context(*ctx->key);
  if (ctx->host == nullptr || (on_host ? EVP_PKEY_decrypt_init(ctx->host) : EVP_PKEY_encrypt_init(ctx->host)) <= 0)
    return 0;
  return set_ctx_params(vctx, params);
}

int encrypt_init(void* vctx, void* keydata, const OSSL_PARAM params[]) {
  return no_throw(0, [&] { return init(vctx, keydata, params, false); });
}

int decrypt_init(void* vctx, void* keydata, const OSSL_PARAM params[]) {
  return no_throw(0, [&] { return init(vctx, keydata, params, true); });
}

int encrypt(void* vctx, unsigned char* out, size_t* outlen, size_t outsize, const unsigned char* in, size_t inlen) {
  return no_throw(0, [&] {
    AsymContext* ctx = as_context(vctx);
    if (ctx->host == nullptr) {
      ERR_raise(ERR_LIB_PROV, ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED);
      return 0;
    }
    size_t len = outsize;
    if (EVP_PKEY_encrypt(ctx->host, out, out != nullptr ? &len : outlen, in, inlen) <= 0) return 0;
    if (out != nullptr) *outlen = len;
    return 1;
  });
}

// The options the guest needs, read back from the host context. Returns false (the error
// raised) when they cannot be had.
bool decrypt_options(const AsymContext& ctx, guest::DecryptOptions* o, std::string* oaep_md) {
  char md[80] = "";
  char mgf1[80] = "";
  void* label = nullptr;
  unsigned int client = 0;
  unsigned int negotiated = 0;
  OSSL_PARAM p[] = {OSSL_PARAM_construct_int(OSSL_ASYM_CIPHER_PARAM_PAD_MODE, &o->padding),
                    OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST, md, sizeof(md)),
                    OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST, mgf1, sizeof(mgf1)),
                    OSSL_PARAM_construct_octet_ptr(OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL, &label, 0),
                    OSSL_PARAM_construct_uint(OSSL_ASYM_CIPHER_PARAM_TLS_CLIENT_VERSION, &client),
                    OSSL_PARAM_construct_uint(OSSL_ASYM_CIPHER_PARAM_TLS_NEGOTIATED_VERSION, &negotiated),
                    OSSL_PARAM_construct_end()};
  if (EVP_PKEY_CTX_get_params(ctx.host, p) <= 0) return false;
  if (o->padding == RSA_PKCS1_OAEP_PADDING) {
    *oaep_md = md;
    o->oaep_md = *oaep_md;
    if (label != nullptr && p[3].return_size > 0) o->label = {static_cast<const uint8_t*>(label), p[3].return_size};
    if (mgf1[0] != '\0' && std::strcmp(mgf1, md) != 0) {
      EVP_MD* m = EVP_MD_fetch(nullptr, mgf1, kDefault);
      o->mgf1_nid = m != nullptr ? EVP_MD_get_type(m) : 0;
      EVP_MD_free(m);
      if (o->mgf1_nid == 0) {
        ERR_raise_data(ERR_LIB_PROV, PROV_R_INVALID_DIGEST, "cryptine: MGF1 digest %s", mgf1);
        return false;
      }
    }
  }
  if (o->padding == RSA_PKCS1_WITH_TLS_PADDING) o->tls_versions = (client & 0xffff) | ((negotiated & 0xffff) << 16);
  return true;
}

int decrypt(void* vctx, unsigned char* out, size_t* outlen, size_t outsize, const unsigned char* in, size_t inlen) {
  return no_throw(0, [&] {
    AsymContext* ctx = as_context(vctx);
    if (ctx->host == nullptr || !ctx->decrypting) {
      ERR_raise(ERR_LIB_PROV, ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED);
      return 0;
    }
    const Key& key = *ctx->key;
    if (out == nullptr) {
      *outlen = key.facts.max_size;
      return 1;
    }
    if (ctx->priv.host != nullptr) {
      OnHost on_host;
      size_t len = outsize;
      if (EVP_PKEY_decrypt(ctx->host, out, &len, in, inlen) <= 0) return 0;
      *outlen = len;
      return 1;
    }
    guest::DecryptOptions o;
    std::string oaep_md;
    if (!decrypt_options(*ctx, &o, &oaep_md)) return 0;
    const bool tls = o.padding == RSA_PKCS1_WITH_TLS_PADDING;
    if (tls && outsize < kTlsPremaster) {
      ERR_raise(ERR_LIB_PROV, PROV_R_BAD_LENGTH);
      return 0;
    }
    return run_on_private_part(
               *ctx->key, &ctx->priv,
               [&](Virtine& v) -> Status {
                 const guest::Bytes plain = CRYPTINE_TRY(guest::decrypt(v, ctx->priv.twin.handle, {in, inlen}, o));
                 Status checked = check_plaintext(key.facts, plain.size(), outsize, tls ? kTlsPremaster : 0);
                 if (!checked.ok()) return v.poison(std::move(checked).error());
                 if (!plain.empty()) std::memcpy(out, plain.data(), plain.size());
                 *outlen = plain.size();
                 return {};
               })
               ? 1
               : 0;
  });
}

using Fn = void (*)(void);
const OSSL_DISPATCH kRsaFunctions[] = {
    {OSSL_FUNC_ASYM_CIPHER_NEWCTX, reinterpret_cast<Fn>(&new_context)},
    {OSSL_FUNC_ASYM_CIPHER_FREECTX, reinterpret_cast<Fn>(&free_host_context<AsymContext>)},
    {OSSL_FUNC_ASYM_CIPHER_DUPCTX, reinterpret_cast<Fn>(&dup_context)},
    {OSSL_FUNC_ASYM_CIPHER_ENCRYPT_INIT, reinterpret_cast<Fn>(&encrypt_init)},
    {OSSL_FUNC_ASYM_CIPHER_ENCRYPT, reinterpret_cast<Fn>(&encrypt)},
    {OSSL_FUNC_ASYM_CIPHER_DECRYPT_INIT, reinterpret_cast<Fn>(&decrypt_init)},
    {OSSL_FUNC_ASYM_CIPHER_DECRYPT, reinterpret_cast<Fn>(&decrypt)},
    {OSSL_FUNC_ASYM_CIPHER_GET_CTX_PARAMS, reinterpret_cast<Fn>(&get_ctx_params)},
    {OSSL_FUNC_ASYM_CIPHER_GETTABLE_CTX_PARAMS, reinterpret_cast<Fn>(&gettable_ctx_params)},
    {OSSL_FUNC_ASYM_CIPHER_SET_CTX_PARAMS, reinterpret_cast<Fn>(&set_ctx_params)},
    {OSSL_FUNC_ASYM_CIPHER_SETTABLE_CTX_PARAMS, reinterpret_cast<Fn>(&settable_ctx_params)},
    {0, nullptr}};

const OSSL_ALGORITHM kAlgorithms[] = {{"RSA:rsaEncryption:1.2.840.113549.1.1.1", "provider=cryptine", kRsaFunctions,
                                       "RSA decryption in cryptine virtines"}};

}  // namespace

const OSSL_ALGORITHM* asym_cipher_algorithms() {
  static const std::vector<OSSL_ALGORITHM>* list = new std::vector<OSSL_ALGORITHM>(offered_keys(kAlgorithms));
  return list->data();
}

}  // namespace cryptine::provider
