// Param lists on the wire: the host's encoder and its check of the guest's GET_PARAMS
// reply, and the guest's decoder (plain C, compiled here too), at every boundary.
#include "shim/client/param_wire.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

extern "C" {
#include "crypto-guest/param_wire.h"
}

namespace cryptine {
namespace {

using Bytes = std::vector<uint8_t>;

cryptine_param header_at(const Bytes& wire, size_t at) {
  cryptine_param h;
  std::memcpy(&h, wire.data() + at, sizeof(h));
  return h;
}

TEST(ParamWire, EncodesEachTypeWithNameAndDataPaddedToEightBytes) {
  int i = -5;
  unsigned int u = 7;
  char name[] = "SHA256";
  unsigned char tag[3] = {1, 2, 3};
  OSSL_PARAM params[] = {OSSL_PARAM_construct_int("a", &i), OSSL_PARAM_construct_uint("bb", &u),
                         OSSL_PARAM_construct_utf8_string("digest", name, 0),
                         OSSL_PARAM_construct_octet_string("tag", tag, sizeof(tag)), OSSL_PARAM_construct_end()};
  auto wire = encode_params(params);
  ASSERT_TRUE(wire.ok()) << wire.error().message();
  // 16-byte headers, then the name and the data each rounded up to 8: data 8-aligned.
  ASSERT_EQ(wire->size(), 4 * 32u);
  const cryptine_param a = header_at(*wire, 0);
  EXPECT_EQ(a.type, CRYPTINE_PARAM_INTEGER);
  EXPECT_EQ(a.name_len, 1);
  EXPECT_EQ(a.data_len, sizeof(int));
  EXPECT_EQ(a.return_size, 0u);
  EXPECT_EQ((*wire)[16], 'a');
  int back;
  std::memcpy(&back, wire->data() + 24, sizeof(back));
  EXPECT_EQ(back, -5);
  const cryptine_param d = header_at(*wire, 64);
  EXPECT_EQ(d.type, CRYPTINE_PARAM_UTF8);
  EXPECT_EQ(d.data_len, 6u);  // no terminating NUL: OpenSSL's data_size
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(wire->data() + 64 + 16), 8), std::string("digest\0\0", 8));
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(wire->data() + 64 + 24), 6), "SHA256");
  EXPECT_EQ(header_at(*wire, 96).type, CRYPTINE_PARAM_OCTETS);
}

// TLS 1.2's PRF names its digest "SHA2-256": eight bytes, so padding alone left no NUL
// after it, and OpenSSL in the guest read the name on into whatever followed.
TEST(ParamWire, TextOfAMultipleOfEightBytesArrivesNulTerminated) {
  char digest[] = "SHA2-256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0), OSSL_PARAM_construct_end()};
  Bytes wire = encode_params(params).value();
  ASSERT_EQ(wire.size(), 16u + 8 + 16);
  wire.push_back('X');  // what a later request left in the mailbox
  param_list list;
  ASSERT_EQ(param_list_decode(wire.data(), wire.size() - 1, &list), 1);
  ASSERT_EQ(list.params[0].data_size, 8u);
  EXPECT_STREQ(static_cast<const char*>(list.params[0].data), "SHA2-256");
}

TEST(ParamWire, RefusesWhatCannotCrossByValueAndPastTheLimits) {
  void* p = nullptr;
  OSSL_PARAM ptr[] = {OSSL_PARAM_construct_octet_ptr("mac", &p, 16), OSSL_PARAM_construct_end()};
  EXPECT_EQ(encode_params(ptr).error().code(), ErrorCode::kUnsupported);
  OSSL_PARAM null_data[] = {OSSL_PARAM_construct_octet_string("tag", nullptr, 16), OSSL_PARAM_construct_end()};
  EXPECT_EQ(encode_params(null_data).error().code(), ErrorCode::kUnsupported);
  OSSL_PARAM null_empty[] = {OSSL_PARAM_construct_octet_string("tag", nullptr, 0), OSSL_PARAM_construct_end()};
  EXPECT_TRUE(encode_params(null_empty).ok());

  std::vector<unsigned char> data(CRYPTINE_PARAM_DATA_MAX + 1);
  OSSL_PARAM fits[] = {OSSL_PARAM_construct_octet_string("k", data.data(), CRYPTINE_PARAM_DATA_MAX),
                       OSSL_PARAM_construct_end()};
  EXPECT_TRUE(encode_params(fits).ok());
  OSSL_PARAM too_big[] = {OSSL_PARAM_construct_octet_string("k", data.data(), CRYPTINE_PARAM_DATA_MAX + 1),
                          OSSL_PARAM_construct_end()};
  EXPECT_EQ(encode_params(too_big).error().code(), ErrorCode::kOutOfRange);

  int v = 0;
  const std::string longest(CRYPTINE_PARAM_NAME_MAX, 'n'), too_long(CRYPTINE_PARAM_NAME_MAX + 1, 'n');
  OSSL_PARAM name_fits[] = {OSSL_PARAM_construct_int(longest.c_str(), &v), OSSL_PARAM_construct_end()};
  EXPECT_TRUE(encode_params(name_fits).ok());
  OSSL_PARAM name_too_long[] = {OSSL_PARAM_construct_int(too_long.c_str(), &v), OSSL_PARAM_construct_end()};
  EXPECT_EQ(encode_params(name_too_long).error().code(), ErrorCode::kOutOfRange);

  std::vector<OSSL_PARAM> many(CRYPTINE_PARAM_MAX + 1, OSSL_PARAM_construct_int("x", &v));
  many.push_back(OSSL_PARAM_construct_end());
  EXPECT_EQ(encode_params(many.data()).error().code(), ErrorCode::kOutOfRange);
  many.erase(many.begin());  // exactly the limit
  EXPECT_TRUE(encode_params(many.data()).ok());
}

// The guest's reply to a GET_PARAMS for {size_t "size", utf8 "name"[16]}.
class GetReply : public ::testing::Test {
 protected:
  size_t size_ = 0;
  char name_[16] = "";
  OSSL_PARAM params_[3] = {OSSL_PARAM_construct_size_t("size", &size_),
                           OSSL_PARAM_construct_utf8_string("name", name_, sizeof(name_)), OSSL_PARAM_construct_end()};
  Bytes sent_ = encode_params(params_).value();

  // What a guest that did its job sends back.
  Bytes honest_reply() {
    Bytes reply = sent_;
    const size_t forty_two = 42;
    std::memcpy(reply.data() + 16 + 8, &forty_two, sizeof(forty_two));
    const uint32_t rs_size = sizeof(size_t), rs_name = 6;
    std::memcpy(reply.data() + 4, &rs_size, 4);
    const size_t second = 40;  // 16 + 8 (name) + 16 (size_t, its NUL, padding)
    std::memcpy(reply.data() + second + 4, &rs_name, 4);
    std::memcpy(reply.data() + second + 16 + 8, "SHA256", 7);
    return reply;
  }
};

TEST_F(GetReply, HonestReplyFillsValuesAndReturnSizes) {
  ASSERT_TRUE(decode_get_reply(honest_reply(), sent_, params_).ok());
  EXPECT_EQ(size_, 42u);
  EXPECT_STREQ(name_, "SHA256");
  EXPECT_EQ(params_[0].return_size, sizeof(size_t));
  EXPECT_EQ(params_[1].return_size, 6u);
}

TEST_F(GetReply, UnmodifiedReturnSizesStayUnmodifiedAndTheDataStillComesBack) {
  Bytes reply = honest_reply();
  const uint32_t unmodified = CRYPTINE_PARAM_UNMODIFIED;
  std::memcpy(reply.data() + 40 + 4, &unmodified, 4);
  ASSERT_TRUE(decode_get_reply(reply, sent_, params_).ok());
  EXPECT_EQ(params_[1].return_size, OSSL_PARAM_UNMODIFIED);
  EXPECT_STREQ(name_, "SHA256");  // as ChaCha20-Poly1305 writes its tag: value, no size
}

TEST_F(GetReply, EveryDeviationFromTheRequestIsAGuestFault) {
  struct Case {
    const char* what;
    size_t at;      // byte to change (or new length, for the length cases)
    int delta;      // added to that byte
    bool truncate;  // shorten the reply to `at` bytes instead
    bool extend;    // lengthen it by one byte
  };
  const Case cases[] = {
      {"one byte short", sent_.size() - 1, 0, true, false},
      {"one byte long", 0, 0, false, true},
      {"empty", 0, 0, true, false},
      {"first data_len changed", 0, 1, false, false},
      {"first name_len changed", 8, 1, false, false},
      {"first type changed", 9, 1, false, false},
      {"first name changed", 16, 1, false, false},
      {"second data_len changed", 40, -1, false, false},
      {"second name changed", 40 + 16 + 3, 1, false, false},
  };
  for (const Case& c : cases) {
    Bytes reply = honest_reply();
    if (c.truncate)
      reply.resize(c.at);
    else if (c.extend)
      reply.push_back(0);
    else
      reply[c.at] = static_cast<uint8_t>(reply[c.at] + c.delta);
    Status s = decode_get_reply(reply, sent_, params_);
    ASSERT_FALSE(s.ok()) << c.what;
    EXPECT_EQ(s.error().code(), ErrorCode::kGuestFault) << c.what;
  }
}

// What OpenSSL's setters cannot leave behind on success, written over an honest reply.
TEST_F(GetReply, AValueNoSetterCouldHaveLeftIsAGuestFault) {
  const size_t second = 40, name_data = second + 16 + 8;
  auto refused = [&](Bytes reply, const char* what) {
    const uint8_t before = static_cast<uint8_t>(name_[10]);
    Status s = decode_get_reply(reply, sent_, params_);
    ASSERT_FALSE(s.ok()) << what;
    EXPECT_EQ(s.error().code(), ErrorCode::kGuestFault) << what;
    EXPECT_EQ(static_cast<uint8_t>(name_[10]), before) << what << ": the program's buffer was written";
  };
  Bytes past = honest_reply();
  const uint32_t seventeen = 17;  // the buffer holds 16
  std::memcpy(past.data() + second + 4, &seventeen, 4);
  refused(past, "a return size past its buffer");
  Bytes half = honest_reply();
  const uint32_t four = 4;  // OpenSSL's integers fill their buffer: 8 bytes for a size_t
  std::memcpy(half.data() + 4, &four, 4);
  refused(half, "an integer's return size not its size");
  Bytes scribbled = honest_reply();
  scribbled[name_data + 10] = 0xee;  // after "SHA256" and its NUL, inside the buffer
  refused(scribbled, "a byte changed past the value");
  Bytes no_nul = honest_reply();
  no_nul[name_data + 6] = 'X';  // where OSSL_PARAM_set_utf8_string puts its NUL
  refused(no_nul, "a text's NUL replaced");
}

TEST(ParamWire, ASizeQueryMayReportAnyNeed) {
  OSSL_PARAM query[] = {OSSL_PARAM_construct_octet_string("iv", nullptr, 0), OSSL_PARAM_construct_end()};
  const Bytes sent = encode_params(query).value();
  Bytes reply = sent;
  const uint32_t need = 16;
  std::memcpy(reply.data() + 4, &need, 4);
  ASSERT_TRUE(decode_get_reply(reply, sent, query).ok());
  EXPECT_EQ(query[0].return_size, 16u);  // OpenSSL's "needs this much", for the contract to judge
}

// The guest's decoder, fed what the host's encoder makes and what it must refuse.
TEST(GuestParamDecoder, DecodesTheHostsEncodingInPlace) {
  int i = 3;
  char digest[] = "SHA384";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_int("i", &i), OSSL_PARAM_construct_utf8_string("digest", digest, 0),
                         OSSL_PARAM_construct_end()};
  Bytes wire = encode_params(params).value();
  param_list list;
  ASSERT_EQ(param_list_decode(wire.data(), wire.size(), &list), 1);
  ASSERT_EQ(list.count, 2);
  EXPECT_STREQ(list.params[0].key, "i");
  EXPECT_EQ(*static_cast<int*>(list.params[0].data), 3);
  EXPECT_EQ(std::string(static_cast<char*>(list.params[1].data), list.params[1].data_size), "SHA384");
  EXPECT_EQ(list.params[1].data, wire.data() + 32 + 16 + 8);  // points into the buffer, 8-aligned
  EXPECT_EQ(list.params[2].key, nullptr);                     // end-marked
  EXPECT_EQ(param_list_decode(wire.data(), 0, &list), 1);     // the empty list
  EXPECT_EQ(list.count, 0);
}

TEST(GuestParamDecoder, RefusesEveryMalformedRecord) {
  int v = 1;
  OSSL_PARAM one[] = {OSSL_PARAM_construct_int("abc", &v), OSSL_PARAM_construct_end()};
  const Bytes good = encode_params(one).value();  // 16 + 8 (name "abc") + 8 (int) = 32
  param_list list;
  Bytes w = good;
  EXPECT_EQ(param_list_decode(w.data(), w.size() - 1, &list), 0) << "padding cut short";
  EXPECT_EQ(param_list_decode(w.data(), 15, &list), 0) << "header cut short";
  auto with = [&](size_t offset, uint8_t value) {
    Bytes b = good;
    b[offset] = value;
    return b;
  };
  Bytes b = with(8, 0);
  EXPECT_EQ(param_list_decode(b.data(), b.size(), &list), 0) << "empty name";
  b = with(8, CRYPTINE_PARAM_NAME_MAX + 1);
  EXPECT_EQ(param_list_decode(b.data(), b.size(), &list), 0) << "name too long";
  b = with(9, 3);
  EXPECT_EQ(param_list_decode(b.data(), b.size(), &list), 0) << "unknown type";
  b = with(16, 0);  // found by the param_request fuzzer: it decoded as the key ""
  EXPECT_EQ(param_list_decode(b.data(), b.size(), &list), 0) << "NUL first in the name";
  b = with(17, 0);
  EXPECT_EQ(param_list_decode(b.data(), b.size(), &list), 0) << "NUL inside the name";
  b = with(0, 7);  // data_len 7: 16 + 8 + 8 (7 and a NUL) = 32, an exact fit
  EXPECT_EQ(param_list_decode(b.data(), b.size(), &list), 1) << "exact fit";
  b = with(0, 8);  // 16 + 8 + 16 (8, a NUL, padding) = 40: past the end
  EXPECT_EQ(param_list_decode(b.data(), b.size(), &list), 0) << "one byte past";
  b = with(24 + 4, 'x');  // the byte after the int's 4 data bytes
  EXPECT_EQ(param_list_decode(b.data(), b.size(), &list), 0) << "no NUL after the data";
  Bytes huge = good;
  const uint32_t too_much = CRYPTINE_PARAM_DATA_MAX + 1;
  std::memcpy(huge.data(), &too_much, 4);
  EXPECT_EQ(param_list_decode(huge.data(), huge.size(), &list), 0) << "data too large";
  const uint32_t wraps = 0xfffffff8u;
  std::memcpy(huge.data(), &wraps, 4);
  EXPECT_EQ(param_list_decode(huge.data(), huge.size(), &list), 0) << "data length that would wrap";

  Bytes many;
  for (int n = 0; n < CRYPTINE_PARAM_MAX; ++n) many.insert(many.end(), good.begin(), good.end());
  EXPECT_EQ(param_list_decode(many.data(), many.size(), &list), 1) << "exactly the limit";
  many.insert(many.end(), good.begin(), good.end());
  EXPECT_EQ(param_list_decode(many.data(), many.size(), &list), 0) << "one record too many";
}

}  // namespace
}  // namespace cryptine
