#include "shim/crypto_call.h"

#include <string>

#include "vmm/guest_abi.h"

namespace cryptine {

Result<CryptoReply> call_in_virtine(Virtine& virtine, const CryptoRequest& request) {
  auto mailbox = CRYPTINE_TRY(virtine.memory().translate_mut(GuestAddr{CRYPTINE_MAILBOX_ADDR}, CRYPTINE_MAILBOX_SIZE));
  const OutputWindow window = CRYPTINE_TRY(encode_request(request, mailbox));
  const Hypercall call = CRYPTINE_TRY(virtine.run());
  if (call.kind != HypercallKind::kDone)
    return virtine.poison(
        Error(ErrorCode::kGuestFault, "crypto guest answered with " + std::string(hypercall_name(call.kind))));
  auto reply = decode_reply(mailbox, window);
  if (!reply.ok()) return virtine.poison(std::move(reply).error());
  return reply;
}

}  // namespace cryptine
