// The crypto request protocol on the host side: a pure encoder that lays a request out
// in the mailbox and a pure decoder that validates the guest's reply.
//
// These are the one place each untrusted source is checked: the encoder takes the
// program's sizes (anything OpenSSL accepts) and refuses what does not fit, so the
// caller splits it; the decoder copies the guest's reply header out of shared memory
// before checking it, so the guest cannot change it between check and use.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "abi/guest_abi.h"
#include "vmm/result.h"

namespace cryptine {

struct CryptoRequest {
  uint32_t op = 0;
  uint32_t handle = 0;
  std::string_view name;  // at most CRYPTINE_NAME_MAX - 1 bytes, no NUL inside
  std::span<const uint8_t> key, iv, in;
  uint64_t out_capacity = 0;  // bytes of output the guest may write
  int64_t params[4] = {0, 0, 0, 0};
};

// Where the guest may write its output, as the encoder laid it out.
struct OutputWindow {
  uint32_t offset;  // in the payload area
  uint32_t capacity;
};

// The most input bytes one request can carry next to `fixed` bytes of key, IV and
// output: what a caller splitting a long input may send at once.
constexpr uint64_t max_request_input(uint64_t fixed) {
  return fixed >= CRYPTINE_PAYLOAD_SIZE ? 0 : CRYPTINE_PAYLOAD_SIZE - fixed;
}

// The bytes from the mailbox's start that encoding `request` writes (header, then key,
// IV and input in the payload), after checking it: kOutOfRange if key + iv + in + output
// do not fit the payload area, kInvalidArgument for a bad name.
Result<uint64_t> request_extent(const CryptoRequest& request);

// Writes header and payload into `mailbox`, the mailbox's first bytes: at least
// request_extent(request) of them, so a caller can hand over (and mark as written)
// exactly what the request needs rather than the whole mailbox.
Result<OutputWindow> encode_request(const CryptoRequest& request, std::span<uint8_t> mailbox);

struct CryptoReply {
  uint32_t status;
  uint32_t handle;
  std::span<const uint8_t> out;  // inside the mailbox, inside the request's window
  uint64_t err_code;
  int64_t values[4];
};

// kGuestFault if the reply is not well formed: wrong magic, unknown status, output
// outside the window (including through overflowing offset + length).
Result<CryptoReply> decode_reply(std::span<const uint8_t> mailbox, const OutputWindow& window);

}  // namespace cryptine
