// Which of a family's algorithms the provider offers: those CRYPTINE_ALGS names (all of
// them when it is unset). Shared by every algorithm family (digests, ciphers, MACs, KDFs,
// keys).
#pragma once

#include <openssl/core.h>

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cryptine::provider {

// The entries of `all` that CRYPTINE_ALGS enables, followed by OpenSSL's null entry.
// Callers keep the result for the process's life: OpenSSL keeps pointers into it.
std::vector<OSSL_ALGORITHM> offered(std::span<const OSSL_ALGORITHM> all);

// The same with the wanted names given (lower-case; empty means all): for tests.
std::vector<OSSL_ALGORITHM> offered(std::span<const OSSL_ALGORITHM> all, const std::vector<std::string>& wanted);

// The same for key management and the operations on keys, by family: a key the provider
// holds must find every operation on it here (its private part cannot be exported to
// another provider), so naming one of EC, ECDSA or ECDH offers all three.
std::vector<OSSL_ALGORITHM> offered_keys(std::span<const OSSL_ALGORITHM> all);

// The algorithms CRYPTINE_ALGS names (lower-case; empty means all).
std::vector<std::string> configured_algorithms();

// Whether one of `wanted` (lower-case) is one of the colon-separated `names`, in any case.
bool named_by(std::string_view names, const std::vector<std::string>& wanted);

}  // namespace cryptine::provider
