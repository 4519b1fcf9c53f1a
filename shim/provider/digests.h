// The provider's digests (OSSL_OP_DIGEST): each context's running state lives in a virtine.
#pragma once

#include <openssl/core.h>

namespace cryptine::provider {

// The digest algorithms the provider serves, "provider=cryptine", ending with a null entry:
// those CRYPTINE_ALGS enables (all six by default). Made at the first call.
const OSSL_ALGORITHM* digest_algorithms();

}  // namespace cryptine::provider
