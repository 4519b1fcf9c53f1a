#include "shim/client/request_codec.h"

#include <cstring>
#include <string>

#include "vmm/bulk_copy.h"
#include "vmm/guest_memory.h"

namespace cryptine {
namespace {

// Appends `bytes` to the payload at *cursor; the caller checked the total fits.
cryptine_span place(std::span<uint8_t> payload, uint64_t* cursor, std::span<const uint8_t> bytes) {
  cryptine_span span{static_cast<uint32_t>(*cursor), static_cast<uint32_t>(bytes.size())};
  copy_bulk(payload.data() + *cursor, bytes.data(), bytes.size());
  *cursor += bytes.size();
  return span;
}

}  // namespace

Result<uint64_t> request_extent(const CryptoRequest& r) {
  if (r.name.size() >= CRYPTINE_NAME_MAX || r.name.find('\0') != std::string_view::npos)
    return Error(ErrorCode::kInvalidArgument, "algorithm name too long or not a C string");
  // Sum with overflow checks: each size may be anything a size_t holds.
  uint64_t total = 0;
  for (uint64_t part : {uint64_t{r.key.size()}, uint64_t{r.iv.size()}, uint64_t{r.in.size()}, r.out_capacity}) {
    if (!range_within(total, part, CRYPTINE_PAYLOAD_SIZE))
      return Error(ErrorCode::kOutOfRange,
                   "request of more than " + std::to_string(CRYPTINE_PAYLOAD_SIZE) + " payload bytes must be split");
    total += part;
  }
  return uint64_t{CRYPTINE_PAYLOAD_OFFSET} + r.key.size() + r.iv.size() + r.in.size();
}

Result<OutputWindow> encode_request(const CryptoRequest& r, std::span<uint8_t> mailbox) {
  const uint64_t extent = CRYPTINE_TRY(request_extent(r));
  if (mailbox.size() < extent || mailbox.size() > CRYPTINE_MAILBOX_SIZE)
    return Error(ErrorCode::kInvalidArgument, "mailbox span shorter than the request's extent");

  std::span<uint8_t> payload = mailbox.subspan(CRYPTINE_PAYLOAD_OFFSET);
  cryptine_request h{};
  h.magic = CRYPTINE_REQUEST_MAGIC;
  h.op = r.op;
  h.handle = r.handle;
  if (!r.name.empty()) std::memcpy(h.name, r.name.data(), r.name.size());  // data() may be null
  uint64_t cursor = 0;
  h.key = place(payload, &cursor, r.key);
  h.iv = place(payload, &cursor, r.iv);
  h.in = place(payload, &cursor, r.in);
  h.out_offset = static_cast<uint32_t>(cursor);
  h.out_capacity = static_cast<uint32_t>(r.out_capacity);
  std::memcpy(h.params, r.params, sizeof(h.params));
  std::memcpy(mailbox.data() + CRYPTINE_REQUEST_OFFSET, &h, sizeof(h));
  return OutputWindow{h.out_offset, h.out_capacity};
}

Result<CryptoReply> decode_reply(std::span<const uint8_t> mailbox, const OutputWindow& window) {
  if (mailbox.size() != CRYPTINE_MAILBOX_SIZE) return Error(ErrorCode::kInvalidArgument, "mailbox of the wrong size");
  cryptine_reply h;
  std::memcpy(&h, mailbox.data() + CRYPTINE_REPLY_OFFSET, sizeof(h));  // copy, then check
  if (h.magic != CRYPTINE_REPLY_MAGIC) return Error(ErrorCode::kGuestFault, "reply without its magic");
  if (h.status >= CRYPTINE_STATUS_COUNT)
    return Error(ErrorCode::kGuestFault, "reply with unknown status " + std::to_string(h.status));
  // The output must lie inside the window the request granted, itself inside the payload.
  // An empty output occupies nothing, wherever the guest says it is.
  if (h.out.length == 0) h.out.offset = window.offset;
  if (h.out.offset < window.offset || !range_within(h.out.offset - window.offset, h.out.length, window.capacity) ||
      !range_within(h.out.offset, h.out.length, CRYPTINE_PAYLOAD_SIZE))
    return Error(ErrorCode::kGuestFault, "reply output [" + std::to_string(h.out.offset) + ", +" +
                                             std::to_string(h.out.length) + ") outside the output window");
  if (h.status != CRYPTINE_STATUS_OK && h.out.length != 0)
    return Error(ErrorCode::kGuestFault, "failed reply with output bytes");
  CryptoReply reply{
      h.status, h.handle, mailbox.subspan(CRYPTINE_PAYLOAD_OFFSET + h.out.offset, h.out.length), h.err_code, {}};
  std::memcpy(reply.values, h.values, sizeof(reply.values));
  return reply;
}

}  // namespace cryptine
