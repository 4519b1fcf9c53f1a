// Typed crypto operations on a virtine running the crypto guest.
//
// Each maps onto the protocol's requests and splits inputs that do not fit one mailbox
// into init/update/final sequences, so nothing is ever truncated. Failures: the
// virtine's errors as they are, kGuestRefused (with OpenSSL's error code as detail)
// when the guest's OpenSSL said no, kInvalidArgument for a bad handle.
#pragma once

#include <openssl/params.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "shim/client/batch_wire.h"
#include "shim/client/crypto_call.h"
#include "shim/client/request_codec.h"
#include "vmm/result.h"
#include "vmm/virtine.h"

namespace cryptine::guest {

using Bytes = std::vector<uint8_t>;
using Handle = uint32_t;

// OpenSSL's own bounds: EVP_MAX_MD_SIZE, EVP_MAX_BLOCK_LENGTH, and room for an
// RSA-16384 signature or plaintext (OPENSSL_RSA_MAX_MODULUS_BITS).
inline constexpr uint32_t kMaxDigest = 64;
inline constexpr uint32_t kMaxBlock = 32;
inline constexpr uint32_t kMaxPkeyOutput = 2048;

Result<Bytes> digest(Virtine& v, std::string_view md, std::span<const uint8_t> data);
Result<Handle> digest_init(Virtine& v, std::string_view md);
Status digest_update(Virtine& v, Handle h, std::span<const uint8_t> data);
Result<Bytes> digest_final(Virtine& v, Handle h);

// HMAC with digest `md`.
Result<Bytes> hmac(Virtine& v, std::string_view md, std::span<const uint8_t> key, std::span<const uint8_t> data);
Result<Handle> hmac_init(Virtine& v, std::string_view md, std::span<const uint8_t> key);
Status mac_update(Virtine& v, Handle h, std::span<const uint8_t> data);
// `capacity`: the caller's buffer; a MAC longer than it fails as in OpenSSL.
Result<Bytes> mac_final(Virtine& v, Handle h, uint64_t capacity = kMaxDigest);

// EVP_CipherInit_ex: handle 0 creates a context (then `cipher` is required); a null
// key or iv leaves it unset, as in OpenSSL; enc is 1, 0, or -1 to keep.
struct CipherInit {
  Handle handle = 0;
  std::string_view cipher;
  const std::span<const uint8_t>* key = nullptr;
  const std::span<const uint8_t>* iv = nullptr;
  int enc = -1;
};
Result<Handle> cipher_init(Virtine& v, const CipherInit& init);
Result<Bytes> cipher_update(Virtine& v, Handle h, std::span<const uint8_t> data);
// The same, the output copied from the mailbox straight into `out` (the one copy out);
// returns its length. More output than `out` holds is the guest's lie: kGuestFault.
Result<size_t> cipher_update_into(Virtine& v, Handle h, std::span<const uint8_t> data, std::span<uint8_t> out);
// The same in place, for a program whose output buffer is its input: some modes (TLS
// records in GCM) work only so and write anywhere in the buffer, so the whole buffer
// comes back (max(data, outl) bytes) with OpenSSL's outl. One request: data must fit it.
// `buffer` (the program's, holding `data`'s bytes on entry) receives the whole buffer
// back; returns OpenSSL's outl.
Result<int> cipher_update_in_place(Virtine& v, Handle h, std::span<const uint8_t> data, std::span<uint8_t> buffer);
// The most bytes cipher_update_in_place takes.
constexpr uint64_t max_in_place() {
  return max_request_input(kMaxBlock) / 2;
}
// An update with out == NULL (AAD, for AEAD ciphers); returns OpenSSL's outl.
Result<int> cipher_aad(Virtine& v, Handle h, std::span<const uint8_t> aad);
Result<Bytes> cipher_final(Virtine& v, Handle h);
// EVP_CIPHER_CTX_ctrl with a byte-buffer pointer: `in` is copied to the buffer, which
// holds `out_len` bytes and comes back. Returns (ctrl's return value as the guest said
// it, unchecked: see check_ctrl_return, buffer).
Result<std::pair<int64_t, Bytes>> cipher_ctrl(Virtine& v, Handle h, int type, int arg, std::span<const uint8_t> in,
                                              uint32_t out_len);

Result<Handle> copy_context(Virtine& v, Handle h);
Status free_handle(Virtine& v, Handle h);

struct ImportedKey {
  Handle handle;
  int type;  // EVP_PKEY_get_id
  int bits;
  int size;  // EVP_PKEY_get_size: the largest signature or ciphertext
};
Result<ImportedKey> import_private_key(Virtine& v, std::span<const uint8_t> der_or_pem);
// A key the guest holds, with its public key as SubjectPublicKeyInfo DER, unjudged.
struct KeyInGuest {
  ImportedKey key;
  Bytes public_der;
};
// A private key decoded in the guest from the program's encoding (PEM, encrypted with
// `passphrase` too, or DER).
Result<KeyInGuest> decode_private_key(Virtine& v, std::span<const uint8_t> encoded,
                                      std::span<const uint8_t> passphrase);
// A key generated in the guest (type "EC" with `curve`, "X25519", "ED25519", or "RSA" of
// `bits`).
Result<KeyInGuest> generate_key(Virtine& v, std::string_view type, std::string_view curve, int bits);
// EVP_PKEY_sign over a digest `tbs`; md names the digest ("" for none); for RSA,
// padding and PSS salt length as EVP_PKEY_CTX_set_rsa_padding/_pss_saltlen take them.
Result<Bytes> sign(Virtine& v, Handle key, std::string_view md, std::span<const uint8_t> tbs, int rsa_padding = 0,
                   int pss_saltlen = 0);
Result<Bytes> decrypt(Virtine& v, Handle key, std::span<const uint8_t> in, int rsa_padding = 0,
                      std::string_view oaep_md = "");
Result<Bytes> derive(Virtine& v, Handle key, std::span<const uint8_t> peer_public_der);
// A decryption's RSA options beyond the padding: OAEP's digest, MGF1 digest (its NID; 0 for
// the OAEP digest) and label, and TLS padding's versions (client | negotiated << 16).
struct DecryptOptions {
  int padding = 0;
  std::string_view oaep_md{};
  int mgf1_nid = 0;
  std::span<const uint8_t> label{};
  uint32_t tls_versions = 0;
};
Result<Bytes> decrypt(Virtine& v, Handle key, std::span<const uint8_t> in, const DecryptOptions& o);
// EVP_DigestSign of a whole message (Ed25519, which has no separate digest); md as for sign.
Result<Bytes> digest_sign(Virtine& v, Handle key, std::string_view md, std::span<const uint8_t> message);
// sign and digest_sign with the signature left in the mailbox (read reply.out while the
// reply lives): for a caller that checks it there and copies it once, into the program's
// buffer.
Result<MailboxReply> sign_in_mailbox(Virtine& v, Handle key, std::string_view md, std::span<const uint8_t> tbs,
                                     int rsa_padding = 0, int pss_saltlen = 0);
Result<MailboxReply> digest_sign_in_mailbox(Virtine& v, Handle key, std::string_view md,
                                            std::span<const uint8_t> message);

Result<Bytes> random_bytes(Virtine& v, uint32_t n);

// The same private-key operations in one request, the key carried in it (DER or PEM) and
// freed in the guest afterwards, one exit per operation. The provider keeps its keys in
// virtines and uses the handle forms above; these serve the guest's tests.
struct KeyOp {
  std::span<const uint8_t> key_der{};
  std::string_view md{};  // the digest ("" for none); for decrypt, the OAEP digest
  int rsa_padding = 0;    // 0: OpenSSL's default for the operation
  int pss_saltlen = 0;
  uint32_t capacity = kMaxPkeyOutput;  // the caller's buffer, at most kMaxPkeyOutput
};
Result<Bytes> sign_with(Virtine& v, const KeyOp& op, std::span<const uint8_t> tbs);
Result<Bytes> digest_sign_with(Virtine& v, const KeyOp& op, std::span<const uint8_t> message);
Result<Bytes> decrypt_with(Virtine& v, const KeyOp& op, std::span<const uint8_t> in);
Result<Bytes> derive_with(Virtine& v, const KeyOp& op, std::span<const uint8_t> peer_public_der);

// EVP_CIPHER_CTX_set_params / EVP_MAC_CTX_set_params on a guest context (by handle kind).
// Returns OpenSSL's return value (1: a refusal is kGuestRefused, any other number from
// the guest a kGuestFault); kUnsupported for params that cannot cross by value.
Result<int> set_params(Virtine& v, Handle h, const OSSL_PARAM* params);
// ..._get_params: fills `params` (values and return sizes) from the guest's context, as
// OpenSSL's setters could have (decode_get_reply); what the values may be is the
// caller's contract to check.
Result<int> get_params(Virtine& v, Handle h, OSSL_PARAM* params);

// EVP_Cipher on a guest context. `in_null`: the program passed in == NULL (for provided
// ciphers, a final). A return of 0 or less is OpenSSL's answer, not an error here.
// `in_place`: as for cipher_update_in_place (out then holds the whole buffer).
struct CipherRaw {
  int ret;
  uint64_t err_code;  // the guest's OpenSSL error when ret <= 0
  // In the mailbox until the virtine's next call, readable while `open` lives: a TLS
  // record goes from there straight into the program's buffer.
  std::span<const uint8_t> out;
  GuestMemoryAccess open;
};
Result<CipherRaw> cipher_raw(Virtine& v, Handle h, std::span<const uint8_t> in, bool in_null, bool out_null,
                             bool in_place);

// EVP_KDF_derive of `keylen` bytes by the KDF `kdf` in a fresh guest context set up with
// `params`: one request per derivation. The output is the guest's; the caller checks it.
Result<Bytes> kdf_derive(Virtine& v, std::string_view kdf, const OSSL_PARAM* params, uint64_t keylen);

// EVP_MAC_CTX_new for a named MAC, and EVP_MAC_init with an optional key and params.
Result<Handle> mac_new(Virtine& v, std::string_view mac);
Status mac_start(Virtine& v, Handle h, const std::span<const uint8_t>* key, const OSSL_PARAM* params);

// MAC_RUN: what a MAC context's host held back, in one request: an EVP_MAC_init (`key`
// null keeps the context's own), an update of `data` (if any), and with `final_capacity`
// > 0 the final, into a window of that many bytes (empty otherwise). The MAC's length is
// the caller's to judge.
struct MacRun {
  const std::span<const uint8_t>* key = nullptr;
  std::span<const uint8_t> data;
  uint64_t final_capacity = 0;
};
Result<Bytes> mac_run(Virtine& v, Handle h, const MacRun& run);

// CIPHER_BATCH: the recorded no-output calls (`steps`, a PendingSteps wire), then
// nothing, an update of `in` (in place as for cipher_update_in_place), or a final and
// `tag` bytes of AEAD tag read right after it. An update may also ask (`predict`) for the
// final the program is expected to make next, answered from a copy of the context (for
// a seal with `tag` bytes of tag), which comes back decoded in `predicted`. The output
// is copied straight into `out`; more than it holds is the guest's lie (kGuestFault). A
// step that fails is kGuestRefused, its message naming the step. The reply's numbers come back unjudged:
// the caller checks them against the cipher's contract.
enum class BatchThen : int64_t { kNothing = 0, kUpdate = 1, kFinal = 2 };
struct CipherBatch {
  Handle handle = 0;
  std::span<const uint8_t> steps{};
  BatchThen then = BatchThen::kNothing;
  std::span<const uint8_t> in{};  // kUpdate
  bool in_place = false;          // kUpdate
  bool predict = false;           // kUpdate
  uint32_t tag = 0;               // kFinal, or a predicting kUpdate
};
struct BatchReply {
  size_t copied;                            // bytes copied into out
  int64_t outl;                             // OpenSSL's outl of the update or final
  int64_t aad_taken;                        // the AAD steps' outl, summed
  int64_t tag_len;                          // tag bytes after the final's output (0: not read)
  std::optional<PredictedFinal> predicted;  // a predicting update's, well formed but unjudged
};
Result<BatchReply> cipher_batch(Virtine& v, const CipherBatch& b, std::span<uint8_t> out);

}  // namespace cryptine::guest
