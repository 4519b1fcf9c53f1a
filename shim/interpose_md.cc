// Interposed EVP digest contexts (EVP_MD_CTX), with twins as for ciphers: the program's
// context is initialised with the digest only (size, block size and the EVP_MD still
// answer), its running state lives in a virtine. One-shot digests are in
// interpose_digest.cc; signing contexts (EVP_DigestSign*) are OpenSSL's, and a context
// that becomes one leaves its twin behind.
#include <openssl/err.h>
#include <openssl/evp.h>

#include <cstring>

#include "shim/guest_ops.h"
#include "shim/md_context_links.h"
#include "shim/real_symbol.h"
#include "shim/virtine_call.h"

namespace cryptine {
namespace {

TwinTable& twins() {
  static TwinTable* table = new TwinTable();  // never destroyed: threads may outlive statics
  return *table;
}
[[maybe_unused]] TwinTable& twins_made_at_load = twins();  // before threads exist: see twin_table.h

void forget(const EVP_MD_CTX* ctx) {
  if (auto twin = twins().take(ctx)) release_twin(*twin);
}

bool on_twin(const Twin& twin, const std::function<Status(Virtine&)>& fn) {
  return run_on_twin(twin, Family::kDigest, fn);
}

int real_init(EVP_MD_CTX* ctx, const EVP_MD* type, ENGINE* impl) {
  InOpenSsl in_openssl;
  return CRYPTINE_REAL(EVP_DigestInit_ex)(ctx, type, impl);
}

int init(EVP_MD_CTX* ctx, const EVP_MD* type, ENGINE* impl) {
  // A signing or verifying context (its digest re-initialised, as BIO_f_md does between
  // inputs) is OpenSSL's.
  if (ctx == nullptr || called_from_openssl() || EVP_MD_CTX_get_pkey_ctx(ctx) != nullptr)
    return real_init(ctx, type, impl);
  Runtime& rt = Runtime::get();
  std::optional<Twin> twin = twins().find(ctx);
  if (!twin) {
    if (type == nullptr || impl != nullptr) return real_init(ctx, type, impl);
    switch (route(rt.digest_enabled(type))) {
      case Route::kNative: return real_init(ctx, type, impl);
      case Route::kFail: return 0;
      case Route::kVirtine: break;
    }
  } else if (impl != nullptr || (type != nullptr && !rt.digest_enabled(type))) {
    forget(ctx);
    (void)route(false);
    return real_init(ctx, type, impl);
  }
  // The host context: the digest, no data. As for ciphers, the twin stays out of the
  // table while OpenSSL re-initialises (and may reset) the context.
  if (twin) twins().take(ctx);
  if (!real_init(ctx, type, nullptr)) {
    if (twin) release_twin(*twin);
    return 0;
  }
  if (twin) twins().put(ctx, *twin);
  const char* name = EVP_MD_get0_name(EVP_MD_CTX_get0_md(ctx));
  if (name == nullptr) {
    ERR_raise(ERR_LIB_EVP, EVP_R_NO_DIGEST_SET);
    return 0;
  }
  if (twin) {  // re-initialised: a fresh guest context in the same virtine
    return on_twin(*twin, [&](Virtine& v) -> Status {
             const guest::Handle fresh = CRYPTINE_TRY(guest::digest_init(v, name));
             CRYPTINE_TRY_STATUS(guest::free_handle(v, twin->handle));
             twins().put(ctx, Twin{twin->lease, fresh});
             return {};
           })
               ? 1
               : 0;
  }
  Twin made;
  switch (make_twin(Family::kDigest, [&](Virtine& v) { return guest::digest_init(v, name); }, &made)) {
    case Served::kDone: twins().put(ctx, made); return 1;
    case Served::kFailed: return 0;
    case Served::kNative: return 1;  // the host context, initialised above, is OpenSSL's own
  }
  return 0;
}

}  // namespace

void forget_md_twin(const EVP_MD_CTX* ctx) { forget(ctx); }

}  // namespace cryptine

using namespace cryptine;

CRYPTINE_EXPORT int EVP_DigestInit_ex(EVP_MD_CTX* ctx, const EVP_MD* type, ENGINE* impl) {
  return no_throw(0, [&] { return init(ctx, type, impl); });
}

CRYPTINE_EXPORT int EVP_DigestInit(EVP_MD_CTX* ctx, const EVP_MD* type) {
  return no_throw(0, [&] {
    if (ctx != nullptr && !called_from_openssl()) {  // OpenSSL's resets the context first
      forget(ctx);
      InOpenSsl in_openssl;
      CRYPTINE_REAL(EVP_MD_CTX_reset)(ctx);
    }
    return init(ctx, type, nullptr);
  });
}

// With params (an XOF's length, say) the context is OpenSSL's.
CRYPTINE_EXPORT int EVP_DigestInit_ex2(EVP_MD_CTX* ctx, const EVP_MD* type, const OSSL_PARAM params[]) {
  return no_throw(0, [&] {
    if (params == nullptr || params[0].key == nullptr) return init(ctx, type, nullptr);
    if (ctx != nullptr) forget(ctx);
    InOpenSsl in_openssl;
    return CRYPTINE_REAL(EVP_DigestInit_ex2)(ctx, type, params);
  });
}

CRYPTINE_EXPORT int EVP_DigestUpdate(EVP_MD_CTX* ctx, const void* data, size_t count) {
  return no_throw(0, [&] {
    std::optional<Twin> twin = twin_of(twins(), ctx);
    if (!twin) {
      InOpenSsl in_openssl;
      return CRYPTINE_REAL(EVP_DigestUpdate)(ctx, data, count);
    }
    if (count == 0) return 1;  // as OpenSSL: nothing to do
    if (data == nullptr) {
      ERR_raise(ERR_LIB_EVP, ERR_R_PASSED_NULL_PARAMETER);
      return 0;
    }
    return on_twin(*twin, [&](Virtine& v) {
             return guest::digest_update(v, twin->handle, {static_cast<const uint8_t*>(data), count});
           })
               ? 1
               : 0;
  });
}

CRYPTINE_EXPORT int EVP_DigestFinal_ex(EVP_MD_CTX* ctx, unsigned char* md, unsigned int* size) {
  return no_throw(0, [&] {
    std::optional<Twin> twin = twin_of(twins(), ctx);
    if (!twin) {
      InOpenSsl in_openssl;
      return CRYPTINE_REAL(EVP_DigestFinal_ex)(ctx, md, size);
    }
    const int expected = EVP_MD_CTX_get_size(ctx);
    return on_twin(*twin, [&](Virtine& v) -> Status {
             guest::Bytes out = CRYPTINE_TRY(guest::digest_final(v, twin->handle));
             if (expected <= 0 || out.size() != static_cast<size_t>(expected))
               return v.poison(Error(ErrorCode::kGuestFault, "digest of the wrong length"));
             std::memcpy(md, out.data(), out.size());
             if (size != nullptr) *size = static_cast<unsigned int>(out.size());
             return {};
           })
               ? 1
               : 0;
  });
}

CRYPTINE_EXPORT int EVP_MD_CTX_copy_ex(EVP_MD_CTX* out, const EVP_MD_CTX* in) {
  return no_throw(0, [&] {
    if (out != nullptr && out != in) {
      forget(out);
      forget_shadow(out);
    }
    std::optional<Twin> twin = in != nullptr ? twins().find(in) : std::nullopt;
    int copied;
    {
      InOpenSsl in_openssl;  // the host context: the digest, no data
      copied = CRYPTINE_REAL(EVP_MD_CTX_copy_ex)(out, in);
    }
    if (copied && out != in) copy_shadow(out, in);
    if (!copied || !twin) return copied;
    return copy_twin(twins(), *twin, out, Family::kDigest) ? 1 : 0;
  });
}

CRYPTINE_EXPORT int EVP_MD_CTX_reset(EVP_MD_CTX* ctx) {
  return no_throw(0, [&] {
    if (ctx != nullptr) {
      forget(ctx);
      forget_shadow(ctx);
    }
    InOpenSsl in_openssl;
    return CRYPTINE_REAL(EVP_MD_CTX_reset)(ctx);
  });
}

CRYPTINE_EXPORT void EVP_MD_CTX_free(EVP_MD_CTX* ctx) {
  no_throw(0, [&] {
    if (ctx != nullptr) {
      forget(ctx);
      forget_shadow(ctx);
    }
    InOpenSsl in_openssl;
    CRYPTINE_REAL(EVP_MD_CTX_free)(ctx);
    return 0;
  });
}

// A context initialised for verifying is OpenSSL's: its twin, if any, goes. (Signing
// contexts: interpose_digest_sign.cc.)
CRYPTINE_EXPORT int EVP_DigestVerifyInit(EVP_MD_CTX* ctx, EVP_PKEY_CTX** pctx, const EVP_MD* type, ENGINE* e,
                                         EVP_PKEY* pkey) {
  return no_throw(0, [&] {
    if (ctx != nullptr) forget(ctx);
    InOpenSsl in_openssl;
    return CRYPTINE_REAL(EVP_DigestVerifyInit)(ctx, pctx, type, e, pkey);
  });
}

CRYPTINE_EXPORT int EVP_DigestVerifyInit_ex(EVP_MD_CTX* ctx, EVP_PKEY_CTX** pctx, const char* mdname,
                                            OSSL_LIB_CTX* libctx, const char* props, EVP_PKEY* pkey,
                                            const OSSL_PARAM params[]) {
  return no_throw(0, [&] {
    if (ctx != nullptr) forget(ctx);
    InOpenSsl in_openssl;
    return CRYPTINE_REAL(EVP_DigestVerifyInit_ex)(ctx, pctx, mdname, libctx, props, pkey, params);
  });
}
