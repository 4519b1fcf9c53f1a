// How the provider's algorithms get a virtine for a context: a twin as the interposers
// make it, but with no native fallback. The program chose this provider; it has no code
// of OpenSSL's own to run instead, so without a virtine the call fails.
#pragma once

#include <functional>
#include <optional>

#include "shim/virtine_call.h"

namespace cryptine::provider {

// A new twin whose guest context `make` creates; nullopt when that failed (counted, and
// an error on OpenSSL's queue).
std::optional<Twin> new_twin(Family family, const std::function<Result<guest::Handle>(Virtine&)>& make);

}  // namespace cryptine::provider
