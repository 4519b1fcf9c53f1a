// The provider's ciphers (OSSL_OP_CIPHER): each context's key and state live in a virtine.
#pragma once

#include <openssl/core.h>

namespace cryptine::provider {

// The ciphers the provider serves, "provider=cryptine", ending with a null entry: those
// CRYPTINE_ALGS enables (all by default). Made at the first call.
const OSSL_ALGORITHM* cipher_algorithms();

}  // namespace cryptine::provider
