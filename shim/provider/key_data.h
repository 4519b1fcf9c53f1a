// A key as the provider's key management holds it: the private part in its own virtine
// (sent there once, as PKCS#8 DER, when OpenSSL imports the key, or made there) and on the
// host a copy of the public part, kept by OpenSSL's default provider, which answers what a
// key is asked on the host (bits, maximum size, default digest, public export,
// verification).
//
// Preloaded, a key the program handed over (imported from its own EVP_PKEY, which holds
// the private key in the program anyway) is also kept whole on the host: it gives a forked
// child, or a key whose virtine failed, a virtine of its own again, and it serves the key
// on the host where no virtine can run (CRYPTINE_FALLBACK=native: no KVM, a seccomp
// filter). A key made in a virtine has no copy outside it.
//
// A key the provider's decoder read (key_decoder.h) was decoded in its virtine from the
// program's encoding, which the host keeps sealed (vmm/sealed_bytes.h, behind guest
// memory's protection key) with its passphrase, for the same ends: a forked child decodes
// it again in a virtine of its own; where no virtine can run, it is decoded on the host.
#pragma once

#include <openssl/core.h>
#include <openssl/evp.h>

#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>

#include "shim/client/twin.h"
#include "shim/provider/key_contract.h"
#include "vmm/function_ref.h"
#include "vmm/sealed_bytes.h"

namespace cryptine::provider {

// A decoded key's encoding as the program gave it, and its passphrase (empty if none).
struct SealedEncoding {
  SealedBytes encoded;
  SealedBytes passphrase;
};

// Shared by the keydata objects OpenSSL dups and by the operations using it; the last
// one to go frees the guest's key and with it (by the lease) its virtine.
struct Key {
  explicit Key(KeyKind k) : kind(k) {}
  Key(const Key&) = delete;
  Key& operator=(const Key&) = delete;
  ~Key();

  KeyKind kind;
  EVP_PKEY* pub = nullptr;  // the default provider's: public part, or parameters only
  bool has_public = false;
  bool has_private = false;
  EVP_PKEY* held = nullptr;  // preloaded, an imported or host-made key: the default provider's, whole
  std::unique_ptr<const SealedEncoding> sealed;  // a decoded key's encoding
  KeyFacts facts{};
  // Why its import found no virtine that would take it (the virtine failed, or none may
  // run and CRYPTINE_FALLBACK=fail): the operation that caused the import fails with that
  // reason, once, rather than try again at once (the program's one call, one failure).
  std::optional<std::string> import_error;

  std::mutex mu;             // for twin, which a forked child or a failed virtine replaces
  std::optional<Twin> twin;  // the private key in its virtine
};

// Where an operation with a key's private part runs: on `twin`, or, with `host` set, on
// the host with the held key (a fallback, counted).
struct PrivatePart {
  Twin twin;
  EVP_PKEY* host = nullptr;
};

// The key's private part for an operation starting now: its virtine; a new one made from
// the held key where the old cannot run in this process any more (made before fork(),
// failed); or the held key itself where no virtine can run. False, with the error raised,
// when the key has no private part or it lives only in a virtine this process cannot run.
bool private_part(Key& key, PrivatePart* out);

// Before a call on `priv` (set up by private_part at the operation's init): a twin that can
// no longer run (its virtine failed since, or belongs to a parent) is replaced as
// private_part would. False, with the error raised, when that leaves the host, which the
// operation was not set up for.
bool refresh_private_part(Key& key, PrivatePart* priv);

// Runs `fn` in the virtine of `priv` (set up by private_part, not on the host), the lease
// checked once, by the call itself: a twin that can no longer run is replaced
// (refresh_private_part) and `fn` run again, so `fn` reads priv->twin.handle when it runs.
bool run_on_private_part(Key& key, PrivatePart* priv, FunctionRef<Status(Virtine&)> fn);

// The depth of calls on a held key this thread is in: what OpenSSL's default provider
// fetches inside (a digest) is served natively too, and not counted again.
struct OnHost {
  OnHost();
  ~OnHost();
  OnHost(const OnHost&) = delete;
  OnHost& operator=(const OnHost&) = delete;
};

// The keymgmt's keydata: what `kind` of key, and the key once imported.
struct KeyData {
  KeyKind kind;
  std::shared_ptr<Key> key;
};

// The default provider's name of the key type ("RSA", "EC", "ED25519", "X25519").
const char* key_type_name(KeyKind kind);

// OSSL_FUNC_keymgmt_import's work: the public part kept on the host; with a private key
// selected, the key sent to a virtine of its own (one virtine call) and its DER wiped.
// Returns 1, or 0 with the error raised.
int import_key(KeyData* kd, int selection, const OSSL_PARAM params[]);

// OSSL_FUNC_decoder_decode's work: the private key in `encoded` (PEM, encrypted with
// `passphrase` too) decoded in a virtine of its own (one virtine call), its public part
// checked and kept on the host, its encoding sealed: true with *out set. True with *out
// null when it is not the provider's to hold (a key type it does not offer; preloaded, no
// virtine that can run): the default provider decodes it then. False, with the error
// raised, when it fails.
bool decode_key(std::span<const uint8_t> encoded, std::span<const uint8_t> passphrase, std::unique_ptr<KeyData>* out);

// OSSL_FUNC_keymgmt_gen's work: with a private key selected, the key generated in a
// virtine of its own (one virtine call; its public part checked and kept on the host);
// otherwise only parameters (EC: the curve `group`), made on the host. Returns 1, or 0 with
// the error raised.
int generate_key(KeyData* kd, int selection, const std::string& group, int bits);

// With CRYPTINE_KEY_EXPORT=1, OSSL_FUNC_keymgmt_export's work for a private part: from the
// whole key the host holds (imported, or made on the host: with the variable set, keys are
// generated there, to be written out) or from a decoded key's sealed encoding, decoded on the
// host for it. Returns `cb`'s answer, or 0 with the error raised (a key made in a virtine
// before has no copy to export).
int export_private(Key& key, int selection, OSSL_CALLBACK* cb, void* cbarg);

// OSSL_FUNC_keymgmt_set_params's work: a key with parameters only (a TLS peer's) takes its
// encoded public key. Returns 1, or 0 with the error raised.
int set_encoded_public_key(KeyData* kd, const OSSL_PARAM* encoded);

// A keydata's key, or null (with the error raised) when it holds none.
std::shared_ptr<Key> key_of(void* keydata);

// A new EVP_PKEY_CTX of the default provider on the key's public part: the host's half of
// an operation (verification, encryption, parameters).
EVP_PKEY_CTX* host_context(const Key& key);

}  // namespace cryptine::provider
