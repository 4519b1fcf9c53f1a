#include "shim/client/crypto_call.h"

#include <string>

#include "vmm/counters.h"
#include "abi/guest_abi.h"

namespace cryptine {

Result<CryptoReply> call_in_virtine(Virtine& virtine, const CryptoRequest& request) {
  // Only the bytes the request writes are taken for writing: the host's writes are pages a
  // reset must copy back, so a 16-byte call must not claim the whole mailbox.
  const uint64_t extent = CRYPTINE_TRY(request_extent(request));
  auto request_bytes = CRYPTINE_TRY(virtine.memory().translate_mut(GuestAddr{CRYPTINE_MAILBOX_ADDR}, extent));
  const OutputWindow window = CRYPTINE_TRY(encode_request(request, request_bytes));
  const Hypercall call = CRYPTINE_TRY(virtine.run());
  if (call.kind != HypercallKind::kDone)
    return virtine.poison(
        Error(ErrorCode::kGuestFault, "crypto guest answered with " + std::string(hypercall_name(call.kind))));
  auto mailbox = CRYPTINE_TRY(virtine.memory().translate(GuestAddr{CRYPTINE_MAILBOX_ADDR}, CRYPTINE_MAILBOX_SIZE));
  auto reply = decode_reply(mailbox, window);
  if (!reply.ok()) return virtine.poison(std::move(reply).error());
  count(vmm_counters().payload_bytes, request.key.size() + request.iv.size() + request.in.size() + reply->out.size());
  return reply;
}

}  // namespace cryptine
