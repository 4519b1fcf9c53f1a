#include "shim/client/openssl_errors.h"

#include <openssl/err.h>

namespace cryptine {

void raise_openssl_error(const Error& error) {
  if (error.code() == ErrorCode::kGuestRefused) {
    // OpenSSL's own error as it raised it; some refusals (a GCM tag that does not verify)
    // raise none, and then neither does the shim.
    if (const unsigned long code = static_cast<unsigned long>(error.detail()); code != 0)
      // The message says which part of a request failed (a batch's step) where the guest says.
      ERR_raise_data(ERR_GET_LIB(code), ERR_GET_REASON(code), "in a cryptine virtine: %s", error.message().c_str());
    return;
  }
  ERR_raise_data(ERR_LIB_EVP, ERR_R_INTERNAL_ERROR, "cryptine: %s", error.message().c_str());
}

}  // namespace cryptine
