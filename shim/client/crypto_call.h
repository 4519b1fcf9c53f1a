// One crypto request in a virtine: the only path from host code to the guest's OpenSSL.
#pragma once

#include "shim/client/request_codec.h"
#include "vmm/result.h"
#include "vmm/virtine.h"

namespace cryptine {

// Encodes `request` into the virtine's mailbox, enters the guest once, and returns its
// validated reply (whose output points into the mailbox until the next call). Anything
// but a DONE with a well-formed reply poisons the virtine and is an error.
Result<CryptoReply> call_in_virtine(Virtine& virtine, const CryptoRequest& request);

}  // namespace cryptine
