// The provider's key exchanges (OSSL_OP_KEYEXCH): ECDH and X25519, derived by the key's
// handle in its virtine.
#pragma once

#include <openssl/core.h>

namespace cryptine::provider {

// The key exchanges the provider serves, "provider=cryptine", ending with a null entry:
// those CRYPTINE_ALGS enables. Made at the first call.
const OSSL_ALGORITHM* keyexch_algorithms();

// The TLS groups (OSSL_CAPABILITY_TLS_GROUP_*) whose key exchange the provider serves, each
// passed to `cb`: libssl uses a group only from the provider whose key management it
// fetches, which, when this provider is preferred, is this one. Returns 1, or 0 if cb failed.
int tls_group_capabilities(OSSL_CALLBACK* cb, void* arg);

}  // namespace cryptine::provider
