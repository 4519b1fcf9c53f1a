// Interposed streaming signatures: EVP_DigestSignInit(_ex), EVP_DigestSignUpdate and
// EVP_DigestSignFinal. For a key whose type is enabled, the signing context keeps a
// shadow digest context on the host (the message is the program's own data; hashing it
// there, with the default provider's digest, costs no isolation), and the final signature
// is made in a virtine over the shadow's digest, with the options read from the program's
// EVP_PKEY_CTX: what OpenSSL's digest-then-sign does for RSA and ECDSA. OpenSSL's own context is kept in step, so size
// queries and anything not served here stay exactly OpenSSL's. (Ed25519 and Ed448 have no
// streaming form; their one-shot EVP_DigestSign is in interpose_pkey.cc.)
#include <openssl/evp.h>

#include <memory>
#include <mutex>
#include <unordered_map>

#include "shim/client/fork_safety.h"
#include "shim/client/virtine_call.h"
#include "shim/interpose/key_operation.h"
#include "shim/interpose/real_symbol.h"

namespace cryptine {
namespace {

struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const {
    InOpenSsl in_openssl;
    EVP_MD_CTX_free(c);
  }
};
using Shadow = std::shared_ptr<EVP_MD_CTX>;

// Signing contexts and their shadows. A shadow replaced or dropped is freed after the
// lock is released: freeing it comes back here (the shim's EVP_MD_CTX_free).
class Shadows {
 public:
  Shadow find(const EVP_MD_CTX* ctx) {
    std::lock_guard lock(mu_);
    auto it = map_.find(ctx);
    return it == map_.end() ? nullptr : it->second;
  }
  void put(const EVP_MD_CTX* ctx, Shadow s) {
    std::unique_lock lock(mu_);
    std::swap(map_[ctx], s);
    lock.unlock();  // `s` now holds the old shadow, if any
  }
  void drop(const EVP_MD_CTX* ctx) {
    Shadow old;
    std::unique_lock lock(mu_);
    if (auto it = map_.find(ctx); it != map_.end()) {
      old = std::move(it->second);
      map_.erase(it);
    }
    lock.unlock();
  }

 private:
  ForkSafeMutex mu_;  // never inherited held by a forked child
  std::unordered_map<const EVP_MD_CTX*, Shadow> map_;
};

Shadows& shadows() {
  static Shadows* s = new Shadows();  // never destroyed: threads may outlive statics
  return *s;
}
[[maybe_unused]] Shadows& shadows_made_at_load = shadows();  // before threads exist: see fork_safety.h

// After OpenSSL initialised `ctx` for signing: a shadow with the same digest, if the key
// is served here and the signature is digest-then-sign (a digest is named).
void shadow_after_init(EVP_MD_CTX* ctx) {
  EVP_PKEY_CTX* pctx = EVP_MD_CTX_get_pkey_ctx(ctx);
  if (pctx == nullptr || route(Runtime::get().pkey_enabled(EVP_PKEY_CTX_get0_pkey(pctx))) != Route::kVirtine) return;
  const KeyOptions o = key_options(pctx, false);
  if (!o.known || o.md.empty()) return;
  EVP_MD* md = EVP_MD_fetch(nullptr, o.md.c_str(), "provider=default");
  InOpenSsl in_openssl;
  Shadow s(EVP_MD_CTX_new(), MdCtxFree());
  if (md != nullptr && s != nullptr && EVP_DigestInit_ex(s.get(), md, nullptr) > 0) shadows().put(ctx, std::move(s));
  EVP_MD_free(md);
}

void forget_shadow(const EVP_MD_CTX* ctx) {
  shadows().drop(ctx);
}

void copy_shadow(EVP_MD_CTX* out, const EVP_MD_CTX* in) {
  Shadow from = shadows().find(in);
  if (from == nullptr) return;
  InOpenSsl in_openssl;
  Shadow s(EVP_MD_CTX_new(), MdCtxFree());
  if (s != nullptr && EVP_MD_CTX_copy_ex(s.get(), from.get()) > 0) shadows().put(out, std::move(s));
}

}  // namespace
}  // namespace cryptine

using namespace cryptine;

CRYPTINE_EXPORT int EVP_DigestSignInit(EVP_MD_CTX* ctx, EVP_PKEY_CTX** pctx, const EVP_MD* type, ENGINE* e,
                                       EVP_PKEY* pkey) {
  return no_throw(0, [&] {
    if (ctx != nullptr) forget_shadow(ctx);
    int r;
    {
      InOpenSsl in_openssl;
      r = CRYPTINE_REAL(EVP_DigestSignInit)(ctx, pctx, type, e, pkey);
    }
    if (r > 0 && !called_from_openssl()) shadow_after_init(ctx);
    return r;
  });
}

CRYPTINE_EXPORT int EVP_DigestSignInit_ex(EVP_MD_CTX* ctx, EVP_PKEY_CTX** pctx, const char* mdname,
                                          OSSL_LIB_CTX* libctx, const char* props, EVP_PKEY* pkey,
                                          const OSSL_PARAM params[]) {
  return no_throw(0, [&] {
    if (ctx != nullptr) forget_shadow(ctx);
    int r;
    {
      InOpenSsl in_openssl;
      r = CRYPTINE_REAL(EVP_DigestSignInit_ex)(ctx, pctx, mdname, libctx, props, pkey, params);
    }
    if (r > 0 && !called_from_openssl()) shadow_after_init(ctx);
    return r;
  });
}

CRYPTINE_EXPORT int EVP_DigestSignUpdate(EVP_MD_CTX* ctx, const void* data, size_t dsize) {
  return no_throw(0, [&] {
    int r;
    {
      InOpenSsl in_openssl;
      r = CRYPTINE_REAL(EVP_DigestSignUpdate)(ctx, data, dsize);
    }
    if (r > 0 && ctx != nullptr) {
      if (Shadow s = shadows().find(ctx); s != nullptr) {
        InOpenSsl in_openssl;
        if (EVP_DigestUpdate(s.get(), data, dsize) <= 0) forget_shadow(ctx);  // OpenSSL's alone from here
      }
    }
    return r;
  });
}

CRYPTINE_EXPORT int EVP_DigestSignFinal(EVP_MD_CTX* ctx, unsigned char* sig, size_t* siglen) {
  return no_throw(0, [&] {
    Shadow s = ctx != nullptr && sig != nullptr && siglen != nullptr ? shadows().find(ctx) : nullptr;
    if (s == nullptr || called_from_openssl()) {
      InOpenSsl in_openssl;
      return CRYPTINE_REAL(EVP_DigestSignFinal)(ctx, sig, siglen);
    }
    // The digest of what was signed so far, from a copy: OpenSSL's final also leaves the
    // context able to take more data.
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    {
      InOpenSsl in_openssl;
      EVP_MD_CTX* copy = EVP_MD_CTX_new();
      const bool ok =
          copy != nullptr && EVP_MD_CTX_copy_ex(copy, s.get()) > 0 && EVP_DigestFinal_ex(copy, digest, &dlen) > 0;
      EVP_MD_CTX_free(copy);
      if (!ok) return CRYPTINE_REAL(EVP_DigestSignFinal)(ctx, sig, siglen);
    }
    return sign_digest_in_virtine(EVP_MD_CTX_get_pkey_ctx(ctx), sig, siglen, {digest, dlen}, [&] {
      InOpenSsl in_openssl;
      return CRYPTINE_REAL(EVP_DigestSignFinal)(ctx, sig, siglen);
    });
  });
}

// A signing context's shadow ends when the context is freed, reset or copied over, and a
// copy of the context gets a copy of it.
CRYPTINE_EXPORT int EVP_MD_CTX_copy_ex(EVP_MD_CTX* out, const EVP_MD_CTX* in) {
  return no_throw(0, [&] {
    if (out != nullptr && out != in) forget_shadow(out);
    int copied;
    {
      InOpenSsl in_openssl;
      copied = CRYPTINE_REAL(EVP_MD_CTX_copy_ex)(out, in);
    }
    if (copied && out != in) copy_shadow(out, in);
    return copied;
  });
}

CRYPTINE_EXPORT int EVP_MD_CTX_reset(EVP_MD_CTX* ctx) {
  return no_throw(0, [&] {
    if (ctx != nullptr) forget_shadow(ctx);
    InOpenSsl in_openssl;
    return CRYPTINE_REAL(EVP_MD_CTX_reset)(ctx);
  });
}

CRYPTINE_EXPORT void EVP_MD_CTX_free(EVP_MD_CTX* ctx) {
  no_throw(0, [&] {
    if (ctx != nullptr) forget_shadow(ctx);
    InOpenSsl in_openssl;
    CRYPTINE_REAL(EVP_MD_CTX_free)(ctx);
    return 0;
  });
}
