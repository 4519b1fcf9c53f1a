// A preloaded program keeps running where no virtine can (no usable KVM, a seccomp
// filter, out of fds or memory, with CRYPTINE_FALLBACK=native): each context the provider
// makes is either its own (state in a virtine) or the default provider's implementation of
// the same algorithm, called through that provider's own dispatch table. OpenSSL holds a
// Delegated either way; every function that takes a context is wrapped by `Forward`, so no
// function of the provider ever sees the other kind. A context is native from newctx when
// virtines are unavailable then, or becomes native at the call that first needs a virtine
// and finds none (it holds no guest state yet), which is then replayed natively.
//
// A program that asked for the provider itself (-provider cryptine, a config) never gets
// this: it gets cryptine or an error.
#pragma once

#include <openssl/core.h>
#include <openssl/err.h>

#include <new>
#include <type_traits>

#include "shim/client/virtine_call.h"

namespace cryptine::provider {

// What the wrapper needs to know of an algorithm family.
struct DelegateKind {
  int operation;   // OSSL_OP_*
  int newctx_id;   // its OSSL_FUNC_*_NEWCTX
  int freectx_id;  // and OSSL_FUNC_*_FREECTX
  void (*free_ours)(void*);
  // Hands what a context of ours holds on the host (it has no guest state) to a new native
  // one, whose functions are `native`; null when there is nothing to hand over.
  bool (*hand_over)(void* ours, void* native_ctx, const OSSL_DISPATCH* native);
};

struct Delegated {
  void* ctx = nullptr;                    // the provider's own context, or the default provider's
  const OSSL_DISPATCH* native = nullptr;  // the default provider's functions; null: ours
  const DelegateKind* kind = nullptr;
  const char* names = nullptr;  // the algorithm's names, for a later fall-back
};

// The depth of default-provider calls this thread is in: contexts the default provider
// makes for itself inside one (HMAC's digests) are native too, and not counted again.
inline thread_local int t_in_native = 0;

// Set (by make_provider_twin and the KDFs) when a call found no virtine, in a preloaded
// process with CRYPTINE_FALLBACK=native (counted as a fallback, no error raised): the
// wrapper then gives the context to the default provider and replays the call there.
inline thread_local bool t_fall_back_now = false;

// Whether a new context is served by the default provider: only in a preloaded process
// whose virtines are unavailable with CRYPTINE_FALLBACK=native (each context the program
// or libssl makes counted once as a native fallback; the reason said once). With
// CRYPTINE_FALLBACK=fail the error is raised and *failed is set.
bool serve_natively(bool* failed);

// A call found no virtine (and CRYPTINE_FALLBACK=native, or it would have failed already):
// preloaded, it is marked to fall back (t_fall_back_now); loaded by the program, it fails,
// counted, with the error raised. The caller then returns its failure value.
void no_virtine_now();

// A native context for d's algorithm in place of ours (handed over, ours freed). False,
// with the error raised, when the default provider has none.
bool become_native(Delegated& d);

// The function `id` of a dispatch table, or null.
void (*function_of(const OSSL_DISPATCH* table, int id))(void);

// newctx: a Delegated around `make_ours()`, or around the default provider's context for
// the same algorithm when serve_natively() says so. Null with the error raised.
template <typename MakeOurs>
void* new_delegated(const DelegateKind& kind, const char* names, MakeOurs&& make_ours) {
  return no_throw<void*>(nullptr, [&]() -> void* {
    bool failed = false;
    const bool native = serve_natively(&failed);
    if (failed) return nullptr;
    auto* d = new (std::nothrow) Delegated{nullptr, nullptr, &kind, names};
    if (d == nullptr) {
      ERR_raise(ERR_LIB_PROV, ERR_R_MALLOC_FAILURE);
      return nullptr;
    }
    if (native ? become_native(*d) : (d->ctx = make_ours()) != nullptr) return d;
    delete d;
    return nullptr;
  });
}

// dupctx and freectx, for either kind.
template <int DupId, void* (*DupOurs)(void*)>
void* dup_delegated(void* vctx) {
  return no_throw<void*>(nullptr, [&]() -> void* {
    const auto* in = static_cast<const Delegated*>(vctx);
    auto* out = new (std::nothrow) Delegated(*in);
    if (out == nullptr) {
      ERR_raise(ERR_LIB_PROV, ERR_R_MALLOC_FAILURE);
      return nullptr;
    }
    out->ctx = nullptr;
    if (in->native == nullptr) {
      out->ctx = DupOurs(in->ctx);
    } else if (auto dup = reinterpret_cast<void* (*)(void*)>(function_of(in->native, DupId)); dup != nullptr) {
      out->ctx = dup(in->ctx);
    }
    if (out->ctx == nullptr) {
      delete out;
      return nullptr;
    }
    return out;
  });
}

void free_delegated(void* vctx);

// Every other function that takes the context first: ours, or the default provider's
// function of the same id (with the same signature, by OpenSSL's dispatch contract).
template <int Id, auto Ours>
struct Forward;
template <int Id, typename R, typename... Args, R (*Ours)(void*, Args...)>
struct Forward<Id, Ours> {
  static R call(void* vctx, Args... args) {
    auto* d = static_cast<Delegated*>(vctx);
    if (d->native == nullptr) {
      t_fall_back_now = false;
      if constexpr (std::is_void_v<R>) {
        Ours(d->ctx, args...);
        if (!t_fall_back_now) return;
      } else {
        R r = Ours(d->ctx, args...);
        if (!t_fall_back_now) return r;
      }
      t_fall_back_now = false;
      if (!become_native(*d)) {
        if constexpr (!std::is_void_v<R>)
          return R{};
        else
          return;
      }
    }
    auto native = reinterpret_cast<R (*)(void*, Args...)>(function_of(d->native, Id));
    if (native == nullptr) {
      ERR_raise(ERR_LIB_PROV, ERR_R_UNSUPPORTED);
      if constexpr (!std::is_void_v<R>)
        return R{};
      else
        return;
    }
    ++t_in_native;
    struct Leave {
      ~Leave() { --t_in_native; }
    } leave;
    return native(d->ctx, args...);
  }
};

// The dispatch entry for function `ID`, served by the function after it for the provider's
// contexts. A macro, not a function, so that the tables stay constant-initialised (OpenSSL
// may query them from a constructor).
#define CRYPTINE_FORWARD(ID, ...) \
  { ID, reinterpret_cast<void (*)(void)>(&::cryptine::provider::Forward<ID, __VA_ARGS__>::call) }

}  // namespace cryptine::provider
