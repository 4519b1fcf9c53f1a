// The provider's MACs (OSSL_OP_MAC): HMAC, its key and running state in a virtine.
#pragma once

#include <openssl/core.h>

namespace cryptine::provider {

// The MAC algorithms the provider serves, "provider=cryptine", ending with a null entry:
// HMAC unless CRYPTINE_ALGS leaves "hmac" out. Made at the first call.
const OSSL_ALGORITHM* mac_algorithms();

}  // namespace cryptine::provider
