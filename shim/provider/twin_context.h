// The life of a provider context that holds a twin (virtine lease + guest handle): the
// same for every algorithm family. `Context` is a copyable host object with a
// `std::optional<Twin> twin` member (empty until the first use); what else it holds
// (the algorithm's facts, host-side mirrors) is copied as it is by dupctx.
#pragma once

#include <openssl/err.h>

#include <new>
#include <optional>
#include <span>

#include "shim/client/guest_ops.h"
#include "shim/client/virtine_call.h"
#include "vmm/function_ref.h"

namespace cryptine::provider {

// newctx: a context made from `initial` (no twin yet), or null with the error raised.
template <typename Context>
void* new_twin_context(const Context& initial) {
  return no_throw<void*>(nullptr, [&]() -> void* {
    auto* ctx = new (std::nothrow) Context(initial);
    if (ctx == nullptr) ERR_raise(ERR_LIB_PROV, ERR_R_MALLOC_FAILURE);
    return ctx;
  });
}

// freectx: the guest context goes with it.
template <typename Context>
void free_twin_context(void* vctx) {
  no_throw(0, [&] {
    auto* ctx = static_cast<Context*>(vctx);
    if (ctx == nullptr) return 0;
    if (ctx->twin) release_twin(*ctx->twin);
    delete ctx;
    return 0;
  });
}

// dupctx: the host part copied, the guest context copied beside the original's in the
// same virtine.
template <typename Context, Family F>
void* dup_twin_context(void* vctx) {
  return no_throw<void*>(nullptr, [&]() -> void* {
    const auto* in = static_cast<const Context*>(vctx);
    Context host = *in;
    host.twin.reset();
    auto* out = static_cast<Context*>(new_twin_context(host));
    if (out == nullptr || !in->twin) return out;
    Twin copy;
    if (!copy_twin(*in->twin, F, &copy)) {
      delete out;
      return nullptr;
    }
    out->twin = std::move(copy);
    return out;
  });
}

// An update's input judged before anything is done with it: an update before init, or a
// null pointer with a length, fails (the error raised); an empty one succeeds at once. The
// result to return, or nullopt for the update to go on.
inline std::optional<int> settled_update(bool started, const unsigned char* in, size_t inl) {
  if (!started) {
    ERR_raise(ERR_LIB_PROV, ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED);  // update before init
    return 0;
  }
  if (inl == 0) return 1;
  if (in == nullptr) {
    ERR_raise(ERR_LIB_PROV, ERR_R_PASSED_NULL_PARAMETER);
    return 0;
  }
  return std::nullopt;
}

// update (digests, MACs): the program's input judged (settled_update), then `Send` on the
// context's twin; 1 or 0 as OpenSSL wants.
template <typename Context, Family F, Status (*Send)(Virtine&, guest::Handle, std::span<const uint8_t>)>
int update_on_twin(void* vctx, const unsigned char* in, size_t inl) {
  return no_throw(0, [&] {
    const auto* ctx = static_cast<const Context*>(vctx);
    if (const std::optional<int> settled = settled_update(ctx->twin.has_value(), in, inl)) return *settled;
    const Twin& twin = *ctx->twin;
    return run_on_twin(twin, F, [&](Virtine& v) { return Send(v, twin.handle, {in, inl}); }) ? 1 : 0;
  });
}

// A context's first twin, its guest context made by `make`. Without a virtine, a program
// that loaded the provider gets an error (it asked for this one); a preloaded one has the
// context fall back to the default provider (native_delegate.h), where the call is
// replayed. Returns whether *twin now holds one.
bool make_provider_twin(Family family, FunctionRef<Result<guest::Handle>(Virtine&)> make, std::optional<Twin>* twin);

}  // namespace cryptine::provider
