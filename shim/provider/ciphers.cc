// The provider's ciphers, modelled on OpenSSL's providers/implementations/ciphers/: one
// dispatch table per algorithm plus small functions. A context is a host object holding
// the twin (lease + guest handle) made at its first use; keys, IVs and the running state
// never leave the virtine. The host answers only fixed facts (and the IV length, which it
// mirrors); every number the guest returns is checked against cipher_contract.h before
// OpenSSL or the program sees it, and output is copied only into the room that contract
// gives, which the program's buffer must hold.
#include "shim/provider/ciphers.h"

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/proverr.h>

#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include "shim/client/batch_wire.h"
#include "shim/client/guest_ops.h"
#include "shim/client/openssl_errors.h"
#include "shim/client/param_wire.h"
#include "shim/client/runtime.h"
#include "shim/client/virtine_call.h"
#include "shim/provider/algorithm_filter.h"
#include "shim/provider/cipher_contract.h"
#include "shim/provider/native_delegate.h"
#include "shim/provider/twin_context.h"
#include "vmm/bulk_copy.h"

namespace cryptine::provider {
namespace {

// X(id, OpenSSL's names for it (as the default provider spells them), the guest's name,
// key length, IV length, settable IV lengths (min, max), block size, mode, AEAD, whether
// get_ctx_params reports a set IV length, tag length). The guest serves these.
#define CRYPTINE_PROVIDER_CIPHERS(X)                                                                                   \
  X(kAes128Ecb, "AES-128-ECB:2.16.840.1.101.3.4.1.1", "AES-128-ECB", 16, 0, 0, 0, 16, EVP_CIPH_ECB_MODE, false, false, \
    0)                                                                                                                 \
  X(kAes128Cbc, "AES-128-CBC:AES128:2.16.840.1.101.3.4.1.2", "AES-128-CBC", 16, 16, 16, 16, 16, EVP_CIPH_CBC_MODE,     \
    false, false, 0)                                                                                                   \
  X(kAes256Cbc, "AES-256-CBC:AES256:2.16.840.1.101.3.4.1.42", "AES-256-CBC", 32, 16, 16, 16, 16, EVP_CIPH_CBC_MODE,    \
    false, false, 0)                                                                                                   \
  X(kAes128Ctr, "AES-128-CTR", "AES-128-CTR", 16, 16, 16, 16, 1, EVP_CIPH_CTR_MODE, false, false, 0)                   \
  X(kAes192Ecb, "AES-192-ECB:2.16.840.1.101.3.4.1.21", "AES-192-ECB", 24, 0, 0, 0, 16, EVP_CIPH_ECB_MODE, false,       \
    false, 0)                                                                                                          \
  X(kAes256Ecb, "AES-256-ECB:2.16.840.1.101.3.4.1.41", "AES-256-ECB", 32, 0, 0, 0, 16, EVP_CIPH_ECB_MODE, false,       \
    false, 0)                                                                                                          \
  X(kAes192Cbc, "AES-192-CBC:AES192:2.16.840.1.101.3.4.1.22", "AES-192-CBC", 24, 16, 16, 16, 16, EVP_CIPH_CBC_MODE,    \
    false, false, 0)                                                                                                   \
  X(kAes192Ctr, "AES-192-CTR", "AES-192-CTR", 24, 16, 16, 16, 1, EVP_CIPH_CTR_MODE, false, false, 0)                   \
  X(kAes256Ctr, "AES-256-CTR", "AES-256-CTR", 32, 16, 16, 16, 1, EVP_CIPH_CTR_MODE, false, false, 0)                   \
  X(kAes128Cfb, "AES-128-CFB:2.16.840.1.101.3.4.1.4", "AES-128-CFB", 16, 16, 16, 16, 1, EVP_CIPH_CFB_MODE, false,      \
    false, 0)                                                                                                          \
  X(kAes256Cfb, "AES-256-CFB:2.16.840.1.101.3.4.1.44", "AES-256-CFB", 32, 16, 16, 16, 1, EVP_CIPH_CFB_MODE, false,     \
    false, 0)                                                                                                          \
  X(kAes128Ofb, "AES-128-OFB:2.16.840.1.101.3.4.1.3", "AES-128-OFB", 16, 16, 16, 16, 1, EVP_CIPH_OFB_MODE, false,      \
    false, 0)                                                                                                          \
  X(kAes256Ofb, "AES-256-OFB:2.16.840.1.101.3.4.1.43", "AES-256-OFB", 32, 16, 16, 16, 1, EVP_CIPH_OFB_MODE, false,     \
    false, 0)                                                                                                          \
  X(kChaCha20, "ChaCha20", "ChaCha20", 32, 16, 16, 16, 1, 0, false, false, 0)                                          \
  X(kAes128Gcm, "AES-128-GCM:id-aes128-GCM:2.16.840.1.101.3.4.1.6", "AES-128-GCM", 16, 12, 1, 128, 1,                  \
    EVP_CIPH_GCM_MODE, true, true, 16)                                                                                 \
  X(kAes192Gcm, "AES-192-GCM:id-aes192-GCM:2.16.840.1.101.3.4.1.26", "AES-192-GCM", 24, 12, 1, 128, 1,                 \
    EVP_CIPH_GCM_MODE, true, true, 16)                                                                                 \
  X(kAes256Gcm, "AES-256-GCM:id-aes256-GCM:2.16.840.1.101.3.4.1.46", "AES-256-GCM", 32, 12, 1, 128, 1,                 \
    EVP_CIPH_GCM_MODE, true, true, 16)                                                                                 \
  X(kChaCha20Poly1305, "ChaCha20-Poly1305", "ChaCha20-Poly1305", 32, 12, 1, 12, 1, 0, true, false, 16)

struct CipherInfo {
  const char* names;
  const char* guest_name;
  CipherFacts facts;
};

#define CRYPTINE_CIPHER_ID(id, names, guest, key, iv, iv_min, iv_max, block, mode, aead, iv_reported, tag) id,
enum CipherId : size_t { CRYPTINE_PROVIDER_CIPHERS(CRYPTINE_CIPHER_ID) };
#define CRYPTINE_CIPHER_INFO(id, names, guest, key, iv, iv_min, iv_max, block, mode, aead, iv_reported, tag) \
  {names, guest, {key, iv, iv_min, iv_max, block, mode, aead, iv_reported, tag}},
constexpr CipherInfo kCiphers[] = {CRYPTINE_PROVIDER_CIPHERS(CRYPTINE_CIPHER_INFO)};
static_assert(kChaCha20Poly1305 + 1 == std::size(kCiphers));
static_assert([] {
  for (const CipherInfo& c : kCiphers)
    if (c.facts.blocksize > guest::kMaxBlock || c.facts.max_taglen > guest::kMaxBlock) return false;
  return true;
}());

struct CipherContext {
  const CipherInfo* info;
  std::optional<Twin> twin;  // from the first use to freectx
  size_t ivlen;              // what get_ctx_params reports (CipherFacts::ivlen_reported)
  // libssl's record mode: updates are whole TLS records, which the guest strips of an
  // explicit IV, tag, padding and MAC. A TLS version makes every update one (CBC); a TLS
  // AAD only the next (AEADs).
  bool tls_version = false;
  bool tls_aad = false;
  // One exit per operation: the no-output calls (a checked init, AAD, a decrypt's tag)
  // ride with the context's next request, and an AEAD seal's final brings its tag back,
  // kept here for the get_ctx_params that follows.
  PendingSteps pending{};
  bool encrypting = false;
  // AAD is recorded only where OpenSSL's AEADs take it for sure: keyed, after a new IV
  // and before any data (elsewhere GCM refuses it, and that error belongs to the AAD
  // call itself).
  bool key_set = false;
  bool aad_may_defer = false;
  size_t tag_len = 0;  // bytes of `tag` the last final returned; 0: none to answer from
  unsigned char tag[guest::kMaxBlock] = {};
  // An AEAD's update also brings back the final the program is expected to make next,
  // answered by the guest from a copy of its context: if the next call is that final, it
  // is served from here with no exit. Any other call drops it and proceeds as without, so
  // a call that breaks the prediction costs an exit, never a wrong answer.
  std::optional<PredictedFinal> predicted{};
  bool tag_given = false;  // a decrypt's expected tag was set since its init
  size_t tls_aad_pad = 0;  // a recorded TLS AAD's pad, for the get_ctx_params that follows
};

CipherContext* as_context(void* vctx) {
  return static_cast<CipherContext*>(vctx);
}

// The predicted final is right only for the state it was made in.
void drop_prediction(CipherContext& ctx) {
  if (!ctx.predicted) return;
  OPENSSL_cleanse(&*ctx.predicted, sizeof(*ctx.predicted));
  ctx.predicted.reset();
}

// OpenSSL's 1 or 0 for a call run on the twin.
int on_twin(const Twin& twin, FunctionRef<Status(Virtine&)> fn) {
  return run_on_twin(twin, Family::kCipher, fn) ? 1 : 0;
}

// A broken contract is the guest's lie: that virtine is not used again.
Status poison_if_broken(Virtine& v, Status contract) {
  if (contract.ok()) return contract;
  return v.poison(std::move(contract).error());
}

void raise(int reason) {
  ERR_raise(ERR_LIB_PROV, reason);
}

// The guest's count of AAD taken, judged against what the batch carried.
Status check_batch_aad(Virtine& v, size_t sent, int64_t taken) {
  return poison_if_broken(v, check_aad(sent, taken < 0 ? SIZE_MAX : static_cast<size_t>(taken)));
}

// The recorded calls on their own, ahead of a call that cannot carry them. Sent is
// spent: they are dropped whether they succeed or not (a failure fails the caller).
Status send_pending(CipherContext& ctx, Virtine& v) {
  if (ctx.pending.empty()) return {};
  guest::CipherBatch b;
  b.handle = ctx.twin->handle;
  b.steps = ctx.pending.wire();
  const Result<guest::BatchReply> r = guest::cipher_batch(v, b, {});
  const size_t sent = ctx.pending.aad_bytes();
  ctx.pending.clear();
  if (!r.ok()) return r.error();
  return check_batch_aad(v, sent, r->aad_taken);
}

// EVP_CipherInit_ex in the guest. The first makes the twin (and the guest context); a
// later one keeps the guest context, its cipher and settings, as a provider's re-init
// keeps its own context.
bool start(CipherContext& ctx, guest::CipherInit request) {
  if (ctx.twin) {
    const Twin& twin = *ctx.twin;
    request.handle = twin.handle;
    request.cipher = "";
    return on_twin(twin, [&](Virtine& v) -> Status {
      CRYPTINE_TRY_STATUS(send_pending(ctx, v));
      CRYPTINE_TRY(guest::cipher_init(v, request));
      return {};
    });
  }
  request.cipher = ctx.info->guest_name;
  return make_provider_twin(
      Family::kCipher, [&](Virtine& v) { return guest::cipher_init(v, request); }, &ctx.twin);
}

// Params set or read before any init (EVP applies key and IV lengths first) need the
// guest context: it is made with neither key nor IV.
bool ensure_twin(CipherContext& ctx) {
  return ctx.twin.has_value() || start(ctx, guest::CipherInit{});
}

// A decrypt's expected tag alone, which OpenSSL's GCM and ChaCha20-Poly1305 accept
// whenever it is 1..16 bytes of data on a decrypting context (checked here): recorded for
// the next request.
bool defers_tag(CipherContext& ctx, const OSSL_PARAM params[]) {
  const CipherFacts& f = ctx.info->facts;
  const OSSL_PARAM& p = params[0];
  if (!f.aead || !ctx.twin || ctx.encrypting || params[1].key != nullptr ||
      std::strcmp(p.key, OSSL_CIPHER_PARAM_AEAD_TAG) != 0 || p.data_type != OSSL_PARAM_OCTET_STRING ||
      p.data == nullptr || p.data_size == 0 || p.data_size > f.max_taglen)
    return false;
  Result<std::vector<uint8_t>> wire = encode_params(params);
  return wire.ok() && ctx.pending.add_set_params(*wire);
}

// libssl's TLS 1.2 record AAD (EVP_CTRL_AEAD_TLS1_AAD: a set, then a get of its pad), alone
// in its list: recorded for the record's update, which the guest then makes in the same
// trip. Its pad is what OpenSSL's GCM and ChaCha20-Poly1305 answer for every TLS AAD they
// take, the tag's length; an AAD they refuse (13 bytes whose record length cannot hold
// GCM's explicit IV, or a decrypt's tag) goes to the guest at once, to be refused there.
bool defers_tls_aad(CipherContext& ctx, const OSSL_PARAM params[]) {
  const CipherFacts& f = ctx.info->facts;
  const OSSL_PARAM& p = params[0];
  if (!f.aead || !ctx.twin || params[1].key != nullptr || std::strcmp(p.key, OSSL_CIPHER_PARAM_AEAD_TLS1_AAD) != 0 ||
      p.data_type != OSSL_PARAM_OCTET_STRING || p.data == nullptr || p.data_size != EVP_AEAD_TLS1_AAD_LEN)
    return false;
  const auto* aad = static_cast<const unsigned char*>(p.data);
  const size_t record = static_cast<size_t>(aad[EVP_AEAD_TLS1_AAD_LEN - 2]) << 8 | aad[EVP_AEAD_TLS1_AAD_LEN - 1];
  const size_t explicit_iv = f.mode == EVP_CIPH_GCM_MODE ? EVP_GCM_TLS_EXPLICIT_IV_LEN : 0;
  if (record < explicit_iv + (ctx.encrypting ? 0 : f.max_taglen)) return false;
  Result<std::vector<uint8_t>> wire = encode_params(params);
  return wire.ok() && ctx.pending.add_set_params(*wire);
}

// OpenSSH's EVP_CTRL_GCM_SET_IV_FIXED with -1 (the whole IV, restored): a length of
// SIZE_MAX, which no param list can carry, alone in its list.
bool restores_whole_iv(const CipherFacts& f, const OSSL_PARAM params[]) {
  return f.mode == EVP_CIPH_GCM_MODE && std::strcmp(params[0].key, OSSL_CIPHER_PARAM_AEAD_TLS1_IV_FIXED) == 0 &&
         params[0].data_size == SIZE_MAX && params[0].data != nullptr && params[1].key == nullptr;
}

int set_ctx_params(void* vctx, const OSSL_PARAM params[]) {
  return no_throw(0, [&] {
    CipherContext* ctx = as_context(vctx);
    const CipherFacts& f = ctx->info->facts;
    if (params == nullptr || params[0].key == nullptr) return 1;
    // A tag longer than any is refused here, as OpenSSL's AEADs refuse it (it would not
    // fit a request anyway).
    const OSSL_PARAM* tag = f.aead ? OSSL_PARAM_locate_const(params, OSSL_CIPHER_PARAM_AEAD_TAG) : nullptr;
    if (tag != nullptr && tag->data_size > f.max_taglen) {
      raise(f.mode == EVP_CIPH_GCM_MODE ? PROV_R_FAILED_TO_GET_PARAMETER : PROV_R_INVALID_TAG_LENGTH);
      return 0;
    }
    // The program's IV length is judged here (OpenSSL ignores it where it is fixed).
    const OSSL_PARAM* p = OSSL_PARAM_locate_const(params, OSSL_CIPHER_PARAM_AEAD_IVLEN);
    size_t ivlen = 0;
    const bool sets_ivlen = p != nullptr && f.min_ivlen != f.max_ivlen;
    if (sets_ivlen && (!OSSL_PARAM_get_size_t(p, &ivlen) || !ivlen_allowed(f, ivlen))) {
      raise(PROV_R_INVALID_IV_LENGTH);
      return 0;
    }
    // GCM's IV length set to the one it has (openssl speed does so before every
    // operation) changes nothing in OpenSSL's GCM, and the host mirrors it: no exit.
    if (sets_ivlen && f.ivlen_reported && ivlen == ctx->ivlen && params[1].key == nullptr) return 1;
    // Padding means nothing to OpenSSL's GCM and ChaCha20-Poly1305 (their set_ctx_params
    // ignore it), and once a program turns it off (openssl speed does) EVP sets it again
    // at every init: answered here, with no exit and the prediction kept.
    if (f.aead && params[1].key == nullptr && std::strcmp(params[0].key, OSSL_CIPHER_PARAM_PADDING) == 0) return 1;
    ctx->tag_len = 0;
    drop_prediction(*ctx);
    const bool sets_tag = f.aead && !ctx->encrypting && OSSL_PARAM_locate_const(params, OSSL_CIPHER_PARAM_AEAD_TAG);
    ctx->tls_aad_pad = 0;
    if (defers_tag(*ctx, params)) {
      ctx->tag_given = true;
      return 1;
    }
    if (defers_tls_aad(*ctx, params)) {
      ctx->tls_aad = true;
      ctx->tls_aad_pad = f.max_taglen;
      return 1;
    }
    if (!ensure_twin(*ctx)) return 0;
    const Twin& twin = *ctx->twin;
    int ret = 0;
    if (!on_twin(twin, [&](Virtine& v) -> Status {
          CRYPTINE_TRY_STATUS(send_pending(*ctx, v));
          if (restores_whole_iv(f, params)) {  // its length is no length: the ctrl carries it
            const std::span<const uint8_t> iv(static_cast<const uint8_t*>(params[0].data), ctx->ivlen);
            const int64_t answer = CRYPTINE_TRY(guest::cipher_ctrl(v, twin.handle, EVP_CTRL_AEAD_SET_IV_FIXED, -1, iv,
                                                                   static_cast<uint32_t>(iv.size())))
                                       .first;
            Status checked = check_ctrl_return(answer);
            if (!checked.ok()) return v.poison(std::move(checked).error());
            ret = static_cast<int>(answer);
          } else {
            ret = CRYPTINE_TRY(guest::set_params(v, twin.handle, params));
          }
          return {};
        }))
      return 0;
    if (ret > 0 && sets_ivlen && f.ivlen_reported) ctx->ivlen = ivlen;
    if (ret > 0 && sets_tag) ctx->tag_given = true;
    unsigned int version = 0;
    if (ret > 0 && (p = OSSL_PARAM_locate_const(params, OSSL_CIPHER_PARAM_TLS_VERSION)) != nullptr)
      ctx->tls_version = OSSL_PARAM_get_uint(p, &version) && version > 0;
    if (ret > 0 && OSSL_PARAM_locate_const(params, OSSL_CIPHER_PARAM_AEAD_TLS1_AAD) != nullptr) ctx->tls_aad = true;
    return ret;
  });
}

// The tag right after a seal's final, asked at the length the final returned (already
// judged by check_final_tag): answered from the host's copy. Any other ask goes to the
// guest, so a call that breaks the prediction costs an exit, never a wrong answer.
bool tag_from_final(const CipherContext& ctx, OSSL_PARAM* p) {
  if (ctx.tag_len == 0) return false;
  if (std::strcmp(p->key, OSSL_CIPHER_PARAM_AEAD_TAG) != 0 || p->data_type != OSSL_PARAM_OCTET_STRING ||
      p->data == nullptr || p->data_size != ctx.tag_len)
    return false;
  std::memcpy(p->data, ctx.tag, ctx.tag_len);
  p->return_size = ctx.tag_len;
  return true;
}

// The pad of the TLS AAD just recorded (defers_tls_aad), asked alone: answered here, once.
bool pad_of_tls_aad(CipherContext& ctx, OSSL_PARAM* p) {
  return ctx.tls_aad_pad != 0 && std::strcmp(p->key, OSSL_CIPHER_PARAM_AEAD_TLS1_AAD_PAD) == 0 &&
         OSSL_PARAM_set_size_t(p, std::exchange(ctx.tls_aad_pad, 0));
}

int get_ctx_params(void* vctx, OSSL_PARAM params[]) {
  return no_throw(0, [&] {
    CipherContext* ctx = as_context(vctx);
    const CipherFacts& f = ctx->info->facts;
    // Key and IV lengths are answered here (EVP asks at every init); the rest goes to the
    // guest in copies, judged by the contract before the program's buffers receive them.
    // Counted first, so the common asks (lengths, a seal's tag) allocate nothing.
    size_t others = 0;
    OSSL_PARAM* other = nullptr;
    for (OSSL_PARAM* p = params; p != nullptr && p->key != nullptr; ++p) {
      if (std::strcmp(p->key, OSSL_CIPHER_PARAM_KEYLEN) == 0) {
        if (!OSSL_PARAM_set_size_t(p, f.keylen)) return 0;
      } else if (std::strcmp(p->key, OSSL_CIPHER_PARAM_IVLEN) == 0) {
        if (!OSSL_PARAM_set_size_t(p, ctx->ivlen)) return 0;
      } else {
        ++others;
        other = p;
      }
    }
    if (others == 0) return 1;
    if (others == 1 && tag_from_final(*ctx, other)) return 1;
    if (others == 1 && pad_of_tls_aad(*ctx, other)) return 1;
    drop_prediction(*ctx);                // (some reads change state: GCM's TLS IV generator)
    std::vector<OSSL_PARAM> asked, sent;  // the guest's copies; the program's, as they were
    std::vector<OSSL_PARAM*> theirs;
    std::vector<std::vector<unsigned char>> copies;
    for (OSSL_PARAM* p = params; p != nullptr && p->key != nullptr; ++p)
      if (std::strcmp(p->key, OSSL_CIPHER_PARAM_KEYLEN) != 0 && std::strcmp(p->key, OSSL_CIPHER_PARAM_IVLEN) != 0)
        theirs.push_back(p);
    copies.reserve(theirs.size());
    for (OSSL_PARAM* p : theirs) {
      const auto* data = static_cast<const unsigned char*>(p->data);
      copies.emplace_back(data, data == nullptr ? data : data + p->data_size);
      sent.push_back(*p);
      asked.push_back(*p);
      asked.back().data = p->data == nullptr ? nullptr : copies.back().data();
    }
    asked.push_back(OSSL_PARAM_construct_end());
    if (!ensure_twin(*ctx)) return 0;
    const Twin& twin = *ctx->twin;
    int ret = 0;
    if (!on_twin(twin, [&](Virtine& v) -> Status {
          CRYPTINE_TRY_STATUS(send_pending(*ctx, v));
          ret = CRYPTINE_TRY(guest::get_params(v, twin.handle, asked.data()));
          return poison_if_broken(v, check_ctx_values(f, ctx->ivlen, asked.data(), sent.data()));
        }))
      return 0;
    for (size_t i = 0; i < theirs.size(); ++i) {
      if (theirs[i]->data != nullptr && !copies[i].empty())
        std::memcpy(theirs[i]->data, copies[i].data(), copies[i].size());
      theirs[i]->return_size = asked[i].return_size;
    }
    return ret;
  });
}

int init(void* vctx, const unsigned char* key, size_t keylen, const unsigned char* iv, size_t ivlen,
         const OSSL_PARAM params[], int enc) {
  return no_throw(0, [&] {
    CipherContext* ctx = as_context(vctx);
    const CipherFacts& f = ctx->info->facts;
    // The lengths EVP passes are the ones get_ctx_params gave it; others are refused
    // before anything is sent (as OpenSSL's own ciphers refuse them).
    if (key != nullptr && keylen != f.keylen) {
      raise(PROV_R_INVALID_KEY_LENGTH);
      return 0;
    }
    if (iv != nullptr && ivlen != ctx->ivlen) {
      raise(PROV_R_INVALID_IV_LENGTH);
      return 0;
    }
    const std::span<const uint8_t> k(key, key != nullptr ? keylen : 0);
    const std::span<const uint8_t> i(iv, iv != nullptr ? ivlen : 0);
    ctx->tag_len = 0;
    drop_prediction(*ctx);
    ctx->tag_given = false;
    ctx->encrypting = enc == 1;
    ctx->key_set = ctx->key_set || key != nullptr;
    ctx->aad_may_defer = ctx->key_set && iv != nullptr;
    // With the lengths checked above, OpenSSL's init of a context that exists cannot
    // fail: it rides with the next request. Params may fail, so with them it goes now.
    const bool no_params = params == nullptr || params[0].key == nullptr;
    if (ctx->twin && no_params &&
        ctx->pending.add_init(enc, key != nullptr ? &k : nullptr, iv != nullptr ? &i : nullptr))
      return 1;
    guest::CipherInit request;
    request.key = key != nullptr ? &k : nullptr;
    request.iv = iv != nullptr ? &i : nullptr;
    request.enc = enc;
    if (!start(*ctx, request)) return 0;
    return set_ctx_params(vctx, params);
  });
}

int encrypt_init(void* vctx, const unsigned char* key, size_t keylen, const unsigned char* iv, size_t ivlen,
                 const OSSL_PARAM params[]) {
  return init(vctx, key, keylen, iv, ivlen, params, 1);
}

int decrypt_init(void* vctx, const unsigned char* key, size_t keylen, const unsigned char* iv, size_t ivlen,
                 const OSSL_PARAM params[]) {
  return init(vctx, key, keylen, iv, ivlen, params, 0);
}

// The program's arguments to update, final and cipher, judged in one place before
// anything is sent: an initialised context, an outl, the input where inl promises one,
// and an output buffer of at least `room` bytes (null only where `out_may_be_null`:
// an AEAD's AAD, a final that writes nothing). The twin, or null with the error raised.
const Twin* checked_call(const CipherContext* ctx, const size_t* outl, const unsigned char* in, size_t inl,
                         const unsigned char* out, size_t outsize, size_t room, bool out_may_be_null) {
  if (ctx == nullptr || !ctx->twin) {
    raise(PROV_R_NO_KEY_SET);  // no init yet: nothing to run on
    return nullptr;
  }
  if (outl == nullptr || (in == nullptr && inl > 0) || (out == nullptr && !out_may_be_null)) {
    raise(ERR_R_PASSED_NULL_PARAMETER);
    return nullptr;
  }
  if (out != nullptr && outsize < room) {
    raise(PROV_R_OUTPUT_BUFFER_TOO_SMALL);
    return nullptr;
  }
  return &*ctx->twin;
}

// An AEAD's update with no output: the additional data, all of it taken. Recorded for
// the next request; too large to ride along, it goes now (after what is recorded).
int update_aad(CipherContext& ctx, size_t* outl, std::span<const uint8_t> aad) {
  if (ctx.aad_may_defer && ctx.pending.add_aad(aad)) {
    *outl = aad.size();
    return 1;
  }
  const Twin& twin = *ctx.twin;
  return on_twin(twin, [&](Virtine& v) -> Status {
    CRYPTINE_TRY_STATUS(send_pending(ctx, v));
    const int taken = CRYPTINE_TRY(guest::cipher_aad(v, twin.handle, aad));
    CRYPTINE_TRY_STATUS(poison_if_broken(v, check_aad(aad.size(), taken < 0 ? SIZE_MAX : static_cast<size_t>(taken))));
    *outl = aad.size();
    return {};
  });
}

int update(void* vctx, unsigned char* out, size_t* outl, size_t outsize, const unsigned char* in, size_t inl) {
  return no_throw(0, [&] {
    CipherContext* ctx = as_context(vctx);
    const CipherFacts& f = ctx->info->facts;
    const bool tls_record = ctx->tls_version || ctx->tls_aad;
    const size_t room = update_room(f, inl, tls_record);
    const Twin* twin = checked_call(ctx, outl, in, inl, out, outsize, room, f.aead);
    if (twin == nullptr) return 0;
    *outl = 0;
    if (inl == 0) return 1;
    const std::span<const uint8_t> data(in, inl);
    ctx->tag_len = 0;
    drop_prediction(*ctx);
    if (out == nullptr) return update_aad(*ctx, outl, data);
    ctx->tls_aad = false;  // the guest's mode too ends with this record, served or not
    ctx->tls_aad_pad = 0;
    ctx->aad_may_defer = false;
    const std::span<uint8_t> buffer(out, room);
    const bool in_place = out == in;
    // An AEAD's final is predicted (below) for a seal, and for an open whose tag is already
    // set; an open that sets it after this update pays a trip for its final (the guest
    // never hands out an open's expected tag: a forgery oracle for a key the program
    // cannot read). A TLS 1.2 record's final is its own business: nothing to predict.
    const bool predict = f.aead && !tls_record && (ctx->encrypting || ctx->tag_given);
    if ((!ctx->pending.empty() || predict) &&
        inl <= guest::max_in_place() - PendingSteps::kMaxBytes - sizeof(cryptine_predicted_final))
      return on_twin(*twin, [&](Virtine& v) -> Status {
        guest::CipherBatch b;
        b.handle = twin->handle;
        b.steps = ctx->pending.wire();
        b.then = guest::BatchThen::kUpdate;
        b.in = data;
        b.in_place = in_place;
        b.predict = predict;
        b.tag = static_cast<uint32_t>(predict && ctx->encrypting ? f.max_taglen : 0);
        Result<guest::BatchReply> r = guest::cipher_batch(v, b, buffer);
        const size_t sent = ctx->pending.aad_bytes();
        ctx->pending.clear();
        if (!r.ok()) return r.error();
        CRYPTINE_TRY_STATUS(check_batch_aad(v, sent, r->aad_taken));
        CRYPTINE_TRY_STATUS(poison_if_broken(v, check_batch_update(f, inl, r->copied, r->outl, in_place, tls_record)));
        if (r->predicted) {
          const PredictedFinal& p = *r->predicted;
          Status judged = poison_if_broken(v, check_predicted_final(f, p.verdict, p.outl, p.tag_len, b.tag));
          // Kept: a final that succeeded, or an open's verdict that it failed (a seal's
          // failure, which its data cannot cause, is left to the real final).
          if (judged.ok() &&
              (p.verdict == CRYPTINE_PREDICT_OK || (p.verdict == CRYPTINE_PREDICT_FAILED && !ctx->encrypting)))
            ctx->predicted = p;
          OPENSSL_cleanse(&*r->predicted, sizeof(*r->predicted));
          CRYPTINE_TRY_STATUS(std::move(judged));
        }
        *outl = static_cast<size_t>(r->outl);
        return {};
      });
    return on_twin(*twin, [&](Virtine& v) -> Status {
      CRYPTINE_TRY_STATUS(send_pending(*ctx, v));
      size_t written;
      if (out == in && inl <= guest::max_in_place())
        written = static_cast<size_t>(CRYPTINE_TRY(guest::cipher_update_in_place(v, twin->handle, data, buffer)));
      else
        written = CRYPTINE_TRY(guest::cipher_update_into(v, twin->handle, data, buffer));
      CRYPTINE_TRY_STATUS(poison_if_broken(v, check_update(f, inl, written, tls_record)));
      *outl = written;
      return {};
    });
  });
}

// A final with what is recorded, and for an AEAD seal its whole tag read right after:
// one trip where the program makes two calls.
Status final_batch(CipherContext& ctx, Virtine& v, unsigned char* out, size_t* outl) {
  const CipherFacts& f = ctx.info->facts;
  const size_t tag_asked = f.aead && ctx.encrypting ? f.max_taglen : 0;
  unsigned char reply[2 * guest::kMaxBlock];  // final_room + a tag, both at most a block
  guest::CipherBatch b;
  b.handle = ctx.twin->handle;
  b.steps = ctx.pending.wire();
  b.then = guest::BatchThen::kFinal;
  b.tag = static_cast<uint32_t>(tag_asked);
  const Result<guest::BatchReply> r = guest::cipher_batch(v, b, {reply, final_room(f) + tag_asked});
  const size_t sent = ctx.pending.aad_bytes();
  ctx.pending.clear();
  if (!r.ok()) return r.error();
  CRYPTINE_TRY_STATUS(check_batch_aad(v, sent, r->aad_taken));
  CRYPTINE_TRY_STATUS(poison_if_broken(v, check_final_tag(f, r->copied, r->outl, r->tag_len, tag_asked)));
  const size_t n = static_cast<size_t>(r->outl);
  if (n > 0) std::memcpy(out, reply, n);
  *outl = n;
  ctx.tag_len = static_cast<size_t>(r->tag_len);
  if (ctx.tag_len > 0) std::memcpy(ctx.tag, reply + n, ctx.tag_len);
  OPENSSL_cleanse(reply, sizeof(reply));
  return {};
}

// The final predicted with the last update, served with no trip (1, or 0 for an open
// whose tag did not verify, with the guest's error if it raised one); -1 if it cannot be.
// The guest's context takes the real final with its next request, so that it is not left
// a final behind the program's (GCM refuses an update after a final until a new IV).
int final_from_prediction(CipherContext& ctx, unsigned char* out, size_t* outl) {
  PredictedFinal p = *ctx.predicted;
  drop_prediction(ctx);
  int ret = -1;
  if (ctx.pending.add_final()) {
    if (p.verdict == CRYPTINE_PREDICT_OK) {
      if (p.outl > 0) std::memcpy(out, p.bytes, p.outl);  // within final_room: checked
      *outl = p.outl;
      ctx.tag_len = p.tag_len;
      if (p.tag_len > 0) std::memcpy(ctx.tag, p.bytes + p.outl, p.tag_len);
      ret = 1;
    } else {
      // Counted as the trip that made it would have been: the guest's OpenSSL said no.
      Runtime::get().counters().refused.fetch_add(1, std::memory_order_relaxed);
      raise_openssl_error(Error(ErrorCode::kGuestRefused, "a predicted final").with_detail(p.err_code));
      ret = 0;
    }
  }
  OPENSSL_cleanse(&p, sizeof(p));
  return ret;
}

int final(void* vctx, unsigned char* out, size_t* outl, size_t outsize) {
  return no_throw(0, [&] {
    CipherContext* ctx = as_context(vctx);
    const CipherFacts& f = ctx->info->facts;
    const size_t room = final_room(f);
    const Twin* twin = checked_call(ctx, outl, nullptr, 0, out, outsize, room, room == 0);
    if (twin == nullptr) return 0;
    *outl = 0;
    ctx->tag_len = 0;
    ctx->aad_may_defer = false;
    if (ctx->predicted)
      if (const int served = final_from_prediction(*ctx, out, outl); served >= 0) return served;
    if (!ctx->pending.empty() || (f.aead && ctx->encrypting))
      return on_twin(*twin, [&](Virtine& v) { return final_batch(*ctx, v, out, outl); });
    return on_twin(*twin, [&](Virtine& v) -> Status {
      const guest::Bytes o = CRYPTINE_TRY(guest::cipher_final(v, twin->handle));
      CRYPTINE_TRY_STATUS(poison_if_broken(v, check_final(f, o.size())));
      if (!o.empty()) std::memcpy(out, o.data(), o.size());
      *outl = o.size();
      return {};
    });
  });
}

// EVP_Cipher's entry: one call that reports its own length (or -1, which fails here).
int cipher(void* vctx, unsigned char* out, size_t* outl, size_t outsize, const unsigned char* in, size_t inl) {
  return no_throw(0, [&] {
    CipherContext* ctx = as_context(vctx);
    // out may be null: AAD, or (with in null too) an AEAD's final.
    const Twin* twin = checked_call(ctx, outl, in, inl, out, outsize, inl, true);
    if (twin == nullptr) return 0;
    *outl = 0;
    const bool whole = in != nullptr && out != nullptr && !ctx->tls_version && !ctx->tls_aad;
    ctx->tls_aad = false;
    ctx->tls_aad_pad = 0;
    ctx->tag_len = 0;
    drop_prediction(*ctx);
    ctx->aad_may_defer = false;
    int ret = -1;
    uint64_t err = 0;
    if (!on_twin(*twin, [&](Virtine& v) -> Status {
          CRYPTINE_TRY_STATUS(send_pending(*ctx, v));
          const guest::CipherRaw raw =
              CRYPTINE_TRY(guest::cipher_raw(v, twin->handle, {in, in != nullptr ? inl : 0}, in == nullptr,
                                             out == nullptr, out == in && in != nullptr));
          CRYPTINE_TRY_STATUS(
              poison_if_broken(v, check_cipher(inl, raw.out.size(), raw.ret > 0 ? static_cast<size_t>(raw.ret) : 0,
                                               whole && raw.ret >= 0)));
          if (out != nullptr) copy_bulk(out, raw.out.data(), raw.out.size());
          ret = raw.ret;
          err = raw.err_code;
          return {};
        }))
      return 0;
    if (ret < 0) {  // OpenSSL's answer in the guest (a TLS record whose tag does not verify)
      if (err != 0) ERR_raise_data(ERR_GET_LIB(err), ERR_GET_REASON(err), "in a cryptine virtine");
      return 0;
    }
    *outl = static_cast<size_t>(ret);
    return 1;
  });
}

// dupctx: the copy made as for every twin, and the predicted final dropped from both (the
// brief rule: anything but the final itself breaks the prediction; the cost is one exit).
void* dupctx(void* vctx) {
  drop_prediction(*as_context(vctx));
  return dup_twin_context<CipherContext, Family::kCipher>(vctx);
}

// Fixed facts of the algorithm, answered on the host (no virtine needed).
int get_params(const CipherFacts& f, OSSL_PARAM params[]) {
  OSSL_PARAM* p;
  if ((p = OSSL_PARAM_locate(params, OSSL_CIPHER_PARAM_MODE)) != nullptr && !OSSL_PARAM_set_uint(p, f.mode)) return 0;
  if ((p = OSSL_PARAM_locate(params, OSSL_CIPHER_PARAM_AEAD)) != nullptr && !OSSL_PARAM_set_int(p, f.aead)) return 0;
  if ((p = OSSL_PARAM_locate(params, OSSL_CIPHER_PARAM_CUSTOM_IV)) != nullptr && !OSSL_PARAM_set_int(p, f.aead))
    return 0;
  for (const char* no : {OSSL_CIPHER_PARAM_CTS, OSSL_CIPHER_PARAM_TLS1_MULTIBLOCK, OSSL_CIPHER_PARAM_HAS_RAND_KEY})
    if ((p = OSSL_PARAM_locate(params, no)) != nullptr && !OSSL_PARAM_set_int(p, 0)) return 0;
  if ((p = OSSL_PARAM_locate(params, OSSL_CIPHER_PARAM_KEYLEN)) != nullptr && !OSSL_PARAM_set_size_t(p, f.keylen))
    return 0;
  if ((p = OSSL_PARAM_locate(params, OSSL_CIPHER_PARAM_BLOCK_SIZE)) != nullptr &&
      !OSSL_PARAM_set_size_t(p, f.blocksize))
    return 0;
  if ((p = OSSL_PARAM_locate(params, OSSL_CIPHER_PARAM_IVLEN)) != nullptr && !OSSL_PARAM_set_size_t(p, f.ivlen))
    return 0;
  return 1;
}

const OSSL_PARAM* gettable_params(void*) {
  static const OSSL_PARAM kGettable[] = {OSSL_PARAM_uint(OSSL_CIPHER_PARAM_MODE, nullptr),
                                         OSSL_PARAM_size_t(OSSL_CIPHER_PARAM_KEYLEN, nullptr),
                                         OSSL_PARAM_size_t(OSSL_CIPHER_PARAM_IVLEN, nullptr),
                                         OSSL_PARAM_size_t(OSSL_CIPHER_PARAM_BLOCK_SIZE, nullptr),
                                         OSSL_PARAM_int(OSSL_CIPHER_PARAM_AEAD, nullptr),
                                         OSSL_PARAM_int(OSSL_CIPHER_PARAM_CUSTOM_IV, nullptr),
                                         OSSL_PARAM_int(OSSL_CIPHER_PARAM_CTS, nullptr),
                                         OSSL_PARAM_int(OSSL_CIPHER_PARAM_TLS1_MULTIBLOCK, nullptr),
                                         OSSL_PARAM_int(OSSL_CIPHER_PARAM_HAS_RAND_KEY, nullptr),
                                         OSSL_PARAM_END};
  return kGettable;
}

// The context params, as OpenSSL's generic and AEAD ciphers list them, less the TLS MAC
// (a pointer into the provider's memory, which cannot cross from the guest).
const OSSL_PARAM* gettable_ctx_params_of(bool aead) {
  static const OSSL_PARAM kGeneric[] = {OSSL_PARAM_size_t(OSSL_CIPHER_PARAM_KEYLEN, nullptr),
                                        OSSL_PARAM_size_t(OSSL_CIPHER_PARAM_IVLEN, nullptr),
                                        OSSL_PARAM_uint(OSSL_CIPHER_PARAM_PADDING, nullptr),
                                        OSSL_PARAM_uint(OSSL_CIPHER_PARAM_NUM, nullptr),
                                        OSSL_PARAM_octet_string(OSSL_CIPHER_PARAM_IV, nullptr, 0),
                                        OSSL_PARAM_octet_string(OSSL_CIPHER_PARAM_UPDATED_IV, nullptr, 0),
                                        OSSL_PARAM_END};
  static const OSSL_PARAM kAead[] = {OSSL_PARAM_size_t(OSSL_CIPHER_PARAM_KEYLEN, nullptr),
                                     OSSL_PARAM_size_t(OSSL_CIPHER_PARAM_IVLEN, nullptr),
                                     OSSL_PARAM_size_t(OSSL_CIPHER_PARAM_AEAD_TAGLEN, nullptr),
                                     OSSL_PARAM_octet_string(OSSL_CIPHER_PARAM_IV, nullptr, 0),
                                     OSSL_PARAM_octet_string(OSSL_CIPHER_PARAM_UPDATED_IV, nullptr, 0),
                                     OSSL_PARAM_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, nullptr, 0),
                                     OSSL_PARAM_size_t(OSSL_CIPHER_PARAM_AEAD_TLS1_AAD_PAD, nullptr),
                                     OSSL_PARAM_octet_string(OSSL_CIPHER_PARAM_AEAD_TLS1_GET_IV_GEN, nullptr, 0),
                                     OSSL_PARAM_END};
  return aead ? kAead : kGeneric;
}

const OSSL_PARAM* settable_ctx_params_of(bool aead) {
  static const OSSL_PARAM kGeneric[] = {OSSL_PARAM_uint(OSSL_CIPHER_PARAM_PADDING, nullptr),
                                        OSSL_PARAM_uint(OSSL_CIPHER_PARAM_NUM, nullptr),
                                        OSSL_PARAM_uint(OSSL_CIPHER_PARAM_USE_BITS, nullptr),
                                        OSSL_PARAM_uint(OSSL_CIPHER_PARAM_TLS_VERSION, nullptr),
                                        OSSL_PARAM_size_t(OSSL_CIPHER_PARAM_TLS_MAC_SIZE, nullptr),
                                        OSSL_PARAM_END};
  static const OSSL_PARAM kAead[] = {OSSL_PARAM_size_t(OSSL_CIPHER_PARAM_AEAD_IVLEN, nullptr),
                                     OSSL_PARAM_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, nullptr, 0),
                                     OSSL_PARAM_octet_string(OSSL_CIPHER_PARAM_AEAD_TLS1_AAD, nullptr, 0),
                                     OSSL_PARAM_octet_string(OSSL_CIPHER_PARAM_AEAD_TLS1_IV_FIXED, nullptr, 0),
                                     OSSL_PARAM_octet_string(OSSL_CIPHER_PARAM_AEAD_TLS1_SET_IV_INV, nullptr, 0),
                                     OSSL_PARAM_END};
  return aead ? kAead : kGeneric;
}

// What differs per algorithm: the CipherInfo that newctx and the param calls see.
constexpr DelegateKind kDelegate{OSSL_OP_CIPHER, OSSL_FUNC_CIPHER_NEWCTX, OSSL_FUNC_CIPHER_FREECTX,
                                 &free_twin_context<CipherContext>, nullptr};

template <size_t I>
void* newctx(void*) {
  return new_delegated(kDelegate, kCiphers[I].names, [] {
    return new_twin_context(CipherContext{&kCiphers[I], std::nullopt, kCiphers[I].facts.ivlen});
  });
}
template <size_t I>
int get_params_of(OSSL_PARAM params[]) {
  return get_params(kCiphers[I].facts, params);
}
template <size_t I>
const OSSL_PARAM* gettable_ctx_params(void*, void*) {
  return gettable_ctx_params_of(kCiphers[I].facts.aead);
}
template <size_t I>
const OSSL_PARAM* settable_ctx_params(void*, void*) {
  return settable_ctx_params_of(kCiphers[I].facts.aead);
}

using Fn = void (*)(void);
template <size_t I>
const OSSL_DISPATCH kFunctions[] = {
    {OSSL_FUNC_CIPHER_NEWCTX, reinterpret_cast<Fn>(&newctx<I>)},
    CRYPTINE_FORWARD(OSSL_FUNC_CIPHER_ENCRYPT_INIT, &encrypt_init),
    CRYPTINE_FORWARD(OSSL_FUNC_CIPHER_DECRYPT_INIT, &decrypt_init),
    CRYPTINE_FORWARD(OSSL_FUNC_CIPHER_UPDATE, &update),
    CRYPTINE_FORWARD(OSSL_FUNC_CIPHER_FINAL, &final),
    CRYPTINE_FORWARD(OSSL_FUNC_CIPHER_CIPHER, &cipher),
    {OSSL_FUNC_CIPHER_FREECTX, reinterpret_cast<Fn>(&free_delegated)},
    {OSSL_FUNC_CIPHER_DUPCTX, reinterpret_cast<Fn>(&dup_delegated<OSSL_FUNC_CIPHER_DUPCTX, &dupctx>)},
    {OSSL_FUNC_CIPHER_GET_PARAMS, reinterpret_cast<Fn>(&get_params_of<I>)},
    CRYPTINE_FORWARD(OSSL_FUNC_CIPHER_GET_CTX_PARAMS, &get_ctx_params),
    CRYPTINE_FORWARD(OSSL_FUNC_CIPHER_SET_CTX_PARAMS, &set_ctx_params),
    {OSSL_FUNC_CIPHER_GETTABLE_PARAMS, reinterpret_cast<Fn>(&gettable_params)},
    {OSSL_FUNC_CIPHER_GETTABLE_CTX_PARAMS, reinterpret_cast<Fn>(&gettable_ctx_params<I>)},
    {OSSL_FUNC_CIPHER_SETTABLE_CTX_PARAMS, reinterpret_cast<Fn>(&settable_ctx_params<I>)},
    {0, nullptr}};

#define CRYPTINE_CIPHER_ALGORITHM(id, names, guest, key, iv, iv_min, iv_max, block, mode, aead, iv_reported, tag) \
  {names, "provider=cryptine", kFunctions<id>, "cipher in a cryptine virtine"},
const OSSL_ALGORITHM kAlgorithms[] = {CRYPTINE_PROVIDER_CIPHERS(CRYPTINE_CIPHER_ALGORITHM)};
static_assert(std::size(kAlgorithms) == std::size(kCiphers));

}  // namespace

const OSSL_ALGORITHM* cipher_algorithms() {
  // A cipher CRYPTINE_ALGS leaves out is not offered: the fetch goes to another provider
  // (with "?provider=cryptine") or fails (with "provider=cryptine").
  static const std::vector<OSSL_ALGORITHM>* list = new std::vector<OSSL_ALGORITHM>(offered(kAlgorithms));
  return list->data();
}

}  // namespace cryptine::provider
