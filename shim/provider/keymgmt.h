// The provider's key management (OSSL_OP_KEYMGMT): RSA, EC, Ed25519 and X25519 keys whose
// private part lives in a virtine (see key_data.h).
#pragma once

#include <openssl/core.h>

#include "shim/provider/key_contract.h"

namespace cryptine::provider {

// The key types the provider manages, "provider=cryptine", ending with a null entry:
// those whose operations CRYPTINE_ALGS enables. Made at the first call.
const OSSL_ALGORITHM* keymgmt_algorithms();

// Whether keys of `kind` are among them.
bool keymgmt_offers(KeyKind kind);

}  // namespace cryptine::provider
