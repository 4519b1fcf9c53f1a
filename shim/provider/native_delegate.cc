#include "shim/provider/native_delegate.h"

#include <openssl/crypto.h>
#include <openssl/provider.h>

#include <string_view>

#include "shim/provider/preload.h"

namespace cryptine::provider {
namespace {

// Whether `names` (colon-separated) includes `name`, in any case.
bool names_include(std::string_view names, std::string_view name) {
  while (!names.empty()) {
    const size_t colon = names.find(':');
    const std::string_view one = names.substr(0, colon);
    if (one.size() == name.size() && OPENSSL_strncasecmp(one.data(), name.data(), one.size()) == 0) return true;
    if (colon == std::string_view::npos) break;
    names.remove_prefix(colon + 1);
  }
  return false;
}

OSSL_PROVIDER* default_provider() {
  // Loaded once and kept (retaining the fallbacks, as OpenSSL's own auto-load would).
  static OSSL_PROVIDER* const provider = OSSL_PROVIDER_try_load(nullptr, "default", 1);
  return provider;
}

// The default provider's implementation of `names` (OpenSSL's colon-separated aliases) for
// `operation`, and its provider context; false when there is none.
bool find_native(int operation, const char* names, const OSSL_DISPATCH** functions, void** provctx) {
  OSSL_PROVIDER* prov = default_provider();
  if (prov == nullptr) return false;
  const std::string_view ours(names);
  const std::string_view first = ours.substr(0, ours.find(':'));
  int no_cache = 0;
  const OSSL_ALGORITHM* algorithms = OSSL_PROVIDER_query_operation(prov, operation, &no_cache);
  bool found = false;
  for (const OSSL_ALGORITHM* a = algorithms; a != nullptr && a->algorithm_names != nullptr; ++a) {
    if (names_include(a->algorithm_names, first)) {
      *functions = a->implementation;
      *provctx = OSSL_PROVIDER_get0_provider_ctx(prov);
      found = true;
      break;
    }
  }
  OSSL_PROVIDER_unquery_operation(prov, operation, algorithms);
  return found;
}

}  // namespace

bool serve_natively(bool* failed) {
  if (!installed_by_preload()) return false;
  if (t_in_native > 0) return true;  // within a native call: part of it
  switch (route(true)) {             // counts a fallback or a failure, and says why once
    case Route::kVirtine: return false;
    case Route::kNative: return true;
    case Route::kFail: *failed = true; return false;
  }
  return false;
}

void no_virtine_now() {
  if (installed_by_preload())
    t_fall_back_now = true;
  else
    fail_call(Error(ErrorCode::kUnsupported, "no virtine available for the cryptine provider"));
}

bool become_native(Delegated& d) {
  const OSSL_DISPATCH* functions = nullptr;
  void* provctx = nullptr;
  void* (*newctx)(void*) = nullptr;
  if (find_native(d.kind->operation, d.names, &functions, &provctx))
    newctx = reinterpret_cast<void* (*)(void*)>(function_of(functions, d.kind->newctx_id));
  void* native = newctx != nullptr ? newctx(provctx) : nullptr;
  if (native == nullptr) {
    ERR_raise_data(ERR_LIB_PROV, ERR_R_UNSUPPORTED, "cryptine: no native %s to fall back to", d.names);
    return false;
  }
  if (d.ctx != nullptr) {
    if (d.kind->hand_over != nullptr && !d.kind->hand_over(d.ctx, native, functions)) {
      if (auto free_native = reinterpret_cast<void (*)(void*)>(function_of(functions, d.kind->freectx_id)))
        free_native(native);
      return false;
    }
    d.kind->free_ours(d.ctx);
  }
  d.ctx = native;
  d.native = functions;
  return true;
}

void free_delegated(void* vctx) {
  auto* d = static_cast<Delegated*>(vctx);
  if (d == nullptr) return;
  if (d->native == nullptr) {
    d->kind->free_ours(d->ctx);
  } else if (auto free_native = reinterpret_cast<void (*)(void*)>(function_of(d->native, d->kind->freectx_id));
             free_native != nullptr) {
    free_native(d->ctx);
  }
  delete d;
}

void (*function_of(const OSSL_DISPATCH* table, int id))(void) {
  for (const OSSL_DISPATCH* f = table; f != nullptr && f->function_id != 0; ++f)
    if (f->function_id == id) return f->function;
  return nullptr;
}

}  // namespace cryptine::provider
