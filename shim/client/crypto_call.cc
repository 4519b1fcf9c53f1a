#include "shim/client/crypto_call.h"

#include <algorithm>
#include <cstdint>
#include <string>

#include "abi/guest_abi.h"
#include "vmm/counters.h"

namespace cryptine {
namespace {

// Key generation searches for primes, which takes no fixed time (RSA-4096 natively anywhere
// from a fraction of a second to several): it gets this many times the per-call limit.
constexpr uint32_t kKeyGenerationBudget = 10;

uint32_t limit_for(const Virtine& virtine, uint32_t op) {
  const uint64_t limit = virtine.timeout_ms();
  if (op != CRYPTINE_OP_KEY_GENERATE) return static_cast<uint32_t>(limit);
  return static_cast<uint32_t>(std::min<uint64_t>(limit * kKeyGenerationBudget, UINT32_MAX));  // 0 stays 0
}

}  // namespace

Result<MailboxReply> call_in_virtine(Virtine& virtine, const CryptoRequest& request) {
  // Only the bytes the request writes are taken for writing: the host's writes are pages a
  // reset must copy back, so a 16-byte call must not claim the whole mailbox.
  const uint64_t extent = CRYPTINE_TRY(request_extent(request));
  // Open from the copy in to the copy out, which the caller makes from the reply: the
  // reply carries this scope on (the KVM_RUN between is open too, see Virtine::run()).
  const GuestMemoryAccess open;
  auto request_bytes = CRYPTINE_TRY(virtine.memory().translate_mut(open, GuestAddr{CRYPTINE_MAILBOX_ADDR}, extent));
  const OutputWindow window = CRYPTINE_TRY(encode_request(request, request_bytes));
  const Hypercall call = CRYPTINE_TRY(virtine.run(limit_for(virtine, request.op)));
  if (call.kind != HypercallKind::kDone)
    return virtine.poison(
        Error(ErrorCode::kGuestFault, "crypto guest answered with " + std::string(hypercall_name(call.kind))));
  auto mailbox =
      CRYPTINE_TRY(virtine.memory().translate(open, GuestAddr{CRYPTINE_MAILBOX_ADDR}, CRYPTINE_MAILBOX_SIZE));
  auto reply = decode_reply(mailbox, window);
  if (!reply.ok()) return virtine.poison(std::move(reply).error());
  count(vmm_counters().payload_bytes, request.key.size() + request.iv.size() + request.in.size() + reply->out.size());
  return MailboxReply{*reply, open};
}

}  // namespace cryptine
