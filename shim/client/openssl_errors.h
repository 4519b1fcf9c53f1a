// Failures of virtine calls, reported on OpenSSL's error queue as OpenSSL would.
#pragma once

#include "vmm/result.h"

namespace cryptine {

// kGuestRefused carries the guest OpenSSL's own error code: raised as is, so the
// program sees the same library and reason it would natively (none, if it raised none). Anything else (a guest
// fault, a timeout, no KVM) is raised as an EVP internal error with cryptine's message.
void raise_openssl_error(const Error& error);

}  // namespace cryptine
