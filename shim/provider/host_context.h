// The life of a provider context that holds nothing of its own in a virtine (KDFs collect
// their parameters; key exchange, signature and asymmetric-cipher contexts share their key's
// virtine): made, copied and freed on the host, with no exception reaching OpenSSL.
#pragma once

#include <openssl/err.h>

#include <new>
#include <utility>

#include "shim/client/virtine_call.h"

namespace cryptine::provider {

// newctx (and a plain copy): a Context{args...}, or null with the error raised.
template <typename Context, typename... Args>
void* new_host_context(Args&&... args) {
  return no_throw<void*>(nullptr, [&]() -> void* {
    auto* ctx = new (std::nothrow) Context{std::forward<Args>(args)...};
    if (ctx == nullptr) ERR_raise(ERR_LIB_PROV, ERR_R_MALLOC_FAILURE);
    return ctx;
  });
}

template <typename Context>
void free_host_context(void* vctx) {
  no_throw(0, [&] {
    delete static_cast<Context*>(vctx);
    return 0;
  });
}

// dupctx for a context whose copy constructor copies all it holds.
template <typename Context>
void* dup_host_context(void* vctx) {
  return new_host_context<Context>(*static_cast<const Context*>(vctx));
}

}  // namespace cryptine::provider
