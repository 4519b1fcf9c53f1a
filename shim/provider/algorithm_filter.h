// Which of an operation's algorithms the provider offers: those CRYPTINE_ALGS names.
#pragma once

#include <openssl/core.h>

#include <cstddef>

namespace cryptine::provider {

// The entries of all[0..n) that CRYPTINE_ALGS enables (every one when it is unset), then a
// null entry. An entry is enabled when one of its colon-separated names is named, in any
// case. The list is made once per call site and never freed: OpenSSL keeps pointers into it.
// Matched by name, not through EVP lookups: this runs inside OpenSSL's fetch, which such
// a lookup could enter again.
const OSSL_ALGORITHM* offered_algorithms(const OSSL_ALGORITHM* all, size_t n);

}  // namespace cryptine::provider
