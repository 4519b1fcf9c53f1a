// The provider's asymmetric cipher (OSSL_OP_ASYM_CIPHER): RSA, decrypting by the key's
// handle in its virtine.
#pragma once

#include <openssl/core.h>

namespace cryptine::provider {

// The asymmetric ciphers the provider serves, "provider=cryptine", ending with a null
// entry: RSA unless CRYPTINE_ALGS leaves it out. Made at the first call.
const OSSL_ALGORITHM* asym_cipher_algorithms();

}  // namespace cryptine::provider
