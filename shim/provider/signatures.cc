// Signatures, modelled on OpenSSL's providers/implementations/signature/ (rsa_sig.c,
// ecdsa_sig.c, eddsa_sig.c). Each context keeps a default-provider EVP_PKEY_CTX on the
// key's public part, initialised for verification: OpenSSL's own code then checks and
// holds the parameters (digest, padding, PSS salt length, MGF1 digest) and answers their
// queries (the AlgorithmIdentifier among them), and the signing call reads them back from
// it. A streamed message is hashed on the host with the default provider's digest (the
// message is the program's, not a secret); only the digest goes to the virtine, and only
// the signature comes back: one virtine call per signature.
//
// Preloaded, a key held on the host where no virtine can run (key_data.h) signs there: the
// host context is then made on the whole key, initialised for signing.
//
// Verification runs on the host with the public part: it needs no secret, its answer is
// one the program could compute itself from the public key, and a virtine would add a VM
// exit per verification (and, for a key imported with only its public part, a virtine to
// hold it) for no isolation gained.
#include "shim/provider/signatures.h"

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/proverr.h>
#include <openssl/rsa.h>

#include <cstring>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "shim/client/guest_ops.h"
#include "shim/client/virtine_call.h"
#include "shim/provider/algorithm_filter.h"
#include "shim/provider/host_context.h"
#include "shim/provider/key_data.h"

namespace cryptine::provider {
namespace {

constexpr const char* kDefault = "provider=default";

// What the guest needs of the host context's parameters.
struct SignOptions {
  std::string md;  // "" for none
  int padding = 0;
  int saltlen = 0;
};

struct SigContext {
  KeyKind kind;
  std::shared_ptr<Key> key;
  PrivatePart priv;              // signing: where the private part is
  EVP_PKEY_CTX* host = nullptr;  // RSA, ECDSA: the parameters, and verification (or host signing)
  EVP_MD_CTX* md = nullptr;      // digest_sign/verify of RSA, ECDSA: the message's hash
  bool signing = false;
  // RSA, ECDSA: `host`'s parameters as the guest takes them, read at the first signature
  // and kept until they may change (init, set_ctx_params), not read again for each.
  std::optional<SignOptions> options;

  explicit SigContext(KeyKind k) : kind(k) {}
  SigContext(const SigContext&) = delete;
  SigContext& operator=(const SigContext&) = delete;
  ~SigContext() {
    EVP_PKEY_CTX_free(host);
    EVP_MD_CTX_free(md);
  }
};

SigContext* as_context(void* vctx) {
  return static_cast<SigContext*>(vctx);
}

// The default provider's implementation of the same algorithm, for its parameter lists.
const EVP_SIGNATURE* default_signature(KeyKind kind) {
  static EVP_SIGNATURE* const kSignatures[] = {EVP_SIGNATURE_fetch(nullptr, "RSA", kDefault),
                                               EVP_SIGNATURE_fetch(nullptr, "ECDSA", kDefault),
                                               EVP_SIGNATURE_fetch(nullptr, "ED25519", kDefault), nullptr};
  return kSignatures[static_cast<int>(kind)];
}

template <KeyKind K>
void* new_context(void*, const char*) {
  return no_throw<void*>(nullptr, []() -> void* {
    auto* ctx = new (std::nothrow) SigContext(K);
    if (ctx == nullptr) ERR_raise(ERR_LIB_PROV, ERR_R_MALLOC_FAILURE);
    return ctx;
  });
}

// The copy shares the key; the host contexts are copied (EVP_DigestSignFinal signs with
// a copy, so that the program may go on updating).
void* dup_context(void* vctx) {
  return no_throw<void*>(nullptr, [&]() -> void* {
    const SigContext* in = as_context(vctx);
    auto* out = new (std::nothrow) SigContext(in->kind);
    if (out == nullptr) {
      ERR_raise(ERR_LIB_PROV, ERR_R_MALLOC_FAILURE);
      return nullptr;
    }
    out->key = in->key;
    out->priv = in->priv;
    out->signing = in->signing;
    out->options = in->options;
    bool ok = true;
    if (in->host != nullptr) ok = (out->host = EVP_PKEY_CTX_dup(in->host)) != nullptr;
    if (ok && in->md != nullptr)
      ok = (out->md = EVP_MD_CTX_new()) != nullptr && EVP_MD_CTX_copy_ex(out->md, in->md) == 1;
    if (!ok) {
      delete out;
      return nullptr;
    }
    return out;
  });
}

int set_ctx_params(void* vctx, const OSSL_PARAM params[]) {
  return no_throw(0, [&] {
    SigContext* ctx = as_context(vctx);
    if (params == nullptr || params[0].key == nullptr) return 1;
    ctx->options.reset();
    if (ctx->host == nullptr) {
      ERR_raise(ERR_LIB_PROV, ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED);  // no init yet
      return 0;
    }
    return EVP_PKEY_CTX_set_params(ctx->host, params) > 0 ? 1 : 0;
  });
}

int get_ctx_params(void* vctx, OSSL_PARAM params[]) {
  return no_throw(0, [&] {
    SigContext* ctx = as_context(vctx);
    if (ctx->host == nullptr) return ctx->kind == KeyKind::kEd25519 ? 1 : 0;
    return EVP_PKEY_CTX_get_params(ctx->host, params) > 0 ? 1 : 0;
  });
}

template <KeyKind K>
const OSSL_PARAM* settable_ctx_params(void*, void*) {
  return EVP_SIGNATURE_settable_ctx_params(default_signature(K));
}

template <KeyKind K>
const OSSL_PARAM* gettable_ctx_params(void*, void*) {
  return EVP_SIGNATURE_gettable_ctx_params(default_signature(K));
}

// sign_init / verify_init: the key, and (RSA, ECDSA) the host's context for the parameters.
int init(void* vctx, void* keydata, const OSSL_PARAM params[], bool signing) {
  SigContext* ctx = as_context(vctx);
  // No key: a re-initialisation with the same key (EVP_DigestInit_ex on a signing
  // context, as BIO_f_md's reset does).
  std::shared_ptr<Key> key = keydata == nullptr && ctx->key != nullptr ? ctx->key : key_of(keydata);
  if (key == nullptr) return 0;
  if (key->kind != ctx->kind || !key->has_public) {
    ERR_raise(ERR_LIB_PROV, PROV_R_INVALID_KEY);
    return 0;
  }
  if (signing && !private_part(*key, &ctx->priv)) return 0;
  ctx->key = std::move(key);
  ctx->signing = signing;
  ctx->options.reset();
  EVP_PKEY_CTX_free(ctx->host);
  ctx->host = nullptr;
  EVP_MD_CTX_free(ctx->md);
  ctx->md = nullptr;
  if (ctx->kind == KeyKind::kEd25519) return 1;
  if (signing && ctx->priv.host != nullptr) {
    ctx->host = EVP_PKEY_CTX_new_from_pkey(nullptr, ctx->priv.host, kDefault);
    if (ctx->host == nullptr || EVP_PKEY_sign_init(ctx->host) <= 0) return 0;
  } else {
    ctx->host = host_context(*ctx->key);
    if (ctx->host == nullptr || EVP_PKEY_verify_init(ctx->host) <= 0) return 0;
  }
  return set_ctx_params(vctx, params);
}

int sign_init(void* vctx, void* keydata, const OSSL_PARAM params[]) {
  return no_throw(0, [&] { return init(vctx, keydata, params, true); });
}

int verify_init(void* vctx, void* keydata, const OSSL_PARAM params[]) {
  return no_throw(0, [&] { return init(vctx, keydata, params, false); });
}

bool sign_options(const SigContext& ctx, SignOptions* o) {
  char md[80] = "";
  char mgf1[80] = "";
  OSSL_PARAM p[] = {OSSL_PARAM_construct_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, md, sizeof(md)),
                    OSSL_PARAM_construct_int(OSSL_SIGNATURE_PARAM_PAD_MODE, &o->padding),
                    OSSL_PARAM_construct_int(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, &o->saltlen),
                    OSSL_PARAM_construct_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, mgf1, sizeof(mgf1)),
                    OSSL_PARAM_construct_end()};
  if (ctx.kind != KeyKind::kRsa) p[1] = OSSL_PARAM_construct_end();
  if (EVP_PKEY_CTX_get_params(ctx.host, p) <= 0) return false;
  o->md = md;
  if (ctx.kind != KeyKind::kRsa) return true;
  // The guest's PSS takes its MGF1 digest from the signature's (OpenSSL's default).
  if (o->padding == RSA_PKCS1_PSS_PADDING && mgf1[0] != '\0' && !o->md.empty() &&
      EVP_MD_is_a(EVP_get_digestbyname(o->md.c_str()), mgf1) == 0) {
    ERR_raise_data(ERR_LIB_PROV, ERR_R_UNSUPPORTED, "cryptine: a PSS MGF1 digest other than the signature's");
    return false;
  }
  if (o->padding != RSA_PKCS1_PSS_PADDING) o->saltlen = 0;
  return true;
}

// A held key's signature, made on the host by the default provider.
int sign_on_host(SigContext* ctx, unsigned char* sig, size_t* siglen, size_t sigsize, std::span<const uint8_t> tbs) {
  OnHost on_host;
  size_t len = sigsize;
  if (ctx->kind != KeyKind::kEd25519) {
    if (EVP_PKEY_sign(ctx->host, sig, &len, tbs.data(), tbs.size()) <= 0) return 0;
  } else {
    EVP_MD_CTX* m = EVP_MD_CTX_new();
    const bool ok = m != nullptr &&
                    EVP_DigestSignInit_ex(m, nullptr, nullptr, nullptr, kDefault, ctx->priv.host, nullptr) == 1 &&
                    EVP_DigestSign(m, sig, &len, tbs.data(), tbs.size()) == 1;
    EVP_MD_CTX_free(m);
    if (!ok) return 0;
  }
  *siglen = len;
  return 1;
}

// The signature of `tbs` (a digest, or for Ed25519 the message) by the key's handle: the
// input goes in, the signature comes back, checked against the key contract.
int sign_by_handle(SigContext* ctx, unsigned char* sig, size_t* siglen, size_t sigsize, std::span<const uint8_t> tbs) {
  Key& key = *ctx->key;
  if (sig == nullptr) {  // the size query
    *siglen = key.facts.max_size;
    return 1;
  }
  if (!ctx->signing) {
    ERR_raise(ERR_LIB_PROV, PROV_R_NOT_A_PRIVATE_KEY);
    return 0;
  }
  // OpenSSL's own providers refuse a short buffer before signing (RSA and Ed25519 saying
  // so, ECDSA silently): the same here, before the guest is asked.
  if (sigsize < key.facts.max_size) {
    if (ctx->kind != KeyKind::kEc)
      ERR_raise_data(ERR_LIB_PROV, PROV_R_INVALID_SIGNATURE_SIZE, "is %zu, should be at least %zu", sigsize,
                     key.facts.max_size);
    return 0;
  }
  if (ctx->priv.host != nullptr) return sign_on_host(ctx, sig, siglen, sigsize, tbs);
  if (ctx->kind != KeyKind::kEd25519 && !ctx->options && !sign_options(*ctx, &ctx->options.emplace())) {
    ctx->options.reset();
    return 0;
  }
  // The signature is checked where the guest wrote it and copied once, into `sig`.
  const auto by_handle = [&](Virtine& v) -> Status {
    const guest::Handle h = ctx->priv.twin.handle;
    const MailboxReply r = ctx->kind == KeyKind::kEd25519
                               ? CRYPTINE_TRY(guest::digest_sign_in_mailbox(v, h, "", tbs))
                               : CRYPTINE_TRY(guest::sign_in_mailbox(v, h, ctx->options->md, tbs, ctx->options->padding,
                                                                     ctx->options->saltlen));
    Status checked = check_signature(key.facts, r.out, sigsize);
    if (!checked.ok()) return v.poison(std::move(checked).error());
    std::memcpy(sig, r.out.data(), r.out.size());
    *siglen = r.out.size();
    return {};
  };
  return run_on_private_part(*ctx->key, &ctx->priv, by_handle) ? 1 : 0;
}

int sign(void* vctx, unsigned char* sig, size_t* siglen, size_t sigsize, const unsigned char* tbs, size_t tbslen) {
  return no_throw(0, [&] {
    SigContext* ctx = as_context(vctx);
    if (ctx->key == nullptr || ctx->host == nullptr) {
      ERR_raise(ERR_LIB_PROV, ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED);
      return 0;
    }
    return sign_by_handle(ctx, sig, siglen, sigsize, {tbs, tbslen});
  });
}

int verify(void* vctx, const unsigned char* sig, size_t siglen, const unsigned char* tbs, size_t tbslen) {
  return no_throw(0, [&] {
    SigContext* ctx = as_context(vctx);
    if (ctx->host == nullptr) {
      ERR_raise(ERR_LIB_PROV, ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED);
      return 0;
    }
    return EVP_PKEY_verify(ctx->host, sig, siglen, tbs, tbslen) > 0 ? 1 : 0;
  });
}

// digest_sign_init / digest_verify_init (RSA, ECDSA): the digest set on the host context
// (so that PKCS#1 wraps it in its DigestInfo) and a host digest for the message.
int digest_init(void* vctx, const char* mdname, void* keydata, const OSSL_PARAM params[], bool signing) {
  SigContext* ctx = as_context(vctx);
  if (!init(vctx, keydata, params, signing)) return 0;
  if (ctx->kind == KeyKind::kEd25519) return 1;
  std::string name = mdname != nullptr ? mdname : "";
  if (name.empty()) {  // the key's default, as OpenSSL's own providers take it
    char def[80] = "";
    if (EVP_PKEY_get_default_digest_name(ctx->key->pub, def, sizeof(def)) <= 0) return 0;
    name = def;
  }
  OSSL_PARAM p[] = {OSSL_PARAM_construct_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, name.data(), 0),
                    OSSL_PARAM_construct_end()};
  if (EVP_PKEY_CTX_set_params(ctx->host, p) <= 0) return 0;
  ctx->options.reset();
  EVP_MD* md = EVP_MD_fetch(nullptr, name.c_str(), kDefault);
  ctx->md = EVP_MD_CTX_new();
  const bool ok = md != nullptr && ctx->md != nullptr && EVP_DigestInit_ex(ctx->md, md, nullptr) == 1;
  EVP_MD_free(md);
  return ok ? 1 : 0;
}

int digest_sign_init(void* vctx, const char* mdname, void* keydata, const OSSL_PARAM params[]) {
  return no_throw(0, [&] { return digest_init(vctx, mdname, keydata, params, true); });
}

int digest_verify_init(void* vctx, const char* mdname, void* keydata, const OSSL_PARAM params[]) {
  return no_throw(0, [&] { return digest_init(vctx, mdname, keydata, params, false); });
}

int digest_update(void* vctx, const unsigned char* data, size_t datalen) {
  return no_throw(0, [&] {
    SigContext* ctx = as_context(vctx);
    if (ctx->md == nullptr) {
      ERR_raise(ERR_LIB_PROV, ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED);
      return 0;
    }
    return EVP_DigestUpdate(ctx->md, data, datalen);
  });
}

// The message's digest so far; the host context is finished (EVP copies it first when the
// program may go on).
bool finish_digest(SigContext* ctx, unsigned char* out, unsigned int* len) {
  if (ctx->md == nullptr) {
    ERR_raise(ERR_LIB_PROV, ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED);
    return false;
  }
  return EVP_DigestFinal_ex(ctx->md, out, len) == 1;
}

int digest_sign_final(void* vctx, unsigned char* sig, size_t* siglen, size_t sigsize) {
  return no_throw(0, [&] {
    SigContext* ctx = as_context(vctx);
    if (ctx->key == nullptr) {
      ERR_raise(ERR_LIB_PROV, ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED);
      return 0;
    }
    if (sig == nullptr) return sign_by_handle(ctx, nullptr, siglen, sigsize, {});
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!finish_digest(ctx, digest, &len)) return 0;
    return sign_by_handle(ctx, sig, siglen, sigsize, {digest, len});
  });
}

int digest_verify_final(void* vctx, const unsigned char* sig, size_t siglen) {
  return no_throw(0, [&] {
    SigContext* ctx = as_context(vctx);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!finish_digest(ctx, digest, &len)) return 0;
    return EVP_PKEY_verify(ctx->host, sig, siglen, digest, len) > 0 ? 1 : 0;
  });
}

// Ed25519: one-shot only, the whole message to the virtine (it has no separate digest).
int oneshot_digest_sign(void* vctx, unsigned char* sig, size_t* siglen, size_t sigsize, const unsigned char* tbs,
                        size_t tbslen) {
  return no_throw(0, [&] {
    SigContext* ctx = as_context(vctx);
    if (ctx->key == nullptr) {
      ERR_raise(ERR_LIB_PROV, ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED);
      return 0;
    }
    return sign_by_handle(ctx, sig, siglen, sigsize, {tbs, tbslen});
  });
}

int oneshot_digest_verify(void* vctx, const unsigned char* sig, size_t siglen, const unsigned char* tbs,
                          size_t tbslen) {
  return no_throw(0, [&] {
    SigContext* ctx = as_context(vctx);
    if (ctx->key == nullptr) {
      ERR_raise(ERR_LIB_PROV, ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED);
      return 0;
    }
    EVP_MD_CTX* mctx = EVP_MD_CTX_new();
    const int ok = mctx != nullptr &&
                   EVP_DigestVerifyInit_ex(mctx, nullptr, nullptr, nullptr, kDefault, ctx->key->pub, nullptr) == 1 &&
                   EVP_DigestVerify(mctx, sig, siglen, tbs, tbslen) == 1;
    EVP_MD_CTX_free(mctx);
    return ok ? 1 : 0;
  });
}

using Fn = void (*)(void);
template <KeyKind K>
const OSSL_DISPATCH kFunctions[] = {
    {OSSL_FUNC_SIGNATURE_NEWCTX, reinterpret_cast<Fn>(&new_context<K>)},
    {OSSL_FUNC_SIGNATURE_FREECTX, reinterpret_cast<Fn>(&free_host_context<SigContext>)},
    {OSSL_FUNC_SIGNATURE_DUPCTX, reinterpret_cast<Fn>(&dup_context)},
    {OSSL_FUNC_SIGNATURE_SIGN_INIT, reinterpret_cast<Fn>(&sign_init)},
    {OSSL_FUNC_SIGNATURE_SIGN, reinterpret_cast<Fn>(&sign)},
    {OSSL_FUNC_SIGNATURE_VERIFY_INIT, reinterpret_cast<Fn>(&verify_init)},
    {OSSL_FUNC_SIGNATURE_VERIFY, reinterpret_cast<Fn>(&verify)},
    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT, reinterpret_cast<Fn>(&digest_sign_init)},
    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_UPDATE, reinterpret_cast<Fn>(&digest_update)},
    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_FINAL, reinterpret_cast<Fn>(&digest_sign_final)},
    {OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_INIT, reinterpret_cast<Fn>(&digest_verify_init)},
    {OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_UPDATE, reinterpret_cast<Fn>(&digest_update)},
    {OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_FINAL, reinterpret_cast<Fn>(&digest_verify_final)},
    {OSSL_FUNC_SIGNATURE_GET_CTX_PARAMS, reinterpret_cast<Fn>(&get_ctx_params)},
    {OSSL_FUNC_SIGNATURE_GETTABLE_CTX_PARAMS, reinterpret_cast<Fn>(&gettable_ctx_params<K>)},
    {OSSL_FUNC_SIGNATURE_SET_CTX_PARAMS, reinterpret_cast<Fn>(&set_ctx_params)},
    {OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS, reinterpret_cast<Fn>(&settable_ctx_params<K>)},
    {0, nullptr}};

const OSSL_DISPATCH kEd25519Functions[] = {
    {OSSL_FUNC_SIGNATURE_NEWCTX, reinterpret_cast<Fn>(&new_context<KeyKind::kEd25519>)},
    {OSSL_FUNC_SIGNATURE_FREECTX, reinterpret_cast<Fn>(&free_host_context<SigContext>)},
    {OSSL_FUNC_SIGNATURE_DUPCTX, reinterpret_cast<Fn>(&dup_context)},
    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT, reinterpret_cast<Fn>(&digest_sign_init)},
    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN, reinterpret_cast<Fn>(&oneshot_digest_sign)},
    {OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_INIT, reinterpret_cast<Fn>(&digest_verify_init)},
    {OSSL_FUNC_SIGNATURE_DIGEST_VERIFY, reinterpret_cast<Fn>(&oneshot_digest_verify)},
    {OSSL_FUNC_SIGNATURE_GET_CTX_PARAMS, reinterpret_cast<Fn>(&get_ctx_params)},
    {OSSL_FUNC_SIGNATURE_GETTABLE_CTX_PARAMS, reinterpret_cast<Fn>(&gettable_ctx_params<KeyKind::kEd25519>)},
    {0, nullptr}};

const OSSL_ALGORITHM kAlgorithms[] = {
    {"RSA:rsaEncryption:1.2.840.113549.1.1.1", "provider=cryptine", kFunctions<KeyKind::kRsa>,
     "RSA signatures in cryptine virtines"},
    {"ECDSA", "provider=cryptine", kFunctions<KeyKind::kEc>, "ECDSA in cryptine virtines"},
    {"ED25519:1.3.101.112", "provider=cryptine", kEd25519Functions, "Ed25519 in cryptine virtines"},
};

}  // namespace

const OSSL_ALGORITHM* signature_algorithms() {
  static const std::vector<OSSL_ALGORITHM>* list = new std::vector<OSSL_ALGORITHM>(offered_keys(kAlgorithms));
  return list->data();
}

}  // namespace cryptine::provider
