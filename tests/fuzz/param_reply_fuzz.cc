// libFuzzer target: the host's check of a GET_PARAMS reply (decode_get_reply) on reply
// bytes from the fuzzer, against a param list a program might pass (the first input byte
// picks which of six params are in it). The guest is hostile, so whatever it sends:
// nothing outside each param's data buffer is written (canaries around every buffer);
// an accepted reply stored exactly its own values and return sizes, record for record,
// as OpenSSL's setters could have; a refused one is a kGuestFault.
#include <openssl/params.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "abi/guest_abi.h"
#include "shim/client/param_wire.h"
#include "tests/fuzz/fuzz_check.h"

using cryptine::fuzz::check;

namespace {

constexpr size_t kCanary = 16;
constexpr uint8_t kCanaryByte = 0xa5, kDataByte = 0x3c;
constexpr size_t padded(size_t n) {
  return (n + 7u) & ~size_t{7};
}

// The candidates' data sizes; data lives in one arena, each buffer between two canaries.
constexpr size_t kSizes[] = {sizeof(unsigned int), sizeof(size_t), 16, 32, sizeof(int), 0};
constexpr size_t kCount = sizeof(kSizes) / sizeof(kSizes[0]);

// Buffers 8-aligned as a program's would be; every byte between them is canary.
size_t slot_at(size_t k) {
  size_t at = kCanary;
  for (size_t i = 0; i < k; ++i) at += padded(kSizes[i]) + kCanary;
  return at;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t pick = data[0];
  std::span<const uint8_t> reply(data + 1, size - 1);

  std::vector<uint8_t> arena(slot_at(kCount));
  std::memset(arena.data(), kCanaryByte, arena.size());
  auto buf = [&](size_t k) { return arena.data() + slot_at(k); };
  OSSL_PARAM all[kCount] = {
      OSSL_PARAM_construct_uint("ivlen", reinterpret_cast<unsigned int*>(buf(0))),
      OSSL_PARAM_construct_size_t("keylen", reinterpret_cast<size_t*>(buf(1))),
      OSSL_PARAM_construct_octet_string("tag", buf(2), kSizes[2]),
      OSSL_PARAM_construct_utf8_string("digest", reinterpret_cast<char*>(buf(3)), kSizes[3]),
      OSSL_PARAM_construct_int("padding", reinterpret_cast<int*>(buf(4))),
      // A length query: no buffer at all, which encode_params lets through.
      OSSL_PARAM_construct_octet_string("pub", nullptr, 0),
  };
  std::vector<OSSL_PARAM> params;
  std::vector<size_t> which;
  for (size_t k = 0; k < kCount; ++k) {
    std::memset(buf(k), kDataByte, kSizes[k]);  // what the program had in its buffers
    if (pick & (1u << k)) {
      params.push_back(all[k]);
      which.push_back(k);
    }
  }
  params.push_back(OSSL_PARAM_construct_end());
  auto sent = cryptine::encode_params(params.data());
  check(sent.ok());

  cryptine::Status s = cryptine::decode_get_reply(reply, *sent, params.data());
  // Canaries first: a write outside a buffer is the bug that matters, ok or not.
  for (size_t k = 0, at = 0; k <= kCount; ++k) {
    const size_t end = k < kCount ? slot_at(k) : arena.size();
    for (; at < end; ++at) check(arena[at] == kCanaryByte);
    if (k < kCount) at += kSizes[k];
  }
  if (!s.ok()) {
    check(s.error().code() == cryptine::ErrorCode::kGuestFault);
    return 0;
  }
  // Accepted: the reply is our own list with new values and return sizes. Walk it and
  // compare each record's return size and data with what landed in the program's params.
  check(reply.size() == sent->size());
  size_t at = 0;
  for (size_t i = 0; i < which.size(); ++i) {
    const size_t k = which[i];
    const OSSL_PARAM& p = params[i];
    cryptine_param h;
    std::memcpy(&h, reply.data() + at, sizeof(h));
    check(h.data_len == kSizes[k] && p.data_size == kSizes[k]);
    const uint8_t* value = reply.data() + at + sizeof(h) + padded(h.name_len);
    // The data comes back either way (a provider may write a value without its size: the
    // contract judges that), within the buffer.
    check(kSizes[k] == 0 || std::memcmp(buf(k), value, kSizes[k]) == 0);
    if (h.return_size == CRYPTINE_PARAM_UNMODIFIED) {
      check(p.return_size == OSSL_PARAM_UNMODIFIED);
    } else {
      // The guest's return size, as sent, never read as OSSL_PARAM_UNMODIFIED. Past the
      // buffer only for a size query (no buffer: OpenSSL's "needs this much"); an
      // integer's is its size; past a value (and a text's NUL) the buffer is as it was.
      check(p.return_size == h.return_size && p.return_size != OSSL_PARAM_UNMODIFIED);
      if (p.data != nullptr) {
        check(p.return_size <= kSizes[k]);
        if (p.data_type == OSSL_PARAM_INTEGER || p.data_type == OSSL_PARAM_UNSIGNED_INTEGER)
          check(p.return_size == kSizes[k]);
        const size_t kept = p.return_size + (p.data_type == OSSL_PARAM_UTF8_STRING && p.return_size < kSizes[k]);
        for (size_t j = kept; j < kSizes[k]; ++j) check(buf(k)[j] == kDataByte);
      }
    }
    at += sizeof(h) + padded(h.name_len) + CRYPTINE_PARAM_DATA_ROOM(h.data_len);
  }
  check(at == reply.size());
  check(params[which.size()].key == nullptr);  // the end marker was not touched
  return 0;
}
