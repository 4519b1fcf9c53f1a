// libFuzzer target: the request encoder's input validation. The fuzzer picks the sizes
// a program could pass (key, IV, input, output capacity: any 64-bit value) and the
// algorithm name; whatever is accepted must lay out disjoint spans inside the payload,
// and whatever does not fit must be refused, never truncated.
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "shim/client/request_codec.h"
#include "tests/fuzz/fuzz_check.h"
#include "vmm/guest_memory.h"

using cryptine::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static std::vector<uint8_t> mailbox(CRYPTINE_MAILBOX_SIZE);
  static std::vector<uint8_t> source(CRYPTINE_PAYLOAD_SIZE + 4096, 0x5a);
  uint64_t sizes[4];
  if (size < sizeof(sizes)) return 0;
  std::memcpy(sizes, data, sizeof(sizes));
  // Spans must point at real memory; their sizes still reach past what fits.
  for (int i = 0; i < 3; ++i) sizes[i] %= source.size() + 1;
  cryptine::CryptoRequest r;
  r.op = CRYPTINE_OP_DIGEST;
  r.name = std::string_view(reinterpret_cast<const char*>(data + sizeof(sizes)), size - sizeof(sizes));
  r.key = std::span<const uint8_t>(source.data(), sizes[0]);
  r.iv = std::span<const uint8_t>(source.data(), sizes[1]);
  r.in = std::span<const uint8_t>(source.data(), sizes[2]);
  r.out_capacity = sizes[3];

  auto window = cryptine::encode_request(r, mailbox);
  const unsigned __int128 total = static_cast<unsigned __int128>(sizes[0]) + sizes[1] + sizes[2] + sizes[3];
  const bool name_ok = r.name.size() < CRYPTINE_NAME_MAX && r.name.find('\0') == std::string_view::npos;
  check(window.ok() == (name_ok && total <= CRYPTINE_PAYLOAD_SIZE));
  if (!window.ok()) return 0;
  cryptine_request h;
  std::memcpy(&h, mailbox.data() + CRYPTINE_REQUEST_OFFSET, sizeof(h));
  check(h.magic == CRYPTINE_REQUEST_MAGIC && h.key.length == sizes[0] && h.iv.length == sizes[1] &&
        h.in.length == sizes[2] && h.out_capacity == sizes[3]);
  check(h.key.offset + h.key.length <= h.iv.offset && h.iv.offset + h.iv.length <= h.in.offset &&
        h.in.offset + h.in.length <= h.out_offset);
  check(cryptine::range_within(h.out_offset, h.out_capacity, CRYPTINE_PAYLOAD_SIZE));
  check(window->offset == h.out_offset && window->capacity == h.out_capacity);
  check(std::memchr(h.name, '\0', sizeof(h.name)) != nullptr);
  return 0;
}
