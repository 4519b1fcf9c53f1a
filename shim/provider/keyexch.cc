// Key exchange, modelled on OpenSSL's providers/implementations/exchange/ (ecdh_exch.c,
// ecx_exch.c): the peer's public key (SubjectPublicKeyInfo DER, from the host's copy) goes
// to the virtine holding our private key, and the shared secret comes back, checked to be
// exactly the curve's size: one virtine call per derivation. Plain derivation only: no
// cofactor mode change and no X9.63 KDF (set_ctx_params refuses them), which is what
// libssl and pkeyutl -derive use. Preloaded, a key held on the host where no virtine can
// run (key_data.h) derives there, with the default provider.
#include "shim/provider/keyexch.h"

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/prov_ssl.h>
#include <openssl/proverr.h>
#include <openssl/x509.h>

#include <cstring>
#include <new>
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

std::string lower(const char* s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return out;
}

struct ExchContext {
  KeyKind kind;
  std::shared_ptr<Key> key;
  std::shared_ptr<Key> peer;
  PrivatePart priv;
};

ExchContext* as_context(void* vctx) {
  return static_cast<ExchContext*>(vctx);
}

template <KeyKind K>
void* new_context(void*) {
  return new_host_context<ExchContext>(K, nullptr, nullptr, PrivatePart{});
}

int set_ctx_params(void*, const OSSL_PARAM params[]) {
  if (params == nullptr || params[0].key == nullptr) return 1;
  ERR_raise_data(ERR_LIB_PROV, ERR_R_UNSUPPORTED, "cryptine: key exchange parameters (cofactor mode, KDF)");
  return 0;
}

const OSSL_PARAM* settable_ctx_params(void*, void*) {
  static const OSSL_PARAM kNone[] = {OSSL_PARAM_END};
  return kNone;
}

int init(void* vctx, void* keydata, const OSSL_PARAM params[]) {
  return no_throw(0, [&] {
    ExchContext* ctx = as_context(vctx);
    std::shared_ptr<Key> key = keydata == nullptr && ctx->key != nullptr ? ctx->key : key_of(keydata);
    if (key == nullptr) return 0;
    if (key->kind != ctx->kind) {
      ERR_raise(ERR_LIB_PROV, PROV_R_NOT_A_PRIVATE_KEY);
      return 0;
    }
    if (!private_part(*key, &ctx->priv)) return 0;
    ctx->key = std::move(key);
    ctx->peer.reset();
    return set_ctx_params(vctx, params);
  });
}

int set_peer(void* vctx, void* peerdata) {
  return no_throw(0, [&] {
    ExchContext* ctx = as_context(vctx);
    std::shared_ptr<Key> peer = key_of(peerdata);
    if (peer == nullptr) return 0;
    if (peer->kind != ctx->kind || !peer->has_public) {
      ERR_raise(ERR_LIB_PROV, PROV_R_NOT_A_PUBLIC_KEY);
      return 0;
    }
    // The same curve, as OpenSSL's own ECDH checks here (X25519 has one).
    if (ctx->key != nullptr && EVP_PKEY_parameters_eq(ctx->key->pub, peer->pub) != 1) {
      ERR_raise(ERR_LIB_PROV, PROV_R_MISMATCHING_DOMAIN_PARAMETERS);
      return 0;
    }
    ctx->peer = std::move(peer);
    return 1;
  });
}

int derive_on_host(ExchContext* ctx, unsigned char* secret, size_t* secretlen, size_t outlen) {
  OnHost on_host;
  EVP_PKEY_CTX* host = EVP_PKEY_CTX_new_from_pkey(nullptr, ctx->priv.host, kDefault);
  size_t len = outlen;
  const bool ok = host != nullptr && EVP_PKEY_derive_init(host) > 0 &&
                  EVP_PKEY_derive_set_peer(host, ctx->peer->pub) > 0 && EVP_PKEY_derive(host, secret, &len) > 0;
  EVP_PKEY_CTX_free(host);
  if (ok) *secretlen = len;
  return ok ? 1 : 0;
}

int derive(void* vctx, unsigned char* secret, size_t* secretlen, size_t outlen) {
  return no_throw(0, [&] {
    ExchContext* ctx = as_context(vctx);
    if (ctx->key == nullptr || ctx->peer == nullptr) {
      ERR_raise(ERR_LIB_PROV, ctx->key == nullptr ? PROV_R_NOT_A_PRIVATE_KEY : PROV_R_NOT_A_PUBLIC_KEY);
      return 0;
    }
    const Key& key = *ctx->key;
    if (secret == nullptr) {
      *secretlen = key.facts.secret_size;
      return 1;
    }
    if (outlen < key.facts.secret_size) {
      ERR_raise(ERR_LIB_PROV, PROV_R_OUTPUT_BUFFER_TOO_SMALL);
      return 0;
    }
    if (ctx->priv.host != nullptr) return derive_on_host(ctx, secret, secretlen, outlen);
    unsigned char* der = nullptr;
    const int derlen = i2d_PUBKEY(ctx->peer->pub, &der);
    if (derlen <= 0) return 0;
    const bool ok = run_on_private_part(*ctx->key, &ctx->priv, [&](Virtine& v) -> Status {
      const guest::Bytes s = CRYPTINE_TRY(guest::derive(v, ctx->priv.twin.handle, {der, static_cast<size_t>(derlen)}));
      Status checked = check_secret(key.facts, s.size(), outlen);
      if (!checked.ok()) return v.poison(std::move(checked).error());
      std::memcpy(secret, s.data(), s.size());
      *secretlen = s.size();
      return {};
    });
    OPENSSL_free(der);
    return ok ? 1 : 0;
  });
}

using Fn = void (*)(void);
template <KeyKind K>
const OSSL_DISPATCH kFunctions[] = {
    {OSSL_FUNC_KEYEXCH_NEWCTX, reinterpret_cast<Fn>(&new_context<K>)},
    {OSSL_FUNC_KEYEXCH_FREECTX, reinterpret_cast<Fn>(&free_host_context<ExchContext>)},
    {OSSL_FUNC_KEYEXCH_DUPCTX, reinterpret_cast<Fn>(&dup_host_context<ExchContext>)},  // shares both keys
    {OSSL_FUNC_KEYEXCH_INIT, reinterpret_cast<Fn>(&init)},
    {OSSL_FUNC_KEYEXCH_SET_PEER, reinterpret_cast<Fn>(&set_peer)},
    {OSSL_FUNC_KEYEXCH_DERIVE, reinterpret_cast<Fn>(&derive)},
    {OSSL_FUNC_KEYEXCH_SET_CTX_PARAMS, reinterpret_cast<Fn>(&set_ctx_params)},
    {OSSL_FUNC_KEYEXCH_SETTABLE_CTX_PARAMS, reinterpret_cast<Fn>(&settable_ctx_params)},
    {0, nullptr}};

const OSSL_ALGORITHM kAlgorithms[] = {
    {"ECDH", "provider=cryptine", kFunctions<KeyKind::kEc>, "ECDH in cryptine virtines"},
    {"X25519:1.3.101.110", "provider=cryptine", kFunctions<KeyKind::kX25519>, "X25519 in cryptine virtines"},
};

}  // namespace

const OSSL_ALGORITHM* keyexch_algorithms() {
  static const std::vector<OSSL_ALGORITHM>* list = new std::vector<OSSL_ALGORITHM>(offered_keys(kAlgorithms));
  return list->data();
}

namespace {
// As OpenSSL's providers/common/capabilities.c states them.
struct TlsGroup {
  const char* name;
  const char* internal;
  const char* algorithm;
  const char* exchange;  // the key exchange that must be offered
  unsigned int id;
  unsigned int secbits;
};
constexpr TlsGroup kGroups[] = {
    {"secp256r1", "prime256v1", "EC", "ECDH", 23, 128}, {"P-256", "prime256v1", "EC", "ECDH", 23, 128},
    {"secp384r1", "secp384r1", "EC", "ECDH", 24, 192},  {"P-384", "secp384r1", "EC", "ECDH", 24, 192},
    {"secp521r1", "secp521r1", "EC", "ECDH", 25, 256},  {"P-521", "secp521r1", "EC", "ECDH", 25, 256},
    {"x25519", "X25519", "X25519", "X25519", 29, 128},
};
}  // namespace

int tls_group_capabilities(OSSL_CALLBACK* cb, void* arg) {
  for (const TlsGroup& g : kGroups) {
    bool served = false;
    for (const OSSL_ALGORITHM* a = keyexch_algorithms(); a->algorithm_names != nullptr; ++a)
      served = served || named_by(a->algorithm_names, {lower(g.exchange)});
    if (!served) continue;
    unsigned int id = g.id, secbits = g.secbits;
    int min_tls = TLS1_VERSION, max_tls = 0, min_dtls = DTLS1_VERSION, max_dtls = 0;
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_CAPABILITY_TLS_GROUP_NAME, const_cast<char*>(g.name), 0),
        OSSL_PARAM_construct_utf8_string(OSSL_CAPABILITY_TLS_GROUP_NAME_INTERNAL, const_cast<char*>(g.internal), 0),
        OSSL_PARAM_construct_utf8_string(OSSL_CAPABILITY_TLS_GROUP_ALG, const_cast<char*>(g.algorithm), 0),
        OSSL_PARAM_construct_uint(OSSL_CAPABILITY_TLS_GROUP_ID, &id),
        OSSL_PARAM_construct_uint(OSSL_CAPABILITY_TLS_GROUP_SECURITY_BITS, &secbits),
        OSSL_PARAM_construct_int(OSSL_CAPABILITY_TLS_GROUP_MIN_TLS, &min_tls),
        OSSL_PARAM_construct_int(OSSL_CAPABILITY_TLS_GROUP_MAX_TLS, &max_tls),
        OSSL_PARAM_construct_int(OSSL_CAPABILITY_TLS_GROUP_MIN_DTLS, &min_dtls),
        OSSL_PARAM_construct_int(OSSL_CAPABILITY_TLS_GROUP_MAX_DTLS, &max_dtls),
        OSSL_PARAM_construct_end()};
    if (!cb(params, arg)) return 0;
  }
  return 1;
}

}  // namespace cryptine::provider
