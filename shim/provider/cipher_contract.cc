// The checks are on the host's copy of each value, after the guest's reply was copied out
// of its memory, so the guest cannot change a value between its check and its use.
#include "shim/provider/cipher_contract.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

#include "abi/guest_abi.h"

namespace cryptine::provider {
namespace {

constexpr size_t kAesBlock = 16;  // a CTR or CFB num counts bytes within this block

Error lie(const std::string& what) {
  return Error(ErrorCode::kGuestFault, "cipher contract: " + what);
}

bool is(const OSSL_PARAM& p, const char* name) {
  return std::strcmp(p.key, name) == 0;
}

// A size_t or unsigned value the guest set; false if it cannot be read as one.
bool value_of(const OSSL_PARAM& p, size_t* v) {
  return OSSL_PARAM_get_size_t(&p, v) == 1;
}

}  // namespace

size_t update_room(const CipherFacts& f, size_t inl, bool tls_record) {
  const size_t block = f.blocksize > 1 ? f.blocksize : 0;
  const size_t overhang = tls_record ? block : block > 0 ? block - 1 : 0;
  return inl > SIZE_MAX - overhang ? SIZE_MAX : inl + overhang;
}

size_t final_room(const CipherFacts& f) {
  return f.blocksize > 1 ? f.blocksize : 0;
}

Status check_update(const CipherFacts& f, size_t inl, size_t written, bool tls_record) {
  if (written > update_room(f, inl, tls_record))
    return lie("update wrote " + std::to_string(written) + " bytes for " + std::to_string(inl) + " in");
  // ECB and CBC give whole blocks only (the rest waits in the context for more input).
  if (f.blocksize > 1 && !tls_record && written % f.blocksize != 0)
    return lie("block update wrote " + std::to_string(written) + " bytes, not whole blocks");
  if (f.blocksize == 1 && !tls_record && written != inl)
    return lie("stream update wrote " + std::to_string(written) + " bytes for " + std::to_string(inl) + " in");
  return {};
}

Status check_aad(size_t inl, size_t taken) {
  if (taken != inl) return lie("AAD update took " + std::to_string(taken) + " of " + std::to_string(inl) + " bytes");
  return {};
}

Status check_final(const CipherFacts& f, size_t written) {
  if (written > final_room(f)) return lie("final wrote " + std::to_string(written) + " bytes");
  return {};
}

Status check_batch_update(const CipherFacts& f, size_t inl, size_t copied, int64_t outl, bool in_place,
                          bool tls_record) {
  if (outl < 0 || static_cast<uint64_t>(outl) > copied || (!in_place && static_cast<uint64_t>(outl) != copied) ||
      (in_place && copied > std::max<size_t>(inl, static_cast<size_t>(outl))))
    return lie("batch update gave " + std::to_string(copied) + " bytes, outl " + std::to_string(outl) + ", for " +
               std::to_string(inl) + " in");
  return check_update(f, inl, static_cast<size_t>(outl), tls_record);
}

Status check_final_tag(const CipherFacts& f, size_t copied, int64_t outl, int64_t tag_len, size_t tag_asked) {
  if (outl < 0 || static_cast<uint64_t>(outl) > final_room(f)) return lie("final wrote " + std::to_string(outl));
  if (tag_len != 0 && static_cast<uint64_t>(tag_len) != tag_asked)
    return lie("a tag of " + std::to_string(tag_len) + " bytes, asked " + std::to_string(tag_asked));
  if (copied != static_cast<uint64_t>(outl) + static_cast<uint64_t>(tag_len))
    return lie("final gave " + std::to_string(copied) + " bytes for outl " + std::to_string(outl) + " and tag " +
               std::to_string(tag_len));
  return {};
}

Status check_predicted_final(const CipherFacts& f, uint32_t verdict, uint64_t outl, uint64_t tag_len,
                             size_t tag_asked) {
  if (verdict != CRYPTINE_PREDICT_OK) return {};
  if (outl > final_room(f)) return lie("predicted final wrote " + std::to_string(outl));
  if (tag_len != tag_asked)
    return lie("a predicted tag of " + std::to_string(tag_len) + " bytes, asked " + std::to_string(tag_asked));
  return {};
}

Status check_cipher(size_t inl, size_t copied, size_t outl, bool whole) {
  if (copied > inl || outl > inl || (whole && (copied != inl || outl != inl)))
    return lie("one-shot cipher gave " + std::to_string(copied) + " bytes (outl " + std::to_string(outl) + ") for " +
               std::to_string(inl) + " in");
  return {};
}

Status check_ctrl_return(int64_t ret) {
  if (ret != 0 && ret != 1) return lie("a ctrl answered " + std::to_string(ret));
  return {};
}

bool ivlen_allowed(const CipherFacts& f, size_t ivlen) {
  return ivlen >= f.min_ivlen && ivlen <= f.max_ivlen;
}

// A tag of `size` bytes, as an AEAD gives one: 1 to max_taglen bytes (OpenSSL's GCM and
// ChaCha20-Poly1305 refuse any other size).
bool tag_size_allowed(const CipherFacts& f, size_t size) {
  return f.aead && size >= 1 && size <= f.max_taglen;
}

Status check_ctx_values(const CipherFacts& f, size_t ivlen, const OSSL_PARAM* got, const OSSL_PARAM* sent) {
  for (size_t i = 0; got != nullptr && got[i].key != nullptr; ++i) {
    const OSSL_PARAM* p = &got[i];
    const std::string name = p->key;
    if (p->return_size == OSSL_PARAM_UNMODIFIED) {
      const bool same = p->data == nullptr || sent[i].data == nullptr ||
                        std::memcmp(p->data, sent[i].data, std::min(p->data_size, sent[i].data_size)) == 0;
      if (same) continue;
      // OpenSSL's ChaCha20-Poly1305 writes a tag, and GCM the TLS IV's invocation field
      // (OpenSSH's IV_GEN: at most the IV's length), into the buffer without a return size.
      if (is(*p, OSSL_CIPHER_PARAM_AEAD_TAG) && tag_size_allowed(f, p->data_size)) continue;
      if (is(*p, OSSL_CIPHER_PARAM_AEAD_TLS1_GET_IV_GEN) && f.mode == EVP_CIPH_GCM_MODE &&
          (p->data_size <= ivlen ||
           std::memcmp(static_cast<const unsigned char*>(p->data) + ivlen,
                       static_cast<const unsigned char*>(sent[i].data) + ivlen, p->data_size - ivlen) == 0))
        continue;
      return lie(name + " of " + std::to_string(p->data_size) + " bytes changed without a return size");
    }
    size_t v = 0;
    if (is(*p, OSSL_CIPHER_PARAM_AEAD_TAG)) {
      if (p->return_size != p->data_size || !tag_size_allowed(f, p->return_size))
        return lie("a tag of " + std::to_string(p->return_size) + " bytes, asked " + std::to_string(p->data_size));
    } else if (is(*p, OSSL_CIPHER_PARAM_AEAD_TAGLEN)) {
      if (!value_of(*p, &v) || !f.aead || v > f.max_taglen) return lie("tag length " + std::to_string(v));
    } else if (is(*p, OSSL_CIPHER_PARAM_AEAD_TLS1_AAD_PAD)) {
      if (!value_of(*p, &v) || !f.aead || (v != 0 && v != f.max_taglen)) return lie("TLS AAD pad " + std::to_string(v));
    } else if (is(*p, OSSL_CIPHER_PARAM_PADDING)) {
      if (!value_of(*p, &v) || v > 1) return lie("padding " + std::to_string(v));
    } else if (is(*p, OSSL_CIPHER_PARAM_NUM)) {
      if (!value_of(*p, &v) || v >= kAesBlock) return lie("num " + std::to_string(v));
    } else if (is(*p, OSSL_CIPHER_PARAM_IV) || is(*p, OSSL_CIPHER_PARAM_UPDATED_IV)) {
      // OpenSSL gives the whole IV, of the length the context has (the host mirrors it).
      if (p->return_size != ivlen)
        return lie(name + " of " + std::to_string(p->return_size) + " bytes, the IV length " + std::to_string(ivlen));
    } else if (is(*p, OSSL_CIPHER_PARAM_KEYLEN)) {
      if (!value_of(*p, &v) || v != f.keylen) return lie("key length " + std::to_string(v));
    } else if (is(*p, OSSL_CIPHER_PARAM_IVLEN)) {
      if (!value_of(*p, &v) || v != ivlen || !ivlen_allowed(f, v)) return lie("IV length " + std::to_string(v));
    } else {
      // OpenSSL's ciphers answer no other name: a value the host cannot judge is not passed on.
      return lie(name + ", which the cipher does not have, answered");
    }
  }
  return {};
}

}  // namespace cryptine::provider
