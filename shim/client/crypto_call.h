// One crypto request in a virtine: the only path from host code to the guest's OpenSSL.
#pragma once

#include "shim/client/request_codec.h"
#include "vmm/guest_memory_access.h"
#include "vmm/result.h"
#include "vmm/virtine.h"

namespace cryptine {

// A validated reply whose output still lies in the mailbox, and the access that keeps
// guest memory open to this thread (protection keys) for as long as it lives: read or
// copy the output out, then let it go. Kept whole: a plain CryptoReply copied from it
// points into memory that may already be closed.
struct MailboxReply : CryptoReply {
  GuestMemoryAccess open;
};

// Encodes `request` into the virtine's mailbox, enters the guest once, and returns its
// validated reply (whose output points into the mailbox until the next call). Anything
// but a DONE with a well-formed reply poisons the virtine and is an error.
Result<MailboxReply> call_in_virtine(Virtine& virtine, const CryptoRequest& request);

}  // namespace cryptine
