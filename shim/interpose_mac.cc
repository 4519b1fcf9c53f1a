// Interposed EVP_MAC contexts (HMAC), twins as for ciphers, and the one-shot EVP_Q_mac
// (which OpenSSL's HMAC() calls). The program's EVP_MAC_CTX receives every parameter but
// the key, so it still reports the MAC's size; the key and the running state live in a
// virtine from EVP_MAC_CTX_new to EVP_MAC_CTX_free.
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <cstring>
#include <string_view>
#include <vector>

#include "shim/guest_ops.h"
#include "shim/real_symbol.h"
#include "shim/virtine_call.h"

namespace cryptine {
namespace {

TwinTable& twins() {
  static TwinTable* table = new TwinTable();  // never destroyed: threads may outlive statics
  return *table;
}
[[maybe_unused]] TwinTable& twins_made_at_load = twins();  // before threads exist: see twin_table.h

void forget(const EVP_MAC_CTX* ctx) {
  if (auto twin = twins().take(ctx)) release_twin(*twin);
}

bool on_twin(const Twin& twin, const std::function<Status(Virtine&)>& fn) {
  return run_on_twin(twin, Family::kMac, fn);
}

// `params` without the key: what the program's own context may hold.
std::vector<OSSL_PARAM> without_key(const OSSL_PARAM* params) {
  std::vector<OSSL_PARAM> kept;
  for (const OSSL_PARAM* p = params; p != nullptr && p->key != nullptr; ++p)
    if (std::string_view(p->key) != OSSL_MAC_PARAM_KEY) kept.push_back(*p);
  kept.push_back(OSSL_PARAM_construct_end());
  return kept;
}

int mirror_params(EVP_MAC_CTX* ctx, const OSSL_PARAM* params) {
  std::vector<OSSL_PARAM> kept = without_key(params);
  if (kept.size() == 1) return 1;
  InOpenSsl in_openssl;
  return CRYPTINE_REAL(EVP_MAC_CTX_set_params)(ctx, kept.data());
}

// A size the MAC reports (OSSL_MAC_PARAM_SIZE, _BLOCK_SIZE), from the twin: for HMAC
// it depends on the keyed state that only the guest's context has. 0 if unknown.
size_t twin_size(const Twin& twin, const char* name) {
  size_t size = 0;
  OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(name, &size), OSSL_PARAM_construct_end()};
  return get_params_on_twin(twin, Family::kMac, params) > 0 && OSSL_PARAM_modified(&params[0]) ? size : 0;
}

}  // namespace
}  // namespace cryptine

using namespace cryptine;

CRYPTINE_EXPORT size_t EVP_MAC_CTX_get_mac_size(EVP_MAC_CTX* ctx) {
  return no_throw<size_t>(0, [&] {
    std::optional<Twin> twin = twin_of(twins(), ctx);
    if (!twin) {
      InOpenSsl in_openssl;
      return CRYPTINE_REAL(EVP_MAC_CTX_get_mac_size)(ctx);
    }
    return twin_size(*twin, OSSL_MAC_PARAM_SIZE);
  });
}

CRYPTINE_EXPORT size_t EVP_MAC_CTX_get_block_size(EVP_MAC_CTX* ctx) {
  return no_throw<size_t>(0, [&] {
    std::optional<Twin> twin = twin_of(twins(), ctx);
    if (!twin) {
      InOpenSsl in_openssl;
      return CRYPTINE_REAL(EVP_MAC_CTX_get_block_size)(ctx);
    }
    return twin_size(*twin, OSSL_MAC_PARAM_BLOCK_SIZE);
  });
}

CRYPTINE_EXPORT EVP_MAC_CTX* EVP_MAC_CTX_new(EVP_MAC* mac) {
  return no_throw<EVP_MAC_CTX*>(nullptr, [&]() -> EVP_MAC_CTX* {
    EVP_MAC_CTX* ctx;
    {
      InOpenSsl in_openssl;
      ctx = CRYPTINE_REAL(EVP_MAC_CTX_new)(mac);
    }
    if (ctx == nullptr || called_from_openssl()) return ctx;
    const char* name = EVP_MAC_get0_name(mac);
    switch (route(Runtime::get().mac_enabled(name))) {
      case Route::kNative: return ctx;
      case Route::kFail: break;
      case Route::kVirtine: {
        Twin made;
        switch (make_twin(Family::kMac, [&](Virtine& v) { return guest::mac_new(v, name); }, &made)) {
          case Served::kDone: twins().put(ctx, made); return ctx;
          case Served::kNative: return ctx;
          case Served::kFailed: break;
        }
        break;
      }
    }
    InOpenSsl in_openssl;
    CRYPTINE_REAL(EVP_MAC_CTX_free)(ctx);
    return nullptr;
  });
}

CRYPTINE_EXPORT int EVP_MAC_CTX_set_params(EVP_MAC_CTX* ctx, const OSSL_PARAM params[]) {
  return no_throw(0, [&] {
    std::optional<Twin> twin = twin_of(twins(), ctx);
    if (!twin) {
      InOpenSsl in_openssl;
      return CRYPTINE_REAL(EVP_MAC_CTX_set_params)(ctx, params);
    }
    if (params == nullptr || params[0].key == nullptr) return 1;
    int ret = 0;
    if (!on_twin(*twin, [&](Virtine& v) -> Status {
          ret = CRYPTINE_TRY(guest::set_params(v, twin->handle, params));
          return {};
        }))
      return 0;
    if (ret > 0) (void)mirror_params(ctx, params);
    return ret;
  });
}

CRYPTINE_EXPORT int EVP_MAC_CTX_get_params(EVP_MAC_CTX* ctx, OSSL_PARAM params[]) {
  return no_throw(0, [&] {
    std::optional<Twin> twin = twin_of(twins(), ctx);
    if (!twin) {
      InOpenSsl in_openssl;
      return CRYPTINE_REAL(EVP_MAC_CTX_get_params)(ctx, params);
    }
    return get_params_on_twin(*twin, Family::kMac, params);
  });
}

CRYPTINE_EXPORT int EVP_MAC_init(EVP_MAC_CTX* ctx, const unsigned char* key, size_t keylen,
                                 const OSSL_PARAM params[]) {
  return no_throw(0, [&] {
    std::optional<Twin> twin = twin_of(twins(), ctx);
    if (!twin) {
      InOpenSsl in_openssl;
      return CRYPTINE_REAL(EVP_MAC_init)(ctx, key, keylen, params);
    }
    // A NULL key keeps the key set before, whatever keylen says, as in OpenSSL.
    const std::span<const uint8_t> k(key, key != nullptr ? keylen : 0);
    if (!on_twin(*twin, [&](Virtine& v) { return guest::mac_start(v, twin->handle, key != nullptr ? &k : nullptr, params); }))
      return 0;
    (void)mirror_params(ctx, params);
    return 1;
  });
}

CRYPTINE_EXPORT int EVP_MAC_update(EVP_MAC_CTX* ctx, const unsigned char* data, size_t datalen) {
  return no_throw(0, [&] {
    std::optional<Twin> twin = twin_of(twins(), ctx);
    if (!twin) {
      InOpenSsl in_openssl;
      return CRYPTINE_REAL(EVP_MAC_update)(ctx, data, datalen);
    }
    if (datalen == 0) return 1;
    if (data == nullptr) {
      ERR_raise(ERR_LIB_EVP, ERR_R_PASSED_NULL_PARAMETER);
      return 0;
    }
    return on_twin(*twin, [&](Virtine& v) { return guest::mac_update(v, twin->handle, {data, datalen}); }) ? 1 : 0;
  });
}

CRYPTINE_EXPORT int EVP_MAC_final(EVP_MAC_CTX* ctx, unsigned char* out, size_t* outl, size_t outsize) {
  return no_throw(0, [&] {
    std::optional<Twin> twin = twin_of(twins(), ctx);
    if (!twin) {
      InOpenSsl in_openssl;
      return CRYPTINE_REAL(EVP_MAC_final)(ctx, out, outl, outsize);
    }
    if (out == nullptr) {  // a size query
      if (outl == nullptr) {
        ERR_raise(ERR_LIB_EVP, ERR_R_PASSED_NULL_PARAMETER);
        return 0;
      }
      *outl = twin_size(*twin, OSSL_MAC_PARAM_SIZE);
      return 1;
    }
    return on_twin(*twin, [&](Virtine& v) -> Status {
             guest::Bytes mac = CRYPTINE_TRY(guest::mac_final(v, twin->handle, outsize));
             if (mac.empty() || mac.size() > outsize)
               return v.poison(Error(ErrorCode::kGuestFault, "MAC of the wrong length"));
             std::memcpy(out, mac.data(), mac.size());
             if (outl != nullptr) *outl = mac.size();
             return {};
           })
               ? 1
               : 0;
  });
}

CRYPTINE_EXPORT EVP_MAC_CTX* EVP_MAC_CTX_dup(const EVP_MAC_CTX* src) {
  return no_throw<EVP_MAC_CTX*>(nullptr, [&]() -> EVP_MAC_CTX* {
    std::optional<Twin> twin = src != nullptr ? twins().find(src) : std::nullopt;
    EVP_MAC_CTX* dup;
    {
      InOpenSsl in_openssl;
      dup = CRYPTINE_REAL(EVP_MAC_CTX_dup)(src);
    }
    if (dup == nullptr || !twin) return dup;
    if (copy_twin(twins(), *twin, dup, Family::kMac)) return dup;
    InOpenSsl in_openssl;
    CRYPTINE_REAL(EVP_MAC_CTX_free)(dup);
    return nullptr;
  });
}

CRYPTINE_EXPORT void EVP_MAC_CTX_free(EVP_MAC_CTX* ctx) {
  no_throw(0, [&] {
    if (ctx != nullptr) forget(ctx);
    InOpenSsl in_openssl;
    CRYPTINE_REAL(EVP_MAC_CTX_free)(ctx);
    return 0;
  });
}

// One-shot HMAC over an enabled digest, without extra params, runs call-scoped in one
// request; any other MAC is OpenSSL's, counted as passed through.
CRYPTINE_EXPORT unsigned char* EVP_Q_mac(OSSL_LIB_CTX* libctx, const char* name, const char* propq,
                                         const char* subalg, const OSSL_PARAM* params, const void* key, size_t keylen,
                                         const unsigned char* data, size_t datalen, unsigned char* out,
                                         size_t outsize, size_t* outlen) {
  auto real = [&] {
    InOpenSsl in_openssl;
    return CRYPTINE_REAL(EVP_Q_mac)(libctx, name, propq, subalg, params, key, keylen, data, datalen, out, outsize,
                                    outlen);
  };
  return no_throw<unsigned char*>(nullptr, [&]() -> unsigned char* {
    if (called_from_openssl()) return real();
    Runtime& rt = Runtime::get();
    const EVP_MD* md = subalg != nullptr ? EVP_get_digestbyname(subalg) : nullptr;
    const bool plain = libctx == nullptr && propq == nullptr && (params == nullptr || params[0].key == nullptr) &&
                       out != nullptr && (key != nullptr || keylen == 0) && (data != nullptr || datalen == 0);
    if (!plain || !rt.mac_enabled(name) || md == nullptr) {
      (void)route(false);
      return real();
    }
    switch (route(rt.digest_enabled(md))) {
      case Route::kNative: return real();
      case Route::kFail: return nullptr;
      case Route::kVirtine: break;
    }
    if (outlen != nullptr) *outlen = 0;
    if (outsize < static_cast<size_t>(EVP_MD_get_size(md))) {
      ERR_raise(ERR_LIB_EVP, EVP_R_BUFFER_TOO_SMALL);
      return nullptr;
    }
    const Served served = run_call_scoped(Family::kMac, [&](Virtine& v) -> Status {
      guest::Bytes mac = CRYPTINE_TRY(guest::hmac(v, subalg, {static_cast<const uint8_t*>(key), keylen}, {data, datalen}));
      if (mac.size() != static_cast<size_t>(EVP_MD_get_size(md)))
        return v.poison(Error(ErrorCode::kGuestFault, "HMAC of the wrong length"));
      std::memcpy(out, mac.data(), mac.size());
      if (outlen != nullptr) *outlen = mac.size();
      return {};
    });
    switch (served) {
      case Served::kDone: return out;
      case Served::kNative: return real();
      case Served::kFailed: break;
    }
    return nullptr;
  });
}
