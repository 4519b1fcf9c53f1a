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

// A value with a return size, as only OpenSSL's setters leave one in a buffer (a call
// that succeeded; a failure comes back as an error, with no list): an integer fills its
// buffer exactly, a string or octets fit it, and nothing past the value changed but the
// NUL OSSL_PARAM_set_utf8_string adds where there is room. Else the program would see
// bytes of its buffer rewritten that the value does not account for.
Status check_as_set(size_t record, uint32_t return_size, std::span<const uint8_t> got, std::span<const uint8_t> sent,
                    unsigned type) {
  auto bad = [&](const std::string& why) {
    return Error(ErrorCode::kGuestFault, "GET_PARAMS reply: record " + std::to_string(record) + ", a return size of " +
                                             std::to_string(return_size) + " " + why);
  };
  if (return_size > got.size()) return bad("past its buffer of " + std::to_string(got.size()));
  if (type == OSSL_PARAM_INTEGER || type == OSSL_PARAM_UNSIGNED_INTEGER) {
    if (return_size != got.size()) return bad("for an integer of " + std::to_string(got.size()) + " bytes");
    return {};
  }
  const bool nul = type == OSSL_PARAM_UTF8_STRING && return_size < got.size();
  if (nul && got[return_size] != 0) return bad("and no NUL after the text");
  const size_t untouched = return_size + (nul ? 1 : 0);
  if (std::memcmp(got.data() + untouched, sent.data() + untouched, got.size() - untouched) != 0)
    return bad("and bytes changed after it");
  return {};
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
    if (theirs.return_size != CRYPTINE_PARAM_UNMODIFIED && p.data != nullptr)
      CRYPTINE_TRY_STATUS(check_as_set(i, theirs.return_size, reply.subspan(data_at, mine.data_len),
                                       sent.subspan(data_at, mine.data_len), mine.type));
    // The data comes back even with the return size unmodified: a provider may write a
    // value without setting it (ChaCha20-Poly1305's tag), and else it is what was sent.
    p.return_size = theirs.return_size == CRYPTINE_PARAM_UNMODIFIED ? OSSL_PARAM_UNMODIFIED : theirs.return_size;
    if (p.data != nullptr && p.data_size != 0) std::memcpy(p.data, reply.data() + data_at, p.data_size);
    at = data_at + CRYPTINE_PARAM_DATA_ROOM(mine.data_len);
  }
  return {};
}

}  // namespace cryptine
