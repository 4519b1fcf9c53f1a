// Keys reach the provider by import: OpenSSL exports a key decoded by its default provider
// and imports it here (evp_keymgmt_util_export_to_provider), once per key and provider, as
// OSSL_PARAMs. The private part is rebuilt as a default-provider key to be encoded as
// PKCS#8 and sent; the encoding is wiped, and the rebuilt key is freed unless preloaded
// (key_data.h says why it is kept then). Or the provider's decoder hands a key's encoding
// over, and it is decoded in the virtine (decode_key).
#include "shim/provider/key_data.h"

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/proverr.h>
#include <openssl/x509.h>

#include <algorithm>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "shim/client/runtime.h"
#include "shim/client/virtine_call.h"
#include "shim/provider/keymgmt.h"
#include "shim/provider/native_delegate.h"
#include "shim/provider/preload.h"
#include "shim/provider/twin_context.h"
#include "vmm/function_ref.h"

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

// The private key as PKCS#8 DER, which the guest reads whatever the key type.
bool private_key_der(const EVP_PKEY* pkey, Der* der) {
  PKCS8_PRIV_KEY_INFO* p8 = EVP_PKEY2PKCS8(pkey);
  if (p8 != nullptr) der->len = i2d_PKCS8_PRIV_KEY_INFO(p8, &der->data);
  PKCS8_PRIV_KEY_INFO_free(p8);
  return der->len > 0;
}

// A virtine of its own for a private key that `bring` gives the guest (an import or a
// decoding, one virtine call), with the facts the host knows: true with *twin set, the import
// counted; false when none could be had (the error raised, or t_fall_back_now set where
// preloaded).
bool send_key(FunctionRef<Result<guest::ImportedKey>(Virtine&)> bring, const KeyFacts& facts,
              std::optional<Twin>* twin) {
  if (!make_provider_twin(
          Family::kPkey,
          [&](Virtine& v) -> Result<guest::Handle> {
            const guest::ImportedKey k = CRYPTINE_TRY(bring(v));
            Status s = check_import(facts, k.type, k.bits, k.size);
            if (!s.ok()) return v.poison(std::move(s).error());  // the handle goes with the virtine
            return k.handle;
          },
          twin))
    return false;
  Runtime::get().counters().key_imports.fetch_add(1, std::memory_order_relaxed);
  return true;
}

// `full`'s private part, sent as PKCS#8 DER (wiped after), as send_key.
bool send_private_key(const EVP_PKEY* full, const KeyFacts& facts, std::optional<Twin>* twin) {
  Der der;
  if (!private_key_der(full, &der)) {
    ERR_raise_data(ERR_LIB_PROV, ERR_R_UNSUPPORTED, "cryptine: the private key could not be encoded as PKCS#8");
    return false;
  }
  return send_key([&](Virtine& v) { return guest::import_private_key(v, der.bytes()); }, facts, twin);
}

// A curve's NID by any of its names ("prime256v1", "P-256", its OID): a key made on a curve
// asked for by one name reports another.
int curve_nid(const char* name) {
  const int nid = OBJ_txt2nid(name);
  return nid != NID_undef ? nid : EC_curve_nist2nid(name);
}

// The public part a guest returned with a key it holds: a key of `kind` (on `curve`, when
// one is given) with the facts the guest claims. Otherwise the virtine, and its key, are
// discarded.
Result<PkeyPtr> checked_public(Virtine& v, KeyKind kind, const std::string& curve, const guest::KeyInGuest& g) {
  const unsigned char* der = g.public_der.data();
  PkeyPtr pub(d2i_PUBKEY_ex(nullptr, &der, static_cast<long>(g.public_der.size()), nullptr, kDefault));
  char group[80] = "";
  if (pub == nullptr || der != g.public_der.data() + g.public_der.size() ||
      EVP_PKEY_is_a(pub.get(), key_type_name(kind)) != 1 ||
      (kind == KeyKind::kEc && !curve.empty() &&
       (EVP_PKEY_get_group_name(pub.get(), group, sizeof(group), nullptr) != 1 || curve_nid(group) == NID_undef ||
        curve_nid(group) != curve_nid(curve.c_str()))))
    return v.poison(Error(ErrorCode::kGuestFault, "key contract: the guest holds a key of another kind"));
  Status s = check_import(facts_of(kind, pub.get(), true), g.key.type, g.key.bits, g.key.size);
  if (!s.ok()) return v.poison(std::move(s).error());
  return pub;
}

// The kinds of key the provider holds, by EVP_PKEY_get_id.
std::optional<KeyKind> kind_of_type(int type) {
  switch (type) {
    case EVP_PKEY_RSA: return KeyKind::kRsa;
    case EVP_PKEY_EC: return KeyKind::kEc;
    case EVP_PKEY_ED25519: return KeyKind::kEd25519;
    case EVP_PKEY_X25519: return KeyKind::kX25519;
    default: return std::nullopt;
  }
}

// The guest decodes a sealed encoding with its passphrase (both read from their sealing).
Result<guest::KeyInGuest> decode_sealed(Virtine& v, const SealedEncoding& sealed) {
  const GuestMemoryAccess open;
  return guest::decode_private_key(v, sealed.encoded.bytes(open), sealed.passphrase.bytes(open));
}

// A sealed encoding decoded again, in a virtine of its own (a forked child's, or after
// the key's virtine failed), as send_key.
bool send_sealed_key(const SealedEncoding& sealed, const KeyFacts& facts, std::optional<Twin>* twin) {
  return send_key([&](Virtine& v) -> Result<guest::ImportedKey> { return CRYPTINE_TRY(decode_sealed(v, sealed)).key; },
                  facts, twin);
}

// The passphrase OpenSSL's PEM reader asks for: the one given, or none (never its default,
// which prompts on the terminal).
int give_passphrase(char* buf, int size, int, void* u) {
  const auto* pass = static_cast<const std::vector<uint8_t>*>(u);
  if (pass->size() > static_cast<size_t>(size)) return -1;
  std::copy(pass->begin(), pass->end(), buf);
  return static_cast<int>(pass->size());
}

// Preloaded where no virtine can run: a sealed encoding decoded on the host by the default
// provider (the key is then in the program, as the held keys of imports are).
PkeyPtr decode_on_host(const SealedEncoding& sealed) {
  std::vector<uint8_t> encoded, pass;
  {
    const GuestMemoryAccess open;
    const auto e = sealed.encoded.bytes(open);
    const auto p = sealed.passphrase.bytes(open);
    encoded.assign(e.begin(), e.end());
    pass.assign(p.begin(), p.end());
  }
  OnHost on_host;  // the provider's own decoder stands aside
  BIO* bio = BIO_new_mem_buf(encoded.data(), static_cast<int>(encoded.size()));
  EVP_PKEY* pkey =
      bio != nullptr ? PEM_read_bio_PrivateKey_ex(bio, nullptr, give_passphrase, &pass, nullptr, kDefault) : nullptr;
  BIO_free(bio);
  OPENSSL_cleanse(encoded.data(), encoded.size());
  OPENSSL_cleanse(pass.data(), pass.size());
  return PkeyPtr(pkey);
}

// The param that carries the private key of each kind.
const char* private_param(KeyKind kind) {
  return kind == KeyKind::kRsa ? OSSL_PKEY_PARAM_RSA_D : OSSL_PKEY_PARAM_PRIV_KEY;
}

// What the newest error on the queue says: its text, or its reason.
std::string last_error_text() {
  const char* data = nullptr;
  int flags = 0;
  const unsigned long e = ERR_peek_last_error_data(&data, &flags);
  if ((flags & ERR_TXT_STRING) != 0 && data != nullptr && *data != '\0') return data;
  const char* reason = ERR_reason_error_string(e);
  return reason != nullptr ? reason : "no reason given";
}

// The host's copy of a whole key: its public part (a key without its private part).
PkeyPtr public_part(KeyKind kind, EVP_PKEY* full) {
  OSSL_PARAM* params = nullptr;
  if (EVP_PKEY_todata(full, EVP_PKEY_PUBLIC_KEY, &params) <= 0) return nullptr;
  PkeyPtr pub = from_data(kind, EVP_PKEY_PUBLIC_KEY, params);
  OSSL_PARAM_free(params);
  return pub;
}

// Preloaded where no virtine runs: the key made on the host by the default provider.
PkeyPtr generate_on_host(KeyKind kind, const std::string& group, int bits) {
  OnHost on_host;
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(EVP_PKEY_CTX_new_from_name(nullptr, key_type_name(kind), kDefault));
  OSSL_PARAM p[] = {OSSL_PARAM_construct_end(), OSSL_PARAM_construct_end()};
  if (kind == KeyKind::kEc)
    p[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>(group.c_str()), 0);
  if (kind == KeyKind::kRsa) p[0] = OSSL_PARAM_construct_int(OSSL_PKEY_PARAM_RSA_BITS, &bits);
  EVP_PKEY* pkey = nullptr;
  if (ctx == nullptr || EVP_PKEY_keygen_init(ctx.get()) <= 0 || EVP_PKEY_CTX_set_params(ctx.get(), p) <= 0 ||
      EVP_PKEY_generate(ctx.get(), &pkey) <= 0)
    return nullptr;
  return PkeyPtr(pkey);
}

}  // namespace

Key::~Key() {
  if (twin) release_twin(*twin);
  EVP_PKEY_free(pub);
  EVP_PKEY_free(held);
}

OnHost::OnHost() {
  ++t_in_native;
}
OnHost::~OnHost() {
  --t_in_native;
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
  const bool has_public = private_part || (selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) != 0;
  PkeyPtr pub = full != nullptr
                    ? public_part(kd->kind, full.get())
                    : from_data(kd->kind, has_public ? EVP_PKEY_PUBLIC_KEY : EVP_PKEY_KEY_PARAMETERS, params);
  if (pub == nullptr) return 0;
  key->facts = facts_of(kd->kind, pub.get(), has_public);
  key->pub = pub.release();
  key->has_public = has_public;
  if (private_part) {
    key->has_private = true;
    if (installed_by_preload()) key->held = full.release();
    const EVP_PKEY* whole = key->held != nullptr ? key->held : full.get();
    // When no virtine takes the key (none can run, or it failed), the key's operations
    // fail or fall back as private_part says, not its import: OpenSSL would quietly give the
    // operations of a key it could not import to the default provider, in the program. The
    // failure was counted; its reason is kept for the operation to give.
    ERR_set_mark();
    if (!send_private_key(whole, key->facts, &key->twin) && !std::exchange(t_fall_back_now, false))
      key->import_error = last_error_text();
    ERR_pop_to_mark();
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
  const bool to_export = Runtime::get().config().key_export;
  if (to_export || !make_provider_twin(
                       Family::kPkey,
                       [&](Virtine& v) -> Result<guest::Handle> {
                         const guest::KeyInGuest g =
                             CRYPTINE_TRY(guest::generate_key(v, key_type_name(kd->kind), group, bits));
                         pub = CRYPTINE_TRY(checked_public(v, kd->kind, group, g));
                         return g.key.handle;
                       },
                       &key->twin)) {
    // Made on the host, where it stays: to be written out (CRYPTINE_KEY_EXPORT=1), or
    // preloaded without a virtine.
    if (!to_export && !std::exchange(t_fall_back_now, false)) return 0;
    PkeyPtr full = generate_on_host(kd->kind, group, bits);
    if (full == nullptr || (pub = public_part(kd->kind, full.get())) == nullptr) return 0;
    key->held = full.release();
  }
  key->facts = facts_of(kd->kind, pub.get(), true);
  key->pub = pub.release();
  key->has_public = true;
  key->has_private = true;
  kd->key = std::move(key);
  return 1;
}

bool decode_key(std::span<const uint8_t> encoded, std::span<const uint8_t> passphrase, std::unique_ptr<KeyData>* out) {
  auto sealed = std::make_unique<SealedEncoding>();
  Result<SealedBytes> e = SealedBytes::copy_of(encoded);
  Result<SealedBytes> p = e.ok() ? SealedBytes::copy_of(passphrase) : Result<SealedBytes>(e.error());
  if (!p.ok()) {
    ERR_raise_data(ERR_LIB_PROV, ERR_R_OPERATION_FAIL, "cryptine: %s", p.error().message().c_str());
    return false;
  }
  sealed->encoded = std::move(*e);
  sealed->passphrase = std::move(*p);
  std::optional<KeyKind> kind;
  PkeyPtr pub;
  std::optional<Twin> twin;
  if (!make_provider_twin(
          Family::kPkey,
          [&](Virtine& v) -> Result<guest::Handle> {
            const guest::KeyInGuest g = CRYPTINE_TRY(decode_sealed(v, *sealed));
            kind = kind_of_type(g.key.type);
            if (kind && keymgmt_offers(*kind)) pub = CRYPTINE_TRY(checked_public(v, *kind, "", g));
            return g.key.handle;  // a key of another kind is freed with its twin below
          },
          &twin))
    return std::exchange(t_fall_back_now, false);  // preloaded: the default provider decodes it
  if (pub == nullptr) {
    release_twin(*twin);
    return true;
  }
  Runtime::get().counters().key_imports.fetch_add(1, std::memory_order_relaxed);
  auto key = std::make_shared<Key>(*kind);
  key->facts = facts_of(*kind, pub.get(), true);
  key->pub = pub.release();
  key->has_public = true;
  key->has_private = true;
  key->twin = std::move(twin);
  key->sealed = std::move(sealed);
  *out = std::make_unique<KeyData>(KeyData{*kind, std::move(key)});
  return true;
}

int export_private(Key& key, int selection, OSSL_CALLBACK* cb, void* cbarg) {
  std::lock_guard lock(key.mu);
  if (key.held == nullptr && key.sealed != nullptr) key.held = decode_on_host(*key.sealed).release();
  if (key.held == nullptr) {
    ERR_raise_data(ERR_LIB_PROV, PROV_R_NOT_A_PRIVATE_KEY,
                   "cryptine: this private key was made in a virtine, and has no copy outside it to export");
    return 0;
  }
  OSSL_PARAM* params = nullptr;
  if (EVP_PKEY_todata(key.held, selection, &params) <= 0) return 0;
  const int ret = cb(params, cbarg);
  for (OSSL_PARAM* p = params; p->key != nullptr; ++p)
    if (p->data != nullptr) OPENSSL_cleanse(p->data, p->data_size);
  OSSL_PARAM_free(params);
  return ret;
}

bool private_part(Key& key, PrivatePart* out) {
  if (!key.has_private) {
    ERR_raise(ERR_LIB_PROV, PROV_R_NOT_A_PRIVATE_KEY);
    return false;
  }
  std::lock_guard lock(key.mu);
  out->host = nullptr;
  if (key.twin && key.twin->lease->usable()) {
    out->twin = *key.twin;
    return true;
  }
  if (key.import_error) {
    ERR_raise_data(ERR_LIB_PROV, ERR_R_OPERATION_FAIL, "cryptine: the key's import into a virtine failed: %s",
                   key.import_error->c_str());
    key.import_error.reset();
    return false;
  }
  if (key.held == nullptr && key.sealed == nullptr) {
    ERR_raise_data(ERR_LIB_PROV, ERR_R_UNSUPPORTED,
                   "cryptine: this private key is in no virtine this process can run (its import or its virtine "
                   "failed, it is its parent's from before fork(), or the process is under a seccomp filter)");
    return false;
  }
  std::optional<Twin> fresh;
  const bool sent = key.held != nullptr ? send_private_key(key.held, key.facts, &fresh)
                                        : send_sealed_key(*key.sealed, key.facts, &fresh);
  if (sent) {
    if (key.twin) release_twin(*key.twin);
    key.twin = std::move(fresh);
    out->twin = *key.twin;
    return true;
  }
  if (!std::exchange(t_fall_back_now, false)) return false;
  if (key.held == nullptr && (key.held = decode_on_host(*key.sealed).release()) == nullptr) return false;
  out->host = key.held;
  return true;
}

bool refresh_private_part(Key& key, PrivatePart* priv) {
  if (priv->host != nullptr || priv->twin.lease->usable()) return true;
  PrivatePart now;
  if (!private_part(key, &now)) return false;
  if (now.host != nullptr) {
    ERR_raise_data(ERR_LIB_PROV, ERR_R_UNSUPPORTED,
                   "cryptine: no virtine can run this key now, and the operation was set up for one");
    return false;
  }
  *priv = std::move(now);
  return true;
}

bool run_on_private_part(Key& key, PrivatePart* priv, FunctionRef<Status(Virtine&)> fn) {
  bool stale = false;
  if (run_on_twin(priv->twin, Family::kPkey, fn, &stale)) return true;
  if (!stale || !refresh_private_part(key, priv)) return false;
  return run_on_twin(priv->twin, Family::kPkey, fn);
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
