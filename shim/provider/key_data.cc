// Keys reach the provider by import: OpenSSL exports a key decoded by its default provider
// and imports it here (evp_keymgmt_util_export_to_provider), once per key and provider, as
// OSSL_PARAMs. The private part is rebuilt as a default-provider key only long enough to be
// encoded as PKCS#8 and sent; both are wiped and freed before import returns.
#include "shim/provider/key_data.h"

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "shim/client/runtime.h"
#include "shim/client/virtine_call.h"
#include "shim/interpose/key_operation.h"
#include "shim/provider/twin_context.h"

namespace cryptine::provider {
namespace {

constexpr const char* kDefault = "provider=default";

struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// A default-provider key of `kind` from params, with `selection` (EVP_PKEY_KEYPAIR, ...).
PkeyPtr from_data(KeyKind kind, int selection, const OSSL_PARAM params[]) {
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(EVP_PKEY_CTX_new_from_name(nullptr, key_type_name(kind), kDefault));
  EVP_PKEY* pkey = nullptr;
  if (ctx == nullptr || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
      EVP_PKEY_fromdata(ctx.get(), &pkey, selection, const_cast<OSSL_PARAM*>(params)) <= 0)
    return nullptr;
  return PkeyPtr(pkey);
}

// The key's facts from its public part; the shared secret's size from the encoded point
// (an uncompressed EC point is 1 + 2 × the field's bytes), not from the order's bits.
KeyFacts facts_of(KeyKind kind, const EVP_PKEY* pub, bool has_public) {
  KeyFacts f{kind, EVP_PKEY_get_id(pub), EVP_PKEY_get_bits(pub), 0, 0};
  const int size = EVP_PKEY_get_size(pub);
  f.max_size = size > 0 ? static_cast<size_t>(size) : 0;
  if (kind == KeyKind::kX25519) f.secret_size = 32;
  if (kind == KeyKind::kEc) {
    f.secret_size = (static_cast<size_t>(f.bits) + 7) / 8;
    unsigned char* point = nullptr;
    const size_t len = has_public ? EVP_PKEY_get1_encoded_public_key(const_cast<EVP_PKEY*>(pub), &point) : 0;
    if (len > 1 && point != nullptr && point[0] == 0x04) f.secret_size = (len - 1) / 2;
    OPENSSL_free(point);
  }
  return f;
}

// The param that carries the private key of each kind.
const char* private_param(KeyKind kind) {
  return kind == KeyKind::kRsa ? OSSL_PKEY_PARAM_RSA_D : OSSL_PKEY_PARAM_PRIV_KEY;
}

}  // namespace

Key::~Key() {
  if (twin) release_twin(*twin);
  EVP_PKEY_free(pub);
}

const char* key_type_name(KeyKind kind) {
  switch (kind) {
    case KeyKind::kRsa: return "RSA";
    case KeyKind::kEc: return "EC";
    case KeyKind::kEd25519: return "ED25519";
    case KeyKind::kX25519: return "X25519";
  }
  return "?";
}

int import_key(KeyData* kd, int selection, const OSSL_PARAM params[]) {
  auto key = std::make_shared<Key>(kd->kind);
  PkeyPtr full;
  // OpenSSL exports with every part selected (evp_keymgmt_util_export_to_provider) whether
  // the key has a private part or not (a peer's public key): the params decide.
  const bool private_part = (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0 &&
                            OSSL_PARAM_locate_const(params, private_param(kd->kind)) != nullptr;
  if (private_part) {
    full = from_data(kd->kind, EVP_PKEY_KEYPAIR, params);
    if (full == nullptr) return 0;  // the default provider raised why
  }
  // The host's copy: the public part (derived from the private key when only that came)
  // or, for EC, the curve alone.
  OSSL_PARAM* public_params = nullptr;
  if (full != nullptr && EVP_PKEY_todata(full.get(), EVP_PKEY_PUBLIC_KEY, &public_params) <= 0) return 0;
  const bool has_public = private_part || (selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) != 0;
  const int host_selection = has_public ? EVP_PKEY_PUBLIC_KEY : EVP_PKEY_KEY_PARAMETERS;
  PkeyPtr pub = from_data(kd->kind, host_selection, public_params != nullptr ? public_params : params);
  OSSL_PARAM_free(public_params);
  if (pub == nullptr) return 0;
  key->facts = facts_of(kd->kind, pub.get(), has_public);
  key->pub = pub.release();
  key->has_public = has_public;
  if (private_part) {
    Der der;
    if (!private_key_der(full.get(), &der)) {
      ERR_raise_data(ERR_LIB_PROV, ERR_R_UNSUPPORTED, "cryptine: the private key could not be encoded as PKCS#8");
      return 0;
    }
    full.reset();
    const KeyFacts facts = key->facts;
    if (!make_provider_twin(
            Family::kPkey,
            [&](Virtine& v) -> Result<guest::Handle> {
              const guest::ImportedKey k = CRYPTINE_TRY(guest::import_private_key(v, der.bytes()));
              Status s = check_import(facts, k.type, k.bits, k.size);
              if (!s.ok()) return v.poison(std::move(s).error());  // the handle goes with the virtine
              return k.handle;
            },
            &key->twin))
      return 0;
    Runtime::get().counters().key_imports.fetch_add(1, std::memory_order_relaxed);
  }
  kd->key = std::move(key);
  return 1;
}

int generate_key(KeyData* kd, int selection, const std::string& group, int bits) {
  auto key = std::make_shared<Key>(kd->kind);
  if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) == 0) {
    // Parameters only: EC's curve, nothing for the others (a peer's key takes its public
    // part by set_params).
    if (kd->kind == KeyKind::kEc) {
      OSSL_PARAM p[] = {
          OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>(group.c_str()), 0),
          OSSL_PARAM_construct_end()};
      PkeyPtr pub = from_data(kd->kind, EVP_PKEY_KEY_PARAMETERS, p);
      if (pub == nullptr) return 0;
      key->facts = facts_of(kd->kind, pub.get(), false);
      key->pub = pub.release();
    }
    kd->key = std::move(key);
    return 1;
  }
  PkeyPtr pub;
  if (!make_provider_twin(
          Family::kPkey,
          [&](Virtine& v) -> Result<guest::Handle> {
            const guest::GeneratedKey g = CRYPTINE_TRY(guest::generate_key(v, key_type_name(kd->kind), group, bits));
            // The public part must be a key of the kind (and curve) asked for, with the
            // facts the guest claims: otherwise the virtine, and its key, are discarded.
            const unsigned char* der = g.public_der.data();
            pub.reset(d2i_PUBKEY_ex(nullptr, &der, static_cast<long>(g.public_der.size()), nullptr, kDefault));
            char curve[80] = "";
            if (pub == nullptr || der != g.public_der.data() + g.public_der.size() ||
                EVP_PKEY_is_a(pub.get(), key_type_name(kd->kind)) != 1 ||
                (kd->kind == KeyKind::kEc && (EVP_PKEY_get_group_name(pub.get(), curve, sizeof(curve), nullptr) != 1 ||
                                              OPENSSL_strcasecmp(curve, group.c_str()) != 0)))
              return v.poison(Error(ErrorCode::kGuestFault, "key contract: a generated key of another kind"));
            Status s = check_import(facts_of(kd->kind, pub.get(), true), g.key.type, g.key.bits, g.key.size);
            if (!s.ok()) return v.poison(std::move(s).error());
            return g.key.handle;
          },
          &key->twin))
    return 0;
  key->facts = facts_of(kd->kind, pub.get(), true);
  key->pub = pub.release();
  key->has_public = true;
  kd->key = std::move(key);
  return 1;
}

int set_encoded_public_key(KeyData* kd, const OSSL_PARAM* encoded) {
  const Key* old = kd->key.get();
  if (old != nullptr && (old->twin || old->has_public)) {
    ERR_raise_data(ERR_LIB_PROV, ERR_R_PASSED_INVALID_ARGUMENT, "cryptine: the key already has its public part");
    return 0;
  }
  const void* data = nullptr;
  size_t len = 0;
  if (OSSL_PARAM_get_octet_string_ptr(encoded, &data, &len) != 1) return 0;
  char curve[80] = "";
  OSSL_PARAM p[] = {OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, const_cast<void*>(data), len),
                    OSSL_PARAM_construct_end(), OSSL_PARAM_construct_end()};
  if (kd->kind == KeyKind::kEc) {  // the curve from the parameters the key has
    if (old == nullptr || old->pub == nullptr || EVP_PKEY_get_group_name(old->pub, curve, sizeof(curve), nullptr) != 1)
      return 0;
    p[1] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, curve, 0);
  }
  PkeyPtr pub = from_data(kd->kind, EVP_PKEY_PUBLIC_KEY, p);
  if (pub == nullptr) return 0;
  auto key = std::make_shared<Key>(kd->kind);
  key->facts = facts_of(kd->kind, pub.get(), true);
  key->pub = pub.release();
  key->has_public = true;
  kd->key = std::move(key);
  return 1;
}

std::shared_ptr<Key> key_of(void* keydata) {
  auto* kd = static_cast<KeyData*>(keydata);
  if (kd == nullptr || kd->key == nullptr) {
    ERR_raise_data(ERR_LIB_PROV, ERR_R_PASSED_INVALID_ARGUMENT, "cryptine: no key");
    return nullptr;
  }
  return kd->key;
}

EVP_PKEY_CTX* host_context(const Key& key) {
  return EVP_PKEY_CTX_new_from_pkey(nullptr, key.pub, kDefault);
}

}  // namespace cryptine::provider
