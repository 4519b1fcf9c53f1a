// The legacy streaming digests SHA{1,224,256,384,512}_{Init,Update,Final}: the program's
// SHA_CTX, SHA256_CTX or SHA512_CTX holds only a marker (slot_table.h), its running state
// lives in a guest digest context from Init to Final. (The one-shots SHA1() and others
// fetch their digest, which the provider serves.) SHA*_Transform is not interposed: on a context kept here it
// would hash the marker, so such a program must leave these digests to OpenSSL
// (CRYPTINE_ALGS). Calls from libcrypto and libssl themselves stay OpenSSL's.
#define OPENSSL_SUPPRESS_DEPRECATED  // the legacy API is what is interposed here
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cstring>

#include "shim/client/guest_ops.h"
#include "shim/client/virtine_call.h"
#include "shim/interpose/real_symbol.h"
#include "shim/legacy/openssl_caller.h"
#include "shim/legacy/slot_table.h"

namespace cryptine::legacy {
namespace {

// Which struct a context is: SHA224 and SHA256 share SHA256_CTX (so do 384 and 512), and
// as in OpenSSL, either Final gives the length its Init chose.
enum class Kind { kSha1, kSha256, kSha512 };

struct ShaTwin {
  Twin twin;
  Kind kind;
  size_t size;  // the digest's length: exactly what the guest must return
};

// 64 unfinished contexts at once; the least recently used beyond that is evicted.
constexpr size_t kSlots = 64;
constexpr uint64_t kMagic = 0x5854435341487463ULL;  // "tcSHACTX"

SlotTable<ShaTwin>& table() {
  return process_table<ShaTwin, kMagic, kSlots>();
}
[[maybe_unused]] SlotTable<ShaTwin>& table_made_at_load = table();

void end(const ShaTwin& t) {
  release_twin(t.twin);
}

constexpr const char* kNoTwin =
    "this SHA context's state is not in a virtine (evicted, finished, a byte copy, made before fork(), or its "
    "Init failed)";

template <typename Ctx, typename Real>
int init(Ctx* c, const EVP_MD* md, Kind kind, const void* caller, Real real) {
  if (c == nullptr || called_by_openssl_code(caller)) {
    InOpenSsl in_openssl;
    return real(c);
  }
  if (auto old = table().take(c)) end(*old);  // re-initialised: the old state goes
  switch (route(Runtime::get().digest_enabled(md))) {
    case Route::kNative: {
      InOpenSsl in_openssl;
      return real(c);
    }
    case Route::kFail: write_marker(c, sizeof(Ctx), table().dead()); return 0;
    case Route::kVirtine: break;
  }
  Twin made;
  switch (make_twin(
      Family::kDigest, [&](Virtine& v) { return guest::digest_init(v, EVP_MD_get0_name(md)); }, &made)) {
    case Served::kDone: break;
    case Served::kFailed: write_marker(c, sizeof(Ctx), table().dead()); return 0;
    case Served::kNative: {
      InOpenSsl in_openssl;
      return real(c);
    }
  }
  std::optional<ShaTwin> evicted;
  const Marker m = table().put(c, ShaTwin{made, kind, static_cast<size_t>(EVP_MD_get_size(md))}, &evicted);
  if (evicted) end(*evicted);
  write_marker(c, sizeof(Ctx), m);
  return 1;
}

template <typename Ctx, typename Real>
int update(Ctx* c, const void* data, size_t len, Kind kind, Real real) {
  std::optional<ShaTwin> t = c != nullptr ? table().find(c) : std::nullopt;
  if (!t) {
    if (c != nullptr && table().marked(c)) {
      fail_call(Error(ErrorCode::kInvalidArgument, kNoTwin));
      return 0;
    }
    InOpenSsl in_openssl;
    return real(c, data, len);
  }
  if (t->kind != kind) {
    fail_call(Error(ErrorCode::kInvalidArgument, "a SHA context updated by another SHA family's function"));
    return 0;
  }
  if (len == 0) return 1;  // as OpenSSL: nothing to do
  if (data == nullptr) {
    ERR_raise(ERR_LIB_EVP, ERR_R_PASSED_NULL_PARAMETER);
    return 0;
  }
  return run_on_twin(t->twin, Family::kDigest,
                     [&](Virtine& v) {
                       return guest::digest_update(v, t->twin.handle, {static_cast<const uint8_t*>(data), len});
                     })
             ? 1
             : 0;
}

// Final ends the context either way: its twin goes, and the struct is left marked
// finished (an Update after Final fails; a new Init starts afresh).
template <typename Ctx, typename Real>
int final(unsigned char* md, Ctx* c, Kind kind, Real real) {
  std::optional<ShaTwin> t = c != nullptr ? table().take(c) : std::nullopt;
  if (!t) {
    if (c != nullptr && table().marked(c)) {
      fail_call(Error(ErrorCode::kInvalidArgument, kNoTwin));
      return 0;
    }
    InOpenSsl in_openssl;
    return real(md, c);
  }
  write_marker(c, sizeof(Ctx), table().dead());
  bool ok = false;
  if (t->kind != kind) {
    fail_call(Error(ErrorCode::kInvalidArgument, "a SHA context finished by another SHA family's function"));
  } else if (md == nullptr) {
    ERR_raise(ERR_LIB_EVP, ERR_R_PASSED_NULL_PARAMETER);
  } else {
    ok = run_on_twin(t->twin, Family::kDigest, [&](Virtine& v) -> Status {
      const guest::Bytes out = CRYPTINE_TRY(guest::digest_final(v, t->twin.handle));
      if (out.size() != t->size) return v.poison(Error(ErrorCode::kGuestFault, "digest of the wrong length"));
      std::memcpy(md, out.data(), out.size());
      return {};
    });
  }
  end(*t);
  return ok ? 1 : 0;
}

}  // namespace
}  // namespace cryptine::legacy

using namespace cryptine;
using namespace cryptine::legacy;

#define CRYPTINE_LEGACY_SHA(NAME, CTX, MD, KIND)                                                  \
  CRYPTINE_EXPORT int NAME##_Init(CTX* c) {                                                       \
    const void* caller = __builtin_return_address(0);                                             \
    return no_throw(0, [&] { return init(c, MD(), KIND, caller, CRYPTINE_REAL(NAME##_Init)); });  \
  }                                                                                               \
  CRYPTINE_EXPORT int NAME##_Update(CTX* c, const void* data, size_t len) {                       \
    return no_throw(0, [&] { return update(c, data, len, KIND, CRYPTINE_REAL(NAME##_Update)); }); \
  }                                                                                               \
  CRYPTINE_EXPORT int NAME##_Final(unsigned char* md, CTX* c) {                                   \
    return no_throw(0, [&] { return final(md, c, KIND, CRYPTINE_REAL(NAME##_Final)); });          \
  }

CRYPTINE_LEGACY_SHA(SHA1, SHA_CTX, EVP_sha1, Kind::kSha1)
CRYPTINE_LEGACY_SHA(SHA224, SHA256_CTX, EVP_sha224, Kind::kSha256)
CRYPTINE_LEGACY_SHA(SHA256, SHA256_CTX, EVP_sha256, Kind::kSha256)
CRYPTINE_LEGACY_SHA(SHA384, SHA512_CTX, EVP_sha384, Kind::kSha512)
CRYPTINE_LEGACY_SHA(SHA512, SHA512_CTX, EVP_sha512, Kind::kSha512)
