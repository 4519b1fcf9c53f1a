// The provider's digests (OSSL_OP_DIGEST): each context's running state lives in a virtine.
#pragma once

#include <openssl/core.h>

namespace cryptine::provider {

// The digest algorithms the provider serves, "provider=cryptine", ending with a null entry.
const OSSL_ALGORITHM* digest_algorithms();

}  // namespace cryptine::provider
