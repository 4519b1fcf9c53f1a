// The provider's HMAC, modelled on OpenSSL's providers/implementations/macs/hmac_prov.c.
// A context's running state lives in a virtine from its first init or parameter to
// freectx. An init and the input after it are held on the host (HeldInit) and reach the
// guest's context with the final, in one request: init, update and final cost one exit.
// The MAC's size and block size are the digest's, which the host learns from its own
// table when the digest is named: OpenSSL and the program are told those, never a number
// the guest chose, and a MAC of any other length from the guest is a lie.
#include "shim/provider/macs.h"

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/proverr.h>

#include <cstring>
#include <optional>
#include <string_view>
#include <vector>

#include "abi/guest_abi.h"
#include "shim/client/guest_ops.h"
#include "shim/client/virtine_call.h"
#include "shim/provider/algorithm_filter.h"
#include "shim/provider/held_input.h"
#include "shim/provider/native_delegate.h"
#include "shim/provider/twin_context.h"

namespace cryptine::provider {
namespace {

// What the digest named by OSSL_MAC_PARAM_DIGEST makes of the MAC.
struct DigestShape {
  size_t size = 0;  // 0: no digest named yet
  size_t block_size = 0;
};

// Bounds of what a context holds. A key longer than kHeldKeyMax goes to the guest at its
// init (HMAC's keys are a block or less, TLS's at most 48 bytes). kHeldInputMax holds a TLS
// record's MAC input (a 13-byte header and up to 16 KiB of data); a context that streams
// more sends what it holds, then each update, as before. Held key, held input and the MAC
// fit one request with room to spare.
constexpr size_t kHeldKeyMax = 1024;
constexpr size_t kHeldInputMax = 32 * 1024;
static_assert(kHeldKeyMax + kHeldInputMax + guest::kMaxDigest <= CRYPTINE_PAYLOAD_SIZE,
              "a final of what a context holds must fit one request");

// An init the guest's context has not had yet, and the input since it, in the program's
// order. Anything else that must reach the guest (a parameter, an update past the bound)
// sends these first, so the guest sees the calls in the order the program made them.
struct HeldInit {
  bool pending = false;    // an init is held
  bool key_given = false;  // with a key (else the guest's context keeps its own)
  HeldInput key;
  HeldInput input;

  void clear() {
    pending = key_given = false;
    key.clear();
    input.clear();
  }
};

struct MacContext {
  DigestShape shape;
  std::optional<Twin> twin;  // from the first init or parameter to freectx
  HeldInit held;
};

MacContext* as_context(void* vctx) {
  return static_cast<MacContext*>(vctx);
}

// The digest's shape from the host's own OpenSSL: its static table of digests, no fetch
// (which could come back into this provider). nullopt for a name it does not know.
std::optional<DigestShape> shape_of(const char* digest) {
  const EVP_MD* md = EVP_get_digestbyname(digest);
  if (md == nullptr) return std::nullopt;
  const int size = EVP_MD_get_size(md);
  const int block = EVP_MD_get_block_size(md);
  if (size <= 0 || static_cast<uint32_t>(size) > guest::kMaxDigest || block <= 0) return std::nullopt;
  return DigestShape{static_cast<size_t>(size), static_cast<size_t>(block)};
}

// The contract of a MAC the guest returns: exactly the digest's size.
Status check_mac(const DigestShape& shape, const guest::Bytes& mac) {
  if (shape.size == 0 || mac.size() != shape.size) return Error(ErrorCode::kGuestFault, "HMAC of the wrong length");
  return {};
}

bool on_twin(const Twin& twin, FunctionRef<Status(Virtine&)> fn) {
  return run_on_twin(twin, Family::kMac, fn);
}

bool ensure_twin(MacContext* ctx) {
  return ctx->twin || make_provider_twin(
                          Family::kMac, [](Virtine& v) { return guest::mac_new(v, "HMAC"); }, &ctx->twin);
}

// MAC_RUN of the held init and input, then `final_capacity` bytes of MAC window (0: no
// final). The held state is dropped whatever the answer: the guest's context is what stands.
Result<guest::Bytes> run_held(MacContext& ctx, Virtine& v, uint64_t final_capacity) {
  const std::span<const uint8_t> key = ctx.held.key.bytes();
  guest::MacRun run;
  run.key = ctx.held.key_given ? &key : nullptr;
  run.data = ctx.held.input.bytes();
  run.final_capacity = final_capacity;
  Result<guest::Bytes> out = guest::mac_run(v, ctx.twin->handle, run);
  ctx.held.clear();
  return out;
}

// The held init and input on their own, before what must follow them.
bool send_held(MacContext* ctx) {
  if (!ctx->held.pending) return true;
  return on_twin(*ctx->twin, [&](Virtine& v) -> Status {
    CRYPTINE_TRY(run_held(*ctx, v, 0));
    return {};
  });
}

constexpr DelegateKind kDelegate{OSSL_OP_MAC, OSSL_FUNC_MAC_NEWCTX, OSSL_FUNC_MAC_FREECTX,
                                 &free_twin_context<MacContext>, nullptr};

void* new_context(void*) {
  return new_delegated(kDelegate, "HMAC", [] { return new_twin_context(MacContext{}); });
}

// Every parameter goes to the guest's context but OSSL_MAC_PARAM_PROPERTIES: the guest
// has one provider, and a query naming this one would fail there. A digest is checked
// here first, so that the host knows the MAC's shape before the guest does.
int set_ctx_params(void* vctx, const OSSL_PARAM params[]) {
  return no_throw(0, [&] {
    MacContext* ctx = as_context(vctx);
    if (params == nullptr || params[0].key == nullptr) return 1;
    DigestShape shape = ctx->shape;
    std::vector<OSSL_PARAM> forwarded;
    for (const OSSL_PARAM* p = params; p->key != nullptr; ++p) {
      const std::string_view key = p->key;
      if (key == OSSL_MAC_PARAM_PROPERTIES) continue;
      if (key == OSSL_MAC_PARAM_DIGEST) {
        const char* name = nullptr;
        std::optional<DigestShape> named;
        if (!OSSL_PARAM_get_utf8_string_ptr(p, &name) || !(named = shape_of(name))) {
          // As the default provider's HMAC: the fetch fails, and the context has no digest.
          ctx->shape = DigestShape{};
          ERR_raise_data(ERR_LIB_EVP, ERR_R_UNSUPPORTED, "cryptine HMAC: digest %s", name ? name : "(not a string)");
          return 0;
        }
        shape = *named;
      }
      forwarded.push_back(*p);
    }
    forwarded.push_back(OSSL_PARAM_construct_end());
    if (forwarded.size() == 1) return 1;
    if (!ensure_twin(ctx) || !send_held(ctx)) return 0;
    int ret = 0;
    const Twin& twin = *ctx->twin;
    if (!on_twin(twin, [&](Virtine& v) -> Status {
          ret = CRYPTINE_TRY(guest::set_params(v, twin.handle, forwarded.data()));
          return {};
        }))
      return 0;
    if (ret <= 0) {  // what the host judged good, the guest refused
      ERR_raise_data(ERR_LIB_PROV, PROV_R_FAILED_TO_SET_PARAMETER, "cryptine HMAC: refused in the virtine");
      return 0;
    }
    ctx->shape = shape;
    return 1;
  });
}

// Held (HeldInit), unless the key is too long to hold: then it goes to the guest now.
int init(void* vctx, const unsigned char* key, size_t keylen, const OSSL_PARAM params[]) {
  return no_throw(0, [&] {
    MacContext* ctx = as_context(vctx);
    if (set_ctx_params(vctx, params) != 1) return 0;
    if (ctx->shape.size == 0) return 0;  // as the default provider: no digest, no HMAC (and no error)
    if (!ensure_twin(ctx)) return 0;
    if (key != nullptr && keylen > kHeldKeyMax) {
      ctx->held.clear();  // this init replaces a held one
      const Twin& twin = *ctx->twin;
      const std::span<const uint8_t> key_bytes(key, keylen);
      return on_twin(twin, [&](Virtine& v) { return guest::mac_start(v, twin.handle, &key_bytes, nullptr); }) ? 1 : 0;
    }
    // A held init that never reached the guest is replaced, its key kept if this one has none.
    ctx->held.input.clear();
    if (key != nullptr) {
      ctx->held.key.clear();
      ctx->held.key.append({key, keylen});
      ctx->held.key_given = true;
    }
    ctx->held.pending = true;
    return 1;
  });
}

// Held after a held init while the total stays within kHeldInputMax; else what is held
// goes first, then this input.
int update(void* vctx, const unsigned char* in, size_t inl) {
  return no_throw(0, [&] {
    MacContext* ctx = as_context(vctx);
    if (!ctx->held.pending) return update_on_twin<MacContext, Family::kMac, guest::mac_update>(vctx, in, inl);
    if (const std::optional<int> settled = settled_update(true, in, inl)) return *settled;
    if (inl <= kHeldInputMax - ctx->held.input.size()) {
      ctx->held.input.append({in, inl});
      return 1;
    }
    if (!send_held(ctx)) return 0;
    return update_on_twin<MacContext, Family::kMac, guest::mac_update>(vctx, in, inl);
  });
}

int final(void* vctx, unsigned char* out, size_t* outl, size_t outsize) {
  return no_throw(0, [&] {
    MacContext* ctx = as_context(vctx);
    if (ctx->shape.size == 0) return 0;  // no digest: as the default provider (EVP said why)
    if (!ctx->twin) {
      ERR_raise(ERR_LIB_PROV, ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED);
      return 0;
    }
    if (out == nullptr || outsize < ctx->shape.size) {  // judged before the guest is asked
      ERR_raise(ERR_LIB_PROV, PROV_R_OUTPUT_BUFFER_TOO_SMALL);
      return 0;
    }
    const Twin& twin = *ctx->twin;
    return on_twin(twin,
                   [&](Virtine& v) -> Status {
                     // With an init held, the init, the input and the final go in one request.
                     const guest::Bytes mac = CRYPTINE_TRY(
                         ctx->held.pending ? run_held(*ctx, v, outsize) : guest::mac_final(v, twin.handle, outsize));
                     if (Status ok = check_mac(ctx->shape, mac); !ok) return v.poison(ok.error());
                     std::memcpy(out, mac.data(), mac.size());
                     if (outl != nullptr) *outl = mac.size();
                     return {};
                   })
               ? 1
               : 0;
  });
}

// Answered on the host, from the digest's shape: no virtine needed, nothing to believe.
int get_ctx_params(void* vctx, OSSL_PARAM params[]) {
  return no_throw(0, [&] {
    const MacContext* ctx = as_context(vctx);
    OSSL_PARAM* p;
    if ((p = OSSL_PARAM_locate(params, OSSL_MAC_PARAM_SIZE)) != nullptr) {
      // With no digest the default provider answers 0, leaving "message digest is null".
      if (ctx->shape.size == 0) ERR_raise(ERR_LIB_EVP, EVP_R_MESSAGE_DIGEST_IS_NULL);
      if (!OSSL_PARAM_set_size_t(p, ctx->shape.size)) return 0;
    }
    if ((p = OSSL_PARAM_locate(params, OSSL_MAC_PARAM_BLOCK_SIZE)) != nullptr &&
        !OSSL_PARAM_set_int(p, static_cast<int>(ctx->shape.block_size)))
      return 0;
    return 1;
  });
}

const OSSL_PARAM* gettable_ctx_params(void*, void*) {
  static const OSSL_PARAM kGettable[] = {OSSL_PARAM_size_t(OSSL_MAC_PARAM_SIZE, nullptr),
                                         OSSL_PARAM_size_t(OSSL_MAC_PARAM_BLOCK_SIZE, nullptr), OSSL_PARAM_END};
  return kGettable;
}

const OSSL_PARAM* settable_ctx_params(void*, void*) {
  static const OSSL_PARAM kSettable[] = {OSSL_PARAM_utf8_string(OSSL_MAC_PARAM_DIGEST, nullptr, 0),
                                         OSSL_PARAM_utf8_string(OSSL_MAC_PARAM_PROPERTIES, nullptr, 0),
                                         OSSL_PARAM_octet_string(OSSL_MAC_PARAM_KEY, nullptr, 0),
                                         OSSL_PARAM_int(OSSL_MAC_PARAM_DIGEST_NOINIT, nullptr),
                                         OSSL_PARAM_int(OSSL_MAC_PARAM_DIGEST_ONESHOT, nullptr),
                                         OSSL_PARAM_size_t(OSSL_MAC_PARAM_TLS_DATA_SIZE, nullptr),
                                         OSSL_PARAM_END};
  return kSettable;
}

using Fn = void (*)(void);
const OSSL_DISPATCH kHmacFunctions[] = {
    {OSSL_FUNC_MAC_NEWCTX, reinterpret_cast<Fn>(&new_context)},
    {OSSL_FUNC_MAC_DUPCTX,
     reinterpret_cast<Fn>(&dup_delegated<OSSL_FUNC_MAC_DUPCTX, &dup_twin_context<MacContext, Family::kMac>>)},
    {OSSL_FUNC_MAC_FREECTX, reinterpret_cast<Fn>(&free_delegated)},
    CRYPTINE_FORWARD(OSSL_FUNC_MAC_INIT, &init),
    CRYPTINE_FORWARD(OSSL_FUNC_MAC_UPDATE, &update),
    CRYPTINE_FORWARD(OSSL_FUNC_MAC_FINAL, &final),
    {OSSL_FUNC_MAC_GETTABLE_CTX_PARAMS, reinterpret_cast<Fn>(&gettable_ctx_params)},
    CRYPTINE_FORWARD(OSSL_FUNC_MAC_GET_CTX_PARAMS, &get_ctx_params),
    {OSSL_FUNC_MAC_SETTABLE_CTX_PARAMS, reinterpret_cast<Fn>(&settable_ctx_params)},
    CRYPTINE_FORWARD(OSSL_FUNC_MAC_SET_CTX_PARAMS, &set_ctx_params),
    {0, nullptr}};

const OSSL_ALGORITHM kAlgorithms[] = {{"HMAC", "provider=cryptine", kHmacFunctions, "HMAC in a cryptine virtine"}};

}  // namespace

const OSSL_ALGORITHM* mac_algorithms() {
  static const std::vector<OSSL_ALGORITHM>* list = new std::vector<OSSL_ALGORITHM>(offered(kAlgorithms));
  return list->data();
}

}  // namespace cryptine::provider
