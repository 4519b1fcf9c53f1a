// Param lists on the wire (guest_abi.h), host side: a program's OSSL_PARAM array encoded
// for the guest, and the guest's GET_PARAMS reply decoded back into that array.
//
// The reply is untrusted: it must be the request's list again, record for record (same
// names, types and data sizes); only the values and their return sizes may differ, as
// OpenSSL's setters change them. What each value may be is the operation's contract.
#pragma once

#include <openssl/params.h>

#include <cstdint>
#include <span>
#include <vector>

#include "vmm/result.h"

namespace cryptine {

// Encodes the end-marked `params`. kUnsupported for what cannot cross by value (pointer
// types, a NULL data pointer with a non-zero size), kOutOfRange past the ABI's limits.
Result<std::vector<uint8_t>> encode_params(const OSSL_PARAM* params);

// Checks `reply` (a successful GET_PARAMS's) against `sent` (what encode_params made of
// `params`) and stores each value and return size into `params`. kGuestFault if the
// reply does not match, or a value could not have been set by OpenSSL: a return size past
// its buffer, an integer of another size than its buffer's, a byte changed past a value.
Status decode_get_reply(std::span<const uint8_t> reply, std::span<const uint8_t> sent, OSSL_PARAM* params);

}  // namespace cryptine
