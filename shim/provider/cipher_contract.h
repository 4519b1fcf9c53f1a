// What a cipher's guest may answer: the contract every number from the guest is checked
// against before OpenSSL or the program sees it, one function per operation. Pure
// functions of the cipher's fixed facts and the call's sizes, so tests feed them lies.
#pragma once

#include <openssl/params.h>

#include <cstddef>
#include <cstdint>

#include "vmm/result.h"

namespace cryptine::provider {

// A cipher's fixed facts, as OpenSSL's default provider states them.
struct CipherFacts {
  size_t keylen;
  size_t ivlen;      // the default
  size_t min_ivlen;  // what set_ctx_params may set (both = ivlen: not settable)
  size_t max_ivlen;
  size_t blocksize;     // 1 for stream modes and AEADs
  unsigned mode;        // EVP_CIPH_*_MODE (0: ChaCha20-Poly1305)
  bool aead;            // then also custom IV, and a tag of 1..max_taglen bytes
  bool ivlen_reported;  // get_ctx_params reports a set IV length (GCM), not the default
  size_t max_taglen;    // 16 for the AEADs, 0 otherwise
};

// The most an update of `inl` bytes may write: inl + blocksize - 1 (what OpenSSL may
// have buffered, plus this input), exactly inl for a stream mode. A TLS record
// (`tls_record`: after a TLS AAD, or with a TLS version set) is padded to a whole block
// (up to inl + blocksize) when sealed, and comes back shorter when opened (explicit IV,
// tag, padding and MAC stripped). The program's buffer must hold it (EVP gives
// inl + blocksize).
size_t update_room(const CipherFacts& f, size_t inl, bool tls_record);
// The most a final may write: one block, nothing for a stream mode.
size_t final_room(const CipherFacts& f);

// An update that wrote `written` bytes for `inl` in: at most update_room; outside TLS
// records, whole blocks for a block mode and exactly inl for a stream mode. An AAD update (no output) must take all of
// its input.
Status check_update(const CipherFacts& f, size_t inl, size_t written, bool tls_record);
Status check_aad(size_t inl, size_t taken);
Status check_final(const CipherFacts& f, size_t written);
// A CIPHER_BATCH's update: `copied` bytes came back and OpenSSL said `outl`, which is
// within update_room and (check_update) right for the mode; in place the whole buffer may
// come back (copied >= outl), else exactly outl bytes.
Status check_batch_update(const CipherFacts& f, size_t inl, size_t copied, int64_t outl, bool in_place,
                          bool tls_record);
// A CIPHER_BATCH's final that asked for `tag_asked` tag bytes after its output: outl
// within final_room, a tag of exactly tag_asked bytes or none (0), and nothing else
// (copied = outl + tag_len).
Status check_final_tag(const CipherFacts& f, size_t copied, int64_t outl, int64_t tag_len, size_t tag_asked);
// A predicted final (guest_abi.h; already well formed) for an operation that asked
// `tag_asked` tag bytes (a seal's whole tag, 0 for an open): when it succeeded, outl
// within final_room and a tag of exactly tag_asked bytes (so never one for an open);
// otherwise (not made, or failed) nothing to check.
Status check_predicted_final(const CipherFacts& f, uint32_t verdict, uint64_t outl, uint64_t tag_len, size_t tag_asked);
// The one-shot cipher (EVP_Cipher): `copied` bytes came back and it reported `outl`;
// neither may exceed its input (a TLS record comes back shorter, never longer). With
// `whole` (data in and out, outside TLS records) both are exactly the input.
Status check_cipher(size_t inl, size_t copied, size_t outl, bool whole);

// A ctrl's return value (OpenSSH's SET_IV_FIXED with -1, the one ctrl sent as such): 1 or
// 0, as OpenSSL's ctrls answer; anything else would reach the program as a success.
Status check_ctrl_return(int64_t ret);

// An IV length set_ctx_params may set.
bool ivlen_allowed(const CipherFacts& f, size_t ivlen);

// The values the guest put in `got` (a get_ctx_params list, copies of `sent`, which holds
// what the program's buffers held) for a context whose IV length is `ivlen`: an AEAD tag
// of the size asked, 1 to max_taglen bytes; a tag length of at most max_taglen (0: not
// set yet, as ChaCha20-Poly1305 says while encrypting); a TLS AAD pad of 0 or the tag
// length; padding 0 or 1; a num within a block; IVs of exactly ivlen bytes; the key
// length and the IV length. A value whose return size is unmodified must come back
// unchanged (only a tag or GCM's TLS IV invocation field, of sizes OpenSSL gives, may be
// written without its size, as OpenSSL's own ciphers do), and a name outside this list
// must not be answered at all: OpenSSL's ciphers answer none, and the host could not
// judge it.
Status check_ctx_values(const CipherFacts& f, size_t ivlen, const OSSL_PARAM* got, const OSSL_PARAM* sent);

}  // namespace cryptine::provider
