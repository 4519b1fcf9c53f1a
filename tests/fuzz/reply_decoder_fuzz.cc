// libFuzzer target: the reply decoder on a mailbox whose reply header, and the output
// window the host granted, come from the fuzzer. An accepted reply's output must lie in
// the window and in the mailbox's payload area; a failed one must carry no output.
#include <cstdint>
#include <cstring>
#include <vector>

#include "shim/client/request_codec.h"
#include "tests/fuzz/fuzz_check.h"
#include "vmm/guest_memory.h"

using cryptine::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static std::vector<uint8_t> mailbox(CRYPTINE_MAILBOX_SIZE);
  cryptine::OutputWindow window{0, 0};
  if (size < sizeof(window)) return 0;
  std::memcpy(&window, data, sizeof(window));
  data += sizeof(window);
  size -= sizeof(window);
  // The host only grants windows inside the payload; the fuzzer may not break that.
  if (!cryptine::range_within(window.offset, window.capacity, CRYPTINE_PAYLOAD_SIZE)) return 0;
  std::memset(mailbox.data() + CRYPTINE_REPLY_OFFSET, 0, sizeof(cryptine_reply));
  std::memcpy(mailbox.data() + CRYPTINE_REPLY_OFFSET, data,
              size < sizeof(cryptine_reply) ? size : sizeof(cryptine_reply));

  auto reply = cryptine::decode_reply(mailbox, window);
  if (!reply.ok()) return 0;
  check(reply->status < CRYPTINE_STATUS_COUNT);
  check(reply->status == CRYPTINE_STATUS_OK || reply->out.empty());
  if (!reply->out.empty()) {
    const uint8_t* payload = mailbox.data() + CRYPTINE_PAYLOAD_OFFSET;
    check(reply->out.data() >= payload + window.offset);
    check(reply->out.data() + reply->out.size() <= payload + window.offset + window.capacity);
    check(reply->out.data() + reply->out.size() <= mailbox.data() + mailbox.size());
  }
  return 0;
}
