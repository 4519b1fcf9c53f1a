// The provider's key exchanges (OSSL_OP_KEYEXCH): ECDH and X25519, derived by the key's
// handle in its virtine.
#pragma once

#include <openssl/core.h>

namespace cryptine::provider {

// The key exchanges the provider serves, "provider=cryptine", ending with a null entry:
// those CRYPTINE_ALGS enables. Made at the first call.
const OSSL_ALGORITHM* keyexch_algorithms();

}  // namespace cryptine::provider
