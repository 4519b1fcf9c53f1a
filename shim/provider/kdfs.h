// The provider's KDFs (OSSL_OP_KDF): HKDF, TLS13-KDF, TLS1-PRF and PBKDF2, each
// derivation one request to a call-scoped virtine.
#pragma once

#include <openssl/core.h>

namespace cryptine::provider {

// The KDFs the provider serves, "provider=cryptine", ending with a null entry: those
// CRYPTINE_ALGS enables (all four by default). Made at the first call.
const OSSL_ALGORITHM* kdf_algorithms();

}  // namespace cryptine::provider
