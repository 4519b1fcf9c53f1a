// Key management, modelled on OpenSSL's providers/implementations/keymgmt/ (rsa_kmgmt.c,
// ec_kmgmt.c, ecx_kmgmt.c): one dispatch table per key type over the same small
// functions. What can be answered from the public part is answered by the default
// provider's own key management on the host copy, so the numbers OpenSSL sees (bits,
// security bits, maximum size, default digest) are OpenSSL's, never the guest's.
#include "shim/provider/keymgmt.h"

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/proverr.h>

#include <new>
#include <string>
#include <utility>
#include <vector>

#include "shim/client/runtime.h"
#include "shim/client/virtine_call.h"
#include "shim/provider/algorithm_filter.h"
#include "shim/provider/key_data.h"

namespace cryptine::provider {
namespace {

// The default provider's key management for `kind`, for its parameter lists (fetched
// once, kept for the process's life: OpenSSL keeps pointers into the lists).
EVP_KEYMGMT* default_keymgmt(KeyKind kind) {
  static EVP_KEYMGMT* const kKeymgmts[] = {EVP_KEYMGMT_fetch(nullptr, "RSA", "provider=default"),
                                           EVP_KEYMGMT_fetch(nullptr, "EC", "provider=default"),
                                           EVP_KEYMGMT_fetch(nullptr, "ED25519", "provider=default"),
                                           EVP_KEYMGMT_fetch(nullptr, "X25519", "provider=default")};
  return kKeymgmts[static_cast<int>(kind)];
}

template <KeyKind K>
void* new_key(void*) {
  return no_throw<void*>(nullptr, []() -> void* {
    auto* kd = new (std::nothrow) KeyData{K, nullptr};
    if (kd == nullptr) ERR_raise(ERR_LIB_PROV, ERR_R_MALLOC_FAILURE);
    return kd;
  });
}

// A key the provider's decoder made (key_decoder.cc): `reference` holds its KeyData*, which
// this takes over (the decoder frees what is left there).
template <KeyKind K>
void* load(const void* reference, size_t size) {
  if (reference == nullptr || size != sizeof(KeyData*)) return nullptr;
  auto** slot = static_cast<KeyData**>(const_cast<void*>(reference));
  if (*slot == nullptr || (*slot)->kind != K) return nullptr;
  return std::exchange(*slot, nullptr);
}

void free_key(void* keydata) {
  no_throw(0, [&] {
    delete static_cast<KeyData*>(keydata);
    return 0;
  });
}

int has(const void* keydata, int selection) {
  const auto* kd = static_cast<const KeyData*>(keydata);
  if (kd == nullptr) return 0;
  if ((selection & OSSL_KEYMGMT_SELECT_ALL) == 0) return 1;
  const Key* key = kd->key.get();
  if (key == nullptr) return 0;
  int ok = 1;
  if ((selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) != 0) ok = ok && key->has_public;
  if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0) ok = ok && key->has_private;
  // RSA and the Edwards curves always have their (empty) domain parameters; EC its curve,
  // which every imported EC key has.
  return ok;
}

int match(const void* keydata1, const void* keydata2, int selection) {
  return no_throw(0, [&] {
    const auto* a = static_cast<const KeyData*>(keydata1);
    const auto* b = static_cast<const KeyData*>(keydata2);
    if (a == nullptr || b == nullptr || a->key == nullptr || b->key == nullptr) return 0;
    if (a->key == b->key) return 1;
    if ((selection & OSSL_KEYMGMT_SELECT_KEYPAIR) != 0) {
      // The public parts decide (a private key's public part is derived from it); two
      // keys without one (cannot happen after import) do not match.
      if (!a->key->has_public || !b->key->has_public) return 0;
      return EVP_PKEY_eq(a->key->pub, b->key->pub) == 1 ? 1 : 0;
    }
    if (a->key->pub == nullptr || b->key->pub == nullptr) return a->key->pub == b->key->pub ? 1 : 0;
    if ((selection & OSSL_KEYMGMT_SELECT_ALL_PARAMETERS) != 0)
      return EVP_PKEY_parameters_eq(a->key->pub, b->key->pub) == 1 ? 1 : 0;
    return 1;
  });
}

int import(void* keydata, int selection, const OSSL_PARAM params[]) {
  return no_throw(0, [&] {
    auto* kd = static_cast<KeyData*>(keydata);
    if (kd == nullptr || kd->key != nullptr) {
      ERR_raise_data(ERR_LIB_PROV, ERR_R_PASSED_INVALID_ARGUMENT, "cryptine: import into a key that holds one");
      return 0;
    }
    return import_key(kd, selection, params);
  });
}

// Only public parts leave: the private key exists in its virtine alone (or, preloaded, held
// for it on the host: that copy does not leave either).
int export_key(void* keydata, int selection, OSSL_CALLBACK* cb, void* cbarg) {
  return no_throw(0, [&] {
    const std::shared_ptr<Key> key = key_of(keydata);
    if (key == nullptr) return 0;
    if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0) {
      if (key->has_private && Runtime::get().config().key_export) return export_private(*key, selection, cb, cbarg);
      ERR_raise_data(ERR_LIB_PROV, PROV_R_NOT_A_PRIVATE_KEY,
                     "cryptine: a private key stays in its virtine; only its public part can be exported "
                     "(CRYPTINE_KEY_EXPORT=1 lets it out)");
      return 0;
    }
    if (key->pub == nullptr || ((selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) != 0 && !key->has_public)) {
      ERR_raise(ERR_LIB_PROV, PROV_R_NOT_A_PUBLIC_KEY);
      return 0;
    }
    OSSL_PARAM* params = nullptr;
    const int host_selection =
        (selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) != 0 ? EVP_PKEY_PUBLIC_KEY : EVP_PKEY_KEY_PARAMETERS;
    if (EVP_PKEY_todata(key->pub, host_selection, &params) <= 0) return 0;
    const int ret = cb(params, cbarg);
    OSSL_PARAM_free(params);
    return ret;
  });
}

// What import takes and export gives (OpenSSL requires the lists with the functions):
// the default provider's names for the same key parts.
const OSSL_PARAM kRsaTypes[] = {OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, nullptr, 0),
                                OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, nullptr, 0),
                                OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_D, nullptr, 0),
                                OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_FACTOR1, nullptr, 0),
                                OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_FACTOR2, nullptr, 0),
                                OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_EXPONENT1, nullptr, 0),
                                OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_EXPONENT2, nullptr, 0),
                                OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_COEFFICIENT1, nullptr, 0),
                                OSSL_PARAM_END};
const OSSL_PARAM kEcTypes[] = {OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, nullptr, 0),
                               OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_ENCODING, nullptr, 0),
                               OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, nullptr, 0),
                               OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, nullptr, 0),
                               OSSL_PARAM_BN(OSSL_PKEY_PARAM_PRIV_KEY, nullptr, 0),
                               OSSL_PARAM_END};
const OSSL_PARAM kEcxTypes[] = {OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, nullptr, 0),
                                OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PRIV_KEY, nullptr, 0), OSSL_PARAM_END};

template <KeyKind K>
const OSSL_PARAM* key_types(int) {
  switch (K) {
    case KeyKind::kRsa: return kRsaTypes;
    case KeyKind::kEc: return kEcTypes;
    default: return kEcxTypes;
  }
}

int get_params(void* keydata, OSSL_PARAM params[]) {
  return no_throw(0, [&] {
    const std::shared_ptr<Key> key = key_of(keydata);
    if (key == nullptr) return 0;
    if (key->pub == nullptr) return 1;  // an X25519 key before its peer's public part: nothing to say
    return EVP_PKEY_get_params(key->pub, params) ? 1 : 0;
  });
}

template <KeyKind K>
const OSSL_PARAM* gettable_params(void*) {
  return EVP_KEYMGMT_gettable_params(default_keymgmt(K));
}

// A copy shares the guest's key (it never changes after import): no virtine call. A copy
// without the private part gets the public part alone.
void* dup(const void* keydata, int selection) {
  return no_throw<void*>(nullptr, [&]() -> void* {
    const auto* in = static_cast<const KeyData*>(keydata);
    auto* out = new (std::nothrow) KeyData{in->kind, nullptr};
    if (out == nullptr) {
      ERR_raise(ERR_LIB_PROV, ERR_R_MALLOC_FAILURE);
      return nullptr;
    }
    if (in->key == nullptr) return out;
    if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0 || !in->key->has_private) {
      out->key = in->key;
      return out;
    }
    auto copy = std::make_shared<Key>(in->kind);
    if (EVP_PKEY_up_ref(in->key->pub) != 1) {
      delete out;
      return nullptr;
    }
    copy->pub = in->key->pub;
    copy->has_public = in->key->has_public && (selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) != 0;
    copy->facts = in->key->facts;
    out->key = std::move(copy);
    return out;
  });
}

// A TLS peer's key: parameters from paramgen, then its encoded public key.
int set_params(void* keydata, const OSSL_PARAM params[]) {
  return no_throw(0, [&] {
    const OSSL_PARAM* p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY);
    return p == nullptr ? 1 : set_encoded_public_key(static_cast<KeyData*>(keydata), p);
  });
}

const OSSL_PARAM* settable_params(void*) {
  static const OSSL_PARAM kSettable[] = {OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, nullptr, 0),
                                         OSSL_PARAM_END};
  return kSettable;
}

// Key generation: the key made in a virtine (key_data.cc). What it needs: EC's curve (by
// name, or from a template key), RSA's size.
struct GenContext {
  KeyKind kind;
  int selection;
  std::string group;
  int bits = 2048;
};

template <KeyKind K>
void* gen_init(void*, int selection, const OSSL_PARAM params[]);

int gen_set_params(void* genctx, const OSSL_PARAM params[]) {
  return no_throw(0, [&] {
    auto* g = static_cast<GenContext*>(genctx);
    const OSSL_PARAM* p;
    if ((p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_GROUP_NAME)) != nullptr) {
      const char* name = nullptr;
      if (OSSL_PARAM_get_utf8_string_ptr(p, &name) != 1) return 0;
      // X25519 has one group, of its own name (libssl names it so).
      if (g->kind == KeyKind::kX25519 && OPENSSL_strcasecmp(name, "x25519") != 0) {
        ERR_raise(ERR_LIB_PROV, PROV_R_INVALID_CURVE);
        return 0;
      }
      g->group = name;
    }
    if ((p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_RSA_BITS)) != nullptr &&
        OSSL_PARAM_get_int(p, &g->bits) != 1)
      return 0;
    return 1;
  });
}

template <KeyKind K>
void* gen_init(void*, int selection, const OSSL_PARAM params[]) {
  return no_throw<void*>(nullptr, [&]() -> void* {
    auto* g = new (std::nothrow) GenContext{K, selection, "", 2048};
    if (g == nullptr) {
      ERR_raise(ERR_LIB_PROV, ERR_R_MALLOC_FAILURE);
      return nullptr;
    }
    if (!gen_set_params(g, params)) {
      delete g;
      return nullptr;
    }
    return g;
  });
}

int gen_set_template(void* genctx, void* templ) {
  return no_throw(0, [&] {
    auto* g = static_cast<GenContext*>(genctx);
    const auto* t = static_cast<const KeyData*>(templ);
    if (g->kind != KeyKind::kEc || t == nullptr || t->key == nullptr || t->key->pub == nullptr) return 1;
    char curve[80] = "";
    if (EVP_PKEY_get_group_name(t->key->pub, curve, sizeof(curve), nullptr) != 1) return 0;
    g->group = curve;
    return 1;
  });
}

const OSSL_PARAM* gen_settable_params(void*, void*) {
  static const OSSL_PARAM kSettable[] = {OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, nullptr, 0),
                                         OSSL_PARAM_int(OSSL_PKEY_PARAM_RSA_BITS, nullptr), OSSL_PARAM_END};
  return kSettable;
}

void* gen(void* genctx, OSSL_CALLBACK*, void*) {
  return no_throw<void*>(nullptr, [&]() -> void* {
    const auto* g = static_cast<const GenContext*>(genctx);
    if (g->kind == KeyKind::kEc && g->group.empty()) {
      ERR_raise(ERR_LIB_PROV, PROV_R_NO_PARAMETERS_SET);
      return nullptr;
    }
    auto* kd = new (std::nothrow) KeyData{g->kind, nullptr};
    if (kd == nullptr) {
      ERR_raise(ERR_LIB_PROV, ERR_R_MALLOC_FAILURE);
      return nullptr;
    }
    if (!generate_key(kd, g->selection, g->group, g->bits)) {
      delete kd;
      return nullptr;
    }
    return kd;
  });
}

void gen_cleanup(void* genctx) {
  delete static_cast<GenContext*>(genctx);
}

const char* ec_operation_name(int operation_id) {
  switch (operation_id) {
    case OSSL_OP_KEYEXCH: return "ECDH";
    case OSSL_OP_SIGNATURE: return "ECDSA";
    default: return nullptr;
  }
}

using Fn = void (*)(void);
template <KeyKind K>
const OSSL_DISPATCH kFunctions[] = {{OSSL_FUNC_KEYMGMT_NEW, reinterpret_cast<Fn>(&new_key<K>)},
                                    {OSSL_FUNC_KEYMGMT_FREE, reinterpret_cast<Fn>(&free_key)},
                                    {OSSL_FUNC_KEYMGMT_LOAD, reinterpret_cast<Fn>(&load<K>)},
                                    {OSSL_FUNC_KEYMGMT_HAS, reinterpret_cast<Fn>(&has)},
                                    {OSSL_FUNC_KEYMGMT_MATCH, reinterpret_cast<Fn>(&match)},
                                    {OSSL_FUNC_KEYMGMT_IMPORT, reinterpret_cast<Fn>(&import)},
                                    {OSSL_FUNC_KEYMGMT_IMPORT_TYPES, reinterpret_cast<Fn>(&key_types<K>)},
                                    {OSSL_FUNC_KEYMGMT_EXPORT, reinterpret_cast<Fn>(&export_key)},
                                    {OSSL_FUNC_KEYMGMT_EXPORT_TYPES, reinterpret_cast<Fn>(&key_types<K>)},
                                    {OSSL_FUNC_KEYMGMT_GET_PARAMS, reinterpret_cast<Fn>(&get_params)},
                                    {OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS, reinterpret_cast<Fn>(&gettable_params<K>)},
                                    {OSSL_FUNC_KEYMGMT_DUP, reinterpret_cast<Fn>(&dup)},
                                    {OSSL_FUNC_KEYMGMT_SET_PARAMS, reinterpret_cast<Fn>(&set_params)},
                                    {OSSL_FUNC_KEYMGMT_SETTABLE_PARAMS, reinterpret_cast<Fn>(&settable_params)},
                                    {OSSL_FUNC_KEYMGMT_GEN_INIT, reinterpret_cast<Fn>(&gen_init<K>)},
                                    {OSSL_FUNC_KEYMGMT_GEN_SET_PARAMS, reinterpret_cast<Fn>(&gen_set_params)},
                                    {OSSL_FUNC_KEYMGMT_GEN_SET_TEMPLATE, reinterpret_cast<Fn>(&gen_set_template)},
                                    {OSSL_FUNC_KEYMGMT_GEN_SETTABLE_PARAMS, reinterpret_cast<Fn>(&gen_settable_params)},
                                    {OSSL_FUNC_KEYMGMT_GEN, reinterpret_cast<Fn>(&gen)},
                                    {OSSL_FUNC_KEYMGMT_GEN_CLEANUP, reinterpret_cast<Fn>(&gen_cleanup)},
                                    // EC's operations are named apart from its keys; for the other kinds this entry
                                    // ends the table (their operations have the keys' names).
                                    {K == KeyKind::kEc ? OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME : 0,
                                     K == KeyKind::kEc ? reinterpret_cast<Fn>(&ec_operation_name) : nullptr},
                                    {0, nullptr}};

// The default provider's names, so that keys it decoded find these by name.
const OSSL_ALGORITHM kAlgorithms[] = {
    {"RSA:rsaEncryption:1.2.840.113549.1.1.1", "provider=cryptine", kFunctions<KeyKind::kRsa>,
     "RSA keys in cryptine virtines"},
    {"EC:id-ecPublicKey:1.2.840.10045.2.1", "provider=cryptine", kFunctions<KeyKind::kEc>,
     "EC keys in cryptine virtines"},
    {"ED25519:1.3.101.112", "provider=cryptine", kFunctions<KeyKind::kEd25519>, "Ed25519 keys in cryptine virtines"},
    {"X25519:1.3.101.110", "provider=cryptine", kFunctions<KeyKind::kX25519>, "X25519 keys in cryptine virtines"},
};

}  // namespace

const OSSL_ALGORITHM* keymgmt_algorithms() {
  static const std::vector<OSSL_ALGORITHM>* list = new std::vector<OSSL_ALGORITHM>(offered_keys(kAlgorithms));
  return list->data();
}

bool keymgmt_offers(KeyKind kind) {
  for (const OSSL_ALGORITHM* a = keymgmt_algorithms(); a->algorithm_names != nullptr; ++a)
    if (a->implementation == kAlgorithms[static_cast<int>(kind)].implementation) return true;
  return false;
}

}  // namespace cryptine::provider
