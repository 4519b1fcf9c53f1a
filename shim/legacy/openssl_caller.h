// Whether a legacy call (AES_set_*_key, SHA*_Init) comes from OpenSSL's own code.
//
// libcrypto and libssl call these exports through the PLT and take their addresses as
// block functions (the default provider's SHA-2 and AES code, libssl's constant-time
// CBC MAC, which reads the SHA_CTX it made), so they reach the shim. Only the program's
// own calls may go to virtines: OpenSSL's internal structs must stay OpenSSL's.
#pragma once

namespace cryptine::legacy {

// `return_address`: __builtin_return_address(0) of the interposed function. True when it
// lies in libcrypto or libssl, or when the shim itself is running OpenSSL's function.
bool called_by_openssl_code(const void* return_address);

}  // namespace cryptine::legacy
