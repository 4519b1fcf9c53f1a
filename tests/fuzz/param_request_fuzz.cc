// libFuzzer target: the guest's decoder of the param lists the host sends
// (param_list_decode, plain C, built as C) on arbitrary bytes in an 8-aligned heap buffer
// of exactly that size, so ASan sees any read past it. An accepted list must be what the
// provider may hand to OpenSSL: at most CRYPTINE_PARAM_MAX params, end-marked, each with
// a known type, a NUL-terminated name of 1..CRYPTINE_PARAM_NAME_MAX characters and its
// data inside the buffer, 8-aligned, in order and not overlapping the next record.
// Storing return sizes afterwards must write each record's return_size field and nothing else.
#include <cstdint>
#include <cstring>
#include <memory>

extern "C" {
#include "crypto-guest/param_wire.h"
}
#include "tests/fuzz/fuzz_check.h"

using cryptine::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // new[] is at least 16-aligned: the 8-alignment the host's mailbox gives the list.
  std::unique_ptr<uint8_t[]> buf(new uint8_t[size]);
  if (size != 0) std::memcpy(buf.get(), data, size);
  check(reinterpret_cast<uintptr_t>(buf.get()) % 8 == 0);
  const uint8_t* const begin = buf.get();
  const uint8_t* const end = begin + size;

  param_list list;
  if (!param_list_decode(buf.get(), size, &list)) return 0;
  check(list.count >= 0 && list.count <= CRYPTINE_PARAM_MAX);
  check((list.count == 0) == (size == 0));
  const OSSL_PARAM& last = list.params[list.count];
  check(last.key == nullptr && last.data == nullptr && last.data_size == 0 && last.data_type == 0);
  for (int i = 0; i < list.count; ++i) {
    const OSSL_PARAM& p = list.params[i];
    check(p.key == list.names[i]);
    const size_t name_len = strnlen(p.key, CRYPTINE_PARAM_NAME_MAX + 1);
    check(name_len >= 1 && name_len <= CRYPTINE_PARAM_NAME_MAX);
    check(p.data_type == CRYPTINE_PARAM_INTEGER || p.data_type == CRYPTINE_PARAM_UNSIGNED ||
          p.data_type == CRYPTINE_PARAM_UTF8 || p.data_type == CRYPTINE_PARAM_OCTETS);
    check(p.data_size <= CRYPTINE_PARAM_DATA_MAX);
    check(p.return_size == OSSL_PARAM_UNMODIFIED);
    const uint8_t* d = static_cast<const uint8_t*>(p.data);
    const uint8_t* header = begin + list.header_at[i];
    // Records in order, headers inside the buffer, data after its own header.
    check(list.header_at[i] <= size && end - header >= static_cast<ptrdiff_t>(sizeof(cryptine_param)));
    check(i == 0 ? list.header_at[0] == 0 : list.header_at[i] > list.header_at[i - 1]);
    check(d >= header + sizeof(cryptine_param) && d <= end && static_cast<size_t>(end - d) >= p.data_size);
    check(reinterpret_cast<uintptr_t>(d) % 8 == 0);  // OpenSSL reads integers in place
    if (i + 1 < list.count) check(d + p.data_size <= begin + list.header_at[i + 1]);
  }

  // As after a get_params: some return sizes set (up to data_size), some left unset.
  std::unique_ptr<uint8_t[]> before(new uint8_t[size]);
  if (size != 0) std::memcpy(before.get(), begin, size);
  for (int i = 0; i < list.count; ++i) {
    OSSL_PARAM& p = list.params[i];
    const uint8_t seed = data[list.header_at[i]];  // the record's data_len byte: varied enough
    p.return_size = seed % 3 == 0 ? OSSL_PARAM_UNMODIFIED : p.data_size - (p.data_size != 0 ? seed % p.data_size : 0);
  }
  param_list_store_sizes(buf.get(), &list);
  for (int i = 0; i < list.count; ++i) {
    const size_t field = list.header_at[i] + offsetof(cryptine_param, return_size);
    uint32_t stored;
    std::memcpy(&stored, begin + field, sizeof(stored));
    const size_t rs = list.params[i].return_size;
    check(stored == (rs == OSSL_PARAM_UNMODIFIED ? CRYPTINE_PARAM_UNMODIFIED : rs));
    std::memcpy(before.get() + field, &stored, sizeof(stored));  // the only bytes allowed to change
  }
  check(size == 0 || std::memcmp(before.get(), begin, size) == 0);
  return 0;
}
