// Interposed one-shot digests: EVP_Digest and the legacy SHA*() functions (what
// `openssl speed` calls for its digest tests). Each runs in a virtine from the calling
// thread's pool that is reset right after the call (call-scoped).
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cstring>
#include <span>

#include "shim/guest_ops.h"
#include "shim/real_symbol.h"
#include "shim/virtine_call.h"

namespace cryptine {
namespace {

enum class Outcome { kDone, kFailed, kNative };

// Runs the digest in a call-scoped virtine. kNative: the caller should run OpenSSL's own
// function (algorithm not enabled, or no virtines and CRYPTINE_FALLBACK=native).
Outcome digest_in_virtine(const EVP_MD* md, const void* data, size_t count, unsigned char* out, unsigned int* size) {
  switch (route(Runtime::get().digest_enabled(md))) {
    case Route::kNative: return Outcome::kNative;
    case Route::kFail: return Outcome::kFailed;
    case Route::kVirtine: break;
  }
  const int expected = EVP_MD_get_size(md);
  const Served served = run_call_scoped(Family::kDigest, [&](Virtine& v) -> Status {
    guest::Bytes digest = CRYPTINE_TRY(guest::digest(v, EVP_MD_get0_name(md), {static_cast<const uint8_t*>(data), count}));
    if (expected <= 0 || digest.size() != static_cast<size_t>(expected))
      return v.poison(Error(ErrorCode::kGuestFault, "digest of the wrong length"));
    std::memcpy(out, digest.data(), digest.size());
    if (size != nullptr) *size = static_cast<unsigned int>(digest.size());
    return {};
  });
  switch (served) {
    case Served::kDone: return Outcome::kDone;
    case Served::kNative: return Outcome::kNative;
    case Served::kFailed: break;
  }
  return Outcome::kFailed;
}

// The legacy one-shots: OpenSSL's own function when not ours, NULL on failure, and a
// static buffer when md is NULL, as OpenSSL does.
template <typename Real>
unsigned char* legacy_digest(const EVP_MD* md, const unsigned char* d, size_t n, unsigned char* out,
                             unsigned char* static_buf, Real real) {
  try {
    if (called_from_openssl() || (d == nullptr && n > 0)) {  // OpenSSL's own behaviour
      InOpenSsl in_openssl;
      return real(d, n, out);
    }
    unsigned char* dst = out != nullptr ? out : static_buf;
    switch (digest_in_virtine(md, d, n, dst, nullptr)) {
      case Outcome::kDone: return dst;
      case Outcome::kFailed: return nullptr;
      case Outcome::kNative: break;
    }
  } catch (...) {  // no C++ exception may reach the program
  }
  InOpenSsl in_openssl;
  return real(d, n, out);
}

}  // namespace
}  // namespace cryptine

using cryptine::legacy_digest;

CRYPTINE_EXPORT int EVP_Digest(const void* data, size_t count, unsigned char* md,
                                                      unsigned int* size, const EVP_MD* type, ENGINE* impl) {
  try {
    if (!cryptine::called_from_openssl() && impl == nullptr && type != nullptr && md != nullptr &&
        (data != nullptr || count == 0)) {
      switch (cryptine::digest_in_virtine(type, data, count, md, size)) {
        case cryptine::Outcome::kDone: return 1;
        case cryptine::Outcome::kFailed: return 0;
        case cryptine::Outcome::kNative: break;
      }
    }
  } catch (...) {
  }
  cryptine::InOpenSsl in_openssl;
  return CRYPTINE_REAL(EVP_Digest)(data, count, md, size, type, impl);
}

#define CRYPTINE_LEGACY_DIGEST(NAME, EVP_FN, LEN)                                                   \
  CRYPTINE_EXPORT unsigned char* NAME(const unsigned char* d, size_t n, unsigned char* md) {        \
    static unsigned char buf[LEN];                                                                  \
    return legacy_digest(EVP_FN(), d, n, md, buf, CRYPTINE_REAL(NAME));                             \
  }

CRYPTINE_LEGACY_DIGEST(SHA1, EVP_sha1, SHA_DIGEST_LENGTH)
CRYPTINE_LEGACY_DIGEST(SHA224, EVP_sha224, SHA224_DIGEST_LENGTH)
CRYPTINE_LEGACY_DIGEST(SHA256, EVP_sha256, SHA256_DIGEST_LENGTH)
CRYPTINE_LEGACY_DIGEST(SHA384, EVP_sha384, SHA384_DIGEST_LENGTH)
CRYPTINE_LEGACY_DIGEST(SHA512, EVP_sha512, SHA512_DIGEST_LENGTH)
