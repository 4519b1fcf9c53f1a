// The provider's digests, modelled on OpenSSL's providers/implementations/digests/: one
// dispatch table per algorithm plus small functions. A context is a host object holding
// the twin (lease + guest handle) made at its first init; the running hash never leaves
// the virtine. The guest is hostile: a digest is copied out only when its length is the
// algorithm's.
#include "shim/provider/digests.h"

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/proverr.h>

#include <cstring>
#include <optional>
#include <vector>

#include "shim/client/guest_ops.h"
#include "shim/client/virtine_call.h"
#include "shim/provider/algorithm_filter.h"
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

struct DigestContext {
  const DigestInfo* info;
  std::optional<Twin> twin;  // from the first init to freectx
};

DigestContext* as_context(void* vctx) {
  return static_cast<DigestContext*>(vctx);
}

bool on_twin(const Twin& twin, FunctionRef<Status(Virtine&)> fn) {
  return run_on_twin(twin, Family::kDigest, fn);
}

// A first init makes the twin; a later one starts afresh in the same virtine, as
// EVP_DigestInit_ex does for a context it reuses. No settable params: they are ignored.
int init(void* vctx, const OSSL_PARAM[]) {
  return no_throw(0, [&] {
    DigestContext* ctx = as_context(vctx);
    const char* name = ctx->info->guest_name;
    if (ctx->twin) {
      Twin& twin = *ctx->twin;
      return on_twin(twin,
                     [&](Virtine& v) -> Status {
                       const guest::Handle fresh = CRYPTINE_TRY(guest::digest_init(v, name));
                       const guest::Handle old = twin.handle;
                       twin.handle = fresh;
                       return guest::free_handle(v, old);
                     })
                 ? 1
                 : 0;
    }
    return make_provider_twin(
               Family::kDigest, [&](Virtine& v) { return guest::digest_init(v, name); }, &ctx->twin)
               ? 1
               : 0;
  });
}

int final(void* vctx, unsigned char* out, size_t* outl, size_t outsz) {
  return no_throw(0, [&] {
    DigestContext* ctx = as_context(vctx);
    const size_t size = ctx->info->size;
    if (!ctx->twin) {
      ERR_raise(ERR_LIB_PROV, ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED);
      return 0;
    }
    if (out == nullptr || outsz < size) {  // judged before the guest is asked
      ERR_raise(ERR_LIB_PROV, PROV_R_OUTPUT_BUFFER_TOO_SMALL);
      return 0;
    }
    const Twin& twin = *ctx->twin;
    return on_twin(twin,
                   [&](Virtine& v) -> Status {
                     const guest::Bytes md = CRYPTINE_TRY(guest::digest_final(v, twin.handle));
                     // The guest chose this length: anything but the digest's size is a lie.
                     if (md.size() != size)
                       return v.poison(Error(ErrorCode::kGuestFault, "digest of the wrong length"));
                     std::memcpy(out, md.data(), size);
                     if (outl != nullptr) *outl = size;
                     return {};
                   })
               ? 1
               : 0;
  });
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
                                 &free_twin_context<DigestContext>, nullptr};

template <size_t I>
void* newctx(void*) {
  return new_delegated(kDelegate, kDigests[I].names, [] {
    return new_twin_context(DigestContext{&kDigests[I], std::nullopt});
  });
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
    CRYPTINE_FORWARD(OSSL_FUNC_DIGEST_UPDATE, &update_on_twin<DigestContext, Family::kDigest, guest::digest_update>),
    CRYPTINE_FORWARD(OSSL_FUNC_DIGEST_FINAL, &final),
    {OSSL_FUNC_DIGEST_FREECTX, reinterpret_cast<Fn>(&free_delegated)},
    {OSSL_FUNC_DIGEST_DUPCTX,
     reinterpret_cast<Fn>(&dup_delegated<OSSL_FUNC_DIGEST_DUPCTX, &dup_twin_context<DigestContext, Family::kDigest>>)},
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
