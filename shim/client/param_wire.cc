#include "shim/client/param_wire.h"

#include <cstring>
#include <string>

#include "abi/guest_abi.h"

namespace cryptine {
namespace {

constexpr size_t padded(size_t n) {
  return (n + 7u) & ~size_t{7};
}

bool by_value(unsigned type) {
  return type == OSSL_PARAM_INTEGER || type == OSSL_PARAM_UNSIGNED_INTEGER || type == OSSL_PARAM_UTF8_STRING ||
         type == OSSL_PARAM_OCTET_STRING;
}

}  // namespace

static_assert(OSSL_PARAM_INTEGER == CRYPTINE_PARAM_INTEGER && OSSL_PARAM_UNSIGNED_INTEGER == CRYPTINE_PARAM_UNSIGNED &&
              OSSL_PARAM_UTF8_STRING == CRYPTINE_PARAM_UTF8 && OSSL_PARAM_OCTET_STRING == CRYPTINE_PARAM_OCTETS);

Result<std::vector<uint8_t>> encode_params(const OSSL_PARAM* params) {
  std::vector<uint8_t> out;
  if (params == nullptr) return out;
  for (size_t i = 0; params[i].key != nullptr; ++i) {
    const OSSL_PARAM& p = params[i];
    if (i == CRYPTINE_PARAM_MAX)
      return Error(ErrorCode::kOutOfRange, "more than " + std::to_string(CRYPTINE_PARAM_MAX) + " params");
    const size_t name_len = std::strlen(p.key);
    if (name_len == 0 || name_len > CRYPTINE_PARAM_NAME_MAX)
      return Error(ErrorCode::kOutOfRange, std::string("param name too long: ") + p.key);
    if (!by_value(p.data_type) || (p.data == nullptr && p.data_size != 0))
      return Error(ErrorCode::kUnsupported, std::string("param '") + p.key + "' cannot be passed by value");
    if (p.data_size > CRYPTINE_PARAM_DATA_MAX)
      return Error(ErrorCode::kOutOfRange, std::string("param '") + p.key + "' is too large");
    cryptine_param h{};
    h.data_len = static_cast<uint32_t>(p.data_size);
    h.name_len = static_cast<uint8_t>(name_len);
    h.type = static_cast<uint8_t>(p.data_type);
    const size_t at = out.size();
    // Zero-filled: the name's padding, and the NUL and padding after the data.
    out.resize(at + sizeof(h) + padded(name_len) + CRYPTINE_PARAM_DATA_ROOM(p.data_size));
    std::memcpy(out.data() + at, &h, sizeof(h));
    std::memcpy(out.data() + at + sizeof(h), p.key, name_len);
    if (p.data_size != 0) std::memcpy(out.data() + at + sizeof(h) + padded(name_len), p.data, p.data_size);
  }
  return out;
}

Status decode_get_reply(std::span<const uint8_t> reply, std::span<const uint8_t> sent, OSSL_PARAM* params) {
  auto bad = [](const std::string& why) { return Error(ErrorCode::kGuestFault, "GET_PARAMS reply: " + why); };
  if (reply.size() != sent.size()) return bad("its length differs from the request's");
  size_t at = 0;
  for (size_t i = 0; at < sent.size(); ++i) {
    // `sent` is ours and well formed; the reply's copy of each header is checked against it.
    cryptine_param mine, theirs;
    std::memcpy(&mine, sent.data() + at, sizeof(mine));
    std::memcpy(&theirs, reply.data() + at, sizeof(theirs));
    const size_t data_at = at + sizeof(mine) + padded(mine.name_len);
    if (theirs.data_len != mine.data_len || theirs.name_len != mine.name_len || theirs.type != mine.type ||
        std::memcmp(reply.data() + at + sizeof(mine), sent.data() + at + sizeof(mine), mine.name_len) != 0)
      return bad("record " + std::to_string(i) + " is not the one asked for");
    OSSL_PARAM& p = params[i];
    // The data comes back even with the return size unmodified: a provider may write a
    // value without setting it (ChaCha20-Poly1305's tag), and else it is what was sent.
    p.return_size = theirs.return_size == CRYPTINE_PARAM_UNMODIFIED ? OSSL_PARAM_UNMODIFIED : theirs.return_size;
    if (p.data != nullptr && p.data_size != 0) std::memcpy(p.data, reply.data() + data_at, p.data_size);
    at = data_at + CRYPTINE_PARAM_DATA_ROOM(mine.data_len);
  }
  return {};
}

}  // namespace cryptine
