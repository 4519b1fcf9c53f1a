// The provider's digests, modelled on OpenSSL's providers/implementations/digests/: one
// dispatch table per algorithm plus small functions. A context holds its input on the host
// from init up to kHeldInputMax bytes, and a final then is one one-shot call
// (CRYPTINE_OP_DIGEST) where the context would have lived, so EVP_Digest or a TLS
// transcript's copy and final costs one virtine call. Past that bound it spills: it gets
// its twin (lease + guest handle), the held input goes there first, and from then on the
// running hash lives in the virtine. The guest is hostile: a digest is copied out only
// when its length is the algorithm's.
#include "shim/provider/digests.h"

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/proverr.h>

#include <cstring>
#include <new>
#include <optional>
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

// X(id, OpenSSL's names for it (as the default provider spells them, so fetches by any
// alias find it), the guest's name, digest size, block size). The guest serves these.
#define CRYPTINE_PROVIDER_DIGESTS(X)                                              \
  X(kSha1, "SHA1:SHA-1:SSL3-SHA1:1.3.14.3.2.26", "SHA1", 20, 64)                  \
  X(kSha224, "SHA2-224:SHA-224:SHA224:2.16.840.1.101.3.4.2.4", "SHA224", 28, 64)  \
  X(kSha256, "SHA2-256:SHA-256:SHA256:2.16.840.1.101.3.4.2.1", "SHA256", 32, 64)  \
  X(kSha384, "SHA2-384:SHA-384:SHA384:2.16.840.1.101.3.4.2.2", "SHA384", 48, 128) \
  X(kSha512, "SHA2-512:SHA-512:SHA512:2.16.840.1.101.3.4.2.3", "SHA512", 64, 128) \
  X(kSha3_256, "SHA3-256:2.16.840.1.101.3.4.2.8", "SHA3-256", 32, 136)

struct DigestInfo {
  const char* names;
  const char* guest_name;
  size_t size;
  size_t block_size;
};

#define CRYPTINE_DIGEST_ID(id, names, guest, size, block) id,
enum DigestId : size_t { CRYPTINE_PROVIDER_DIGESTS(CRYPTINE_DIGEST_ID) };
#define CRYPTINE_DIGEST_INFO(id, names, guest, size, block) {names, guest, size, block},
constexpr DigestInfo kDigests[] = {CRYPTINE_PROVIDER_DIGESTS(CRYPTINE_DIGEST_INFO)};
static_assert(kSha3_256 + 1 == std::size(kDigests));
static_assert([] {
  for (const DigestInfo& d : kDigests)
    if (d.size > guest::kMaxDigest) return false;
  return true;
}());

// Input held on the host before a context spills. The one-shot carries it in a single
// request (mailbox payload less the digest's window, about 1 MiB), so any bound below
// that keeps a final to one exit; 16 KiB holds a TLS handshake's transcript (copied and
// finalised several times per handshake) and short messages, while a context that
// streams more pays one 16 KiB copy before it moves into its virtine, and a program with
// many live contexts holds at most this much input per context.
constexpr size_t kHeldInputMax = 16 * 1024;
static_assert(kHeldInputMax + guest::kMaxDigest + CRYPTINE_NAME_MAX <= CRYPTINE_PAYLOAD_SIZE,
              "a final of the held input must fit one request");

struct DigestContext {
  explicit DigestContext(const DigestInfo* algorithm) : info(algorithm) {}

  const DigestInfo* info;
  bool started = false;      // an init since newctx
  bool spilled = false;      // since that init, the running hash is in the twin, nothing held
  HeldInput held;            // while not spilled: the input since that init
  std::optional<Twin> twin;  // from the first spill to freectx (kept across inits)
};

DigestContext* as_context(void* vctx) {
  return static_cast<DigestContext*>(vctx);
}

bool on_twin(const Twin& twin, FunctionRef<Status(Virtine&)> fn) {
  return run_on_twin(twin, Family::kDigest, fn);
}

// The contract of a digest the guest returns, by either path: exactly the algorithm's
// size (the guest chose this length: anything else is a lie, and ends the virtine).
Status deliver(Virtine& v, const DigestInfo& info, const guest::Bytes& md, unsigned char* out, size_t* outl) {
  if (md.size() != info.size) return v.poison(Error(ErrorCode::kGuestFault, "digest of the wrong length"));
  std::memcpy(out, md.data(), info.size);
  if (outl != nullptr) *outl = info.size;
  return {};
}

// An init touches no virtine: the context starts afresh on the host (EVP_DigestInit_ex on
// a context it reuses). A twin from an earlier spill stays, its guest context stale until
// the next spill restarts it. No settable params: they are ignored.
int init(void* vctx, const OSSL_PARAM[]) {
  return no_throw(0, [&] {
    DigestContext* ctx = as_context(vctx);
    ctx->held.clear();
    ctx->started = true;
    ctx->spilled = false;
    return 1;
  });
}

// The running hash moves into the twin: made now with a fresh guest context, or, made at
// an earlier spill, given a fresh one in place of its stale one.
bool start_in_twin(DigestContext* ctx) {
  const char* name = ctx->info->guest_name;
  if (!ctx->twin)
    return make_provider_twin(
        Family::kDigest, [&](Virtine& v) { return guest::digest_init(v, name); }, &ctx->twin);
  Twin& twin = *ctx->twin;
  return on_twin(twin, [&](Virtine& v) -> Status {
    const guest::Handle fresh = CRYPTINE_TRY(guest::digest_init(v, name));
    const guest::Handle old = twin.handle;
    twin.handle = fresh;
    return guest::free_handle(v, old);
  });
}

// Held while the total stays within kHeldInputMax; the update that would pass it spills
// the context, and the held input goes to the twin first, with this one, in order.
int update(void* vctx, const unsigned char* in, size_t inl) {
  return no_throw(0, [&] {
    DigestContext* ctx = as_context(vctx);
    if (const std::optional<int> settled = settled_update(ctx->started, in, inl)) return *settled;
    if (!ctx->spilled && inl <= kHeldInputMax - ctx->held.size()) {
      ctx->held.append({in, inl});
      return 1;
    }
    // Without a virtine the held input stays, for hand_over to give the native context.
    if (!ctx->spilled && !start_in_twin(ctx)) return 0;
    ctx->spilled = true;
    const Twin& twin = *ctx->twin;
    const bool sent = on_twin(twin, [&](Virtine& v) -> Status {
      if (!ctx->held.empty()) CRYPTINE_TRY_STATUS(guest::digest_update(v, twin.handle, ctx->held.bytes()));
      return guest::digest_update(v, twin.handle, {in, inl});
    });
    ctx->held.clear();
    return sent ? 1 : 0;
  });
}

// One call either way: the twin's final, or the held input's one-shot, on the twin if the
// context has one, else where the context would have lived (run_one_shot).
int final(void* vctx, unsigned char* out, size_t* outl, size_t outsz) {
  return no_throw(0, [&] {
    DigestContext* ctx = as_context(vctx);
    const DigestInfo& info = *ctx->info;
    if (!ctx->started) {
      ERR_raise(ERR_LIB_PROV, ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED);
      return 0;
    }
    if (out == nullptr || outsz < info.size) {  // judged before the guest is asked
      ERR_raise(ERR_LIB_PROV, PROV_R_OUTPUT_BUFFER_TOO_SMALL);
      return 0;
    }
    bool done = false;
    if (ctx->spilled) {
      const Twin& twin = *ctx->twin;
      done = on_twin(twin, [&](Virtine& v) -> Status {
        const guest::Bytes md = CRYPTINE_TRY(guest::digest_final(v, twin.handle));
        return deliver(v, info, md, out, outl);
      });
    } else {
      const auto one_shot = [&](Virtine& v) -> Status {
        const guest::Bytes md = CRYPTINE_TRY(guest::digest(v, info.guest_name, ctx->held.bytes()));
        return deliver(v, info, md, out, outl);
      };
      if (ctx->twin) {
        done = on_twin(*ctx->twin, one_shot);
      } else {
        switch (run_one_shot(Family::kDigest, one_shot)) {
          case Served::kDone: done = true; break;
          case Served::kFailed: break;
          case Served::kNative: no_virtine_now(); return 0;  // the held input goes to hand_over
        }
      }
    }
    if (!done) return 0;
    ctx->held.clear();  // no longer needed; a final again (which EVP forbids) hashes nothing
    return 1;
  });
}

// dupctx: a context still holding its input is copied on the host alone (no guest call,
// no twin: it makes its own if it spills); a spilled one also copies its guest context,
// beside the original's.
void* dup(void* vctx) {
  const DigestContext* in = as_context(vctx);
  if (in->spilled) return dup_twin_context<DigestContext, Family::kDigest>(vctx);
  return no_throw<void*>(nullptr, [&]() -> void* {
    auto* out = new (std::nothrow) DigestContext(*in);
    if (out == nullptr) {
      ERR_raise(ERR_LIB_PROV, ERR_R_MALLOC_FAILURE);
      return nullptr;
    }
    out->twin.reset();  // the original's: not the copy's to hold or release
    return out;
  });
}

// A context falling back to the default provider (no virtine for its spill or final):
// nothing of it is in a virtine yet, so its native twin is started and given the held
// input, then the call is replayed there.
bool hand_over(void* ours, void* native_ctx, const OSSL_DISPATCH* native) {
  const DigestContext* ctx = as_context(ours);
  if (!ctx->started) return true;
  auto init = reinterpret_cast<int (*)(void*, const OSSL_PARAM[])>(function_of(native, OSSL_FUNC_DIGEST_INIT));
  auto update =
      reinterpret_cast<int (*)(void*, const unsigned char*, size_t)>(function_of(native, OSSL_FUNC_DIGEST_UPDATE));
  if (init == nullptr || update == nullptr || init(native_ctx, nullptr) != 1) return false;
  return ctx->held.empty() || update(native_ctx, ctx->held.bytes().data(), ctx->held.size()) == 1;
}

// Fixed facts of the algorithm, answered on the host (no virtine needed).
int get_params(const DigestInfo& info, OSSL_PARAM params[]) {
  OSSL_PARAM* p;
  if ((p = OSSL_PARAM_locate(params, OSSL_DIGEST_PARAM_BLOCK_SIZE)) != nullptr &&
      !OSSL_PARAM_set_size_t(p, info.block_size))
    return 0;
  if ((p = OSSL_PARAM_locate(params, OSSL_DIGEST_PARAM_SIZE)) != nullptr && !OSSL_PARAM_set_size_t(p, info.size))
    return 0;
  if ((p = OSSL_PARAM_locate(params, OSSL_DIGEST_PARAM_XOF)) != nullptr && !OSSL_PARAM_set_int(p, 0)) return 0;
  if ((p = OSSL_PARAM_locate(params, OSSL_DIGEST_PARAM_ALGID_ABSENT)) != nullptr && !OSSL_PARAM_set_int(p, 0)) return 0;
  return 1;
}

const OSSL_PARAM* gettable_params(void*) {
  static const OSSL_PARAM kGettable[] = {OSSL_PARAM_size_t(OSSL_DIGEST_PARAM_BLOCK_SIZE, nullptr),
                                         OSSL_PARAM_size_t(OSSL_DIGEST_PARAM_SIZE, nullptr),
                                         OSSL_PARAM_int(OSSL_DIGEST_PARAM_XOF, nullptr),
                                         OSSL_PARAM_int(OSSL_DIGEST_PARAM_ALGID_ABSENT, nullptr), OSSL_PARAM_END};
  return kGettable;
}

// What differs per algorithm: the DigestInfo that newctx and get_params see.
constexpr DelegateKind kDelegate{OSSL_OP_DIGEST, OSSL_FUNC_DIGEST_NEWCTX, OSSL_FUNC_DIGEST_FREECTX,
                                 &free_twin_context<DigestContext>, &hand_over};

template <size_t I>
void* newctx(void*) {
  return new_delegated(kDelegate, kDigests[I].names, [] { return new_twin_context(DigestContext(&kDigests[I])); });
}
template <size_t I>
int get_params_of(OSSL_PARAM params[]) {
  return get_params(kDigests[I], params);
}

using Fn = void (*)(void);
template <size_t I>
const OSSL_DISPATCH kFunctions[] = {
    {OSSL_FUNC_DIGEST_NEWCTX, reinterpret_cast<Fn>(&newctx<I>)},
    CRYPTINE_FORWARD(OSSL_FUNC_DIGEST_INIT, &init),
    CRYPTINE_FORWARD(OSSL_FUNC_DIGEST_UPDATE, &update),
    CRYPTINE_FORWARD(OSSL_FUNC_DIGEST_FINAL, &final),
    {OSSL_FUNC_DIGEST_FREECTX, reinterpret_cast<Fn>(&free_delegated)},
    {OSSL_FUNC_DIGEST_DUPCTX, reinterpret_cast<Fn>(&dup_delegated<OSSL_FUNC_DIGEST_DUPCTX, &dup>)},
    {OSSL_FUNC_DIGEST_GET_PARAMS, reinterpret_cast<Fn>(&get_params_of<I>)},
    {OSSL_FUNC_DIGEST_GETTABLE_PARAMS, reinterpret_cast<Fn>(&gettable_params)},
    {0, nullptr}};

#define CRYPTINE_DIGEST_ALGORITHM(id, names, guest, size, block) \
  {names, "provider=cryptine", kFunctions<id>, "SHA digest in a cryptine virtine"},
const OSSL_ALGORITHM kAlgorithms[] = {CRYPTINE_PROVIDER_DIGESTS(CRYPTINE_DIGEST_ALGORITHM)};
static_assert(std::size(kAlgorithms) == std::size(kDigests));

}  // namespace

const OSSL_ALGORITHM* digest_algorithms() {
  // A digest CRYPTINE_ALGS leaves out is not offered: the fetch goes to another provider
  // (with "?provider=cryptine") or fails (with "provider=cryptine").
  static const std::vector<OSSL_ALGORITHM>* list = new std::vector<OSSL_ALGORITHM>(offered(kAlgorithms));
  return list->data();
}

}  // namespace cryptine::provider
