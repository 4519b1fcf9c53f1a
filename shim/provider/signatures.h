// The provider's signatures (OSSL_OP_SIGNATURE): RSA (PKCS#1 v1.5 and PSS), ECDSA and
// Ed25519, signing by the key's handle in its virtine.
#pragma once

#include <openssl/core.h>

namespace cryptine::provider {

// The signature algorithms the provider serves, "provider=cryptine", ending with a null
// entry: those CRYPTINE_ALGS enables. Made at the first call.
const OSSL_ALGORITHM* signature_algorithms();

}  // namespace cryptine::provider
