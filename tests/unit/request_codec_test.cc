// The request encoder and reply decoder at and around every boundary.
#include "shim/client/request_codec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <string>
#include <vector>

namespace cryptine {
namespace {

using ::testing::HasSubstr;

class Codec : public ::testing::Test {
 protected:
  std::vector<uint8_t> mailbox_ = std::vector<uint8_t>(CRYPTINE_MAILBOX_SIZE, 0);

  cryptine_request request_header() {
    cryptine_request h;
    std::memcpy(&h, mailbox_.data() + CRYPTINE_REQUEST_OFFSET, sizeof(h));
    return h;
  }
  void put_reply(uint32_t status, uint32_t offset, uint32_t length, uint32_t magic = CRYPTINE_REPLY_MAGIC) {
    cryptine_reply h{};
    h.magic = magic;
    h.status = status;
    h.out = {offset, length};
    h.values[0] = 77;
    std::memcpy(mailbox_.data() + CRYPTINE_REPLY_OFFSET, &h, sizeof(h));
  }
};

TEST_F(Codec, EncodeLaysOutKeyIvInputThenOutput) {
  const uint8_t key[3] = {1, 2, 3}, iv[2] = {4, 5}, in[4] = {6, 7, 8, 9};
  CryptoRequest r;
  r.op = CRYPTINE_OP_CIPHER_INIT;
  r.handle = 9;
  r.name = "AES-128-GCM";
  r.key = key;
  r.iv = iv;
  r.in = in;
  r.out_capacity = 32;
  r.params[0] = 1;
  auto w = encode_request(r, mailbox_);
  ASSERT_TRUE(w.ok()) << w.error().message();
  EXPECT_EQ(w->offset, 9u);
  EXPECT_EQ(w->capacity, 32u);
  const cryptine_request h = request_header();
  EXPECT_EQ(h.magic, CRYPTINE_REQUEST_MAGIC);
  EXPECT_EQ(h.op, uint32_t{CRYPTINE_OP_CIPHER_INIT});
  EXPECT_EQ(h.handle, 9u);
  EXPECT_STREQ(h.name, "AES-128-GCM");
  EXPECT_EQ(h.key.offset, 0u);
  EXPECT_EQ(h.iv.offset, 3u);
  EXPECT_EQ(h.in.offset, 5u);
  EXPECT_EQ(h.in.length, 4u);
  EXPECT_EQ(h.params[0], 1);
  const uint8_t want[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  EXPECT_EQ(0, std::memcmp(mailbox_.data() + CRYPTINE_PAYLOAD_OFFSET, want, 9));
}

TEST_F(Codec, EncodeSizeBoundaries) {
  std::vector<uint8_t> big(CRYPTINE_PAYLOAD_SIZE, 0xab);
  struct Case {
    uint64_t in, out;
    bool ok;
  } cases[] = {
      {CRYPTINE_PAYLOAD_SIZE, 0, true},                  // the largest that fits
      {CRYPTINE_PAYLOAD_SIZE - 16, 16, true},            // exact fit with output
      {CRYPTINE_PAYLOAD_SIZE - 16, 17, false},           // one byte more than fits
      {0, CRYPTINE_PAYLOAD_SIZE + 1, false},             // output alone too big
      {1, std::numeric_limits<uint64_t>::max(), false},  // overflowing sum
      {0, 0, true},
  };
  for (const Case& c : cases) {
    CryptoRequest r;
    r.op = CRYPTINE_OP_DIGEST;
    r.name = "SHA256";
    r.in = std::span<const uint8_t>(big.data(), c.in);
    r.out_capacity = c.out;
    auto w = encode_request(r, mailbox_);
    EXPECT_EQ(w.ok(), c.ok) << "in " << c.in << " out " << c.out;
    if (!w.ok()) {
      EXPECT_EQ(w.error().code(), ErrorCode::kOutOfRange);
    }
  }
  EXPECT_EQ(max_request_input(16), CRYPTINE_PAYLOAD_SIZE - 16u);
  EXPECT_EQ(max_request_input(CRYPTINE_PAYLOAD_SIZE + 5), 0u);
}

TEST_F(Codec, EncodeNeedsExactlyTheRequestsExtent) {
  const uint8_t in[100] = {};
  CryptoRequest r;
  r.op = CRYPTINE_OP_DIGEST;
  r.name = "SHA256";
  r.in = in;
  r.out_capacity = 64;  // output is the guest's to write: not part of the extent
  auto extent = request_extent(r);
  ASSERT_TRUE(extent.ok());
  EXPECT_EQ(*extent, uint64_t{CRYPTINE_PAYLOAD_OFFSET} + 100);
  EXPECT_TRUE(encode_request(r, std::span(mailbox_).first(*extent)).ok());
  EXPECT_EQ(encode_request(r, std::span(mailbox_).first(*extent - 1)).error().code(), ErrorCode::kInvalidArgument);
}

TEST_F(Codec, EncodeRejectsBadNames) {
  CryptoRequest r;
  r.op = CRYPTINE_OP_DIGEST;
  std::string longest(CRYPTINE_NAME_MAX - 1, 'x');
  r.name = longest;
  EXPECT_TRUE(encode_request(r, mailbox_).ok());
  std::string too_long(CRYPTINE_NAME_MAX, 'x');
  r.name = too_long;
  EXPECT_EQ(encode_request(r, mailbox_).error().code(), ErrorCode::kInvalidArgument);
  r.name = std::string_view("SHA\0256", 7);
  EXPECT_EQ(encode_request(r, mailbox_).error().code(), ErrorCode::kInvalidArgument);
}

TEST_F(Codec, DecodeOutputWindowBoundaryTable) {
  const OutputWindow w{100, 50};
  struct Case {
    uint32_t offset, length;
    bool ok;
  } cases[] = {
      {100, 50, true},            // exact fit
      {100, 51, false},           // one byte past
      {99, 1, false},             // one byte before the window
      {149, 1, true},             // last byte
      {150, 0, true},             // empty at the end
      {150, 1, false},            // first byte past
      {0xffffffffu, 2, false},    // offset + length overflows 32 bits
      {101, 0xffffffffu, false},  // overflowing length
      {0, 0, true},               // empty output: no place needed
      {0xffffffffu, 0, true},
  };
  for (const Case& c : cases) {
    put_reply(CRYPTINE_STATUS_OK, c.offset, c.length);
    auto r = decode_reply(mailbox_, w);
    EXPECT_EQ(r.ok(), c.ok) << "offset " << c.offset << " length " << c.length;
    if (r.ok()) {
      EXPECT_EQ(r->out.size(), c.length);
      if (c.length != 0) {
        EXPECT_EQ(r->out.data(), mailbox_.data() + CRYPTINE_PAYLOAD_OFFSET + c.offset);
      }
      EXPECT_EQ(r->values[0], 77);
    } else {
      EXPECT_EQ(r.error().code(), ErrorCode::kGuestFault);
    }
  }
}

TEST_F(Codec, DecodeWindowAtTheEndOfThePayload) {
  const OutputWindow w{CRYPTINE_PAYLOAD_SIZE - 8, 8};
  put_reply(CRYPTINE_STATUS_OK, CRYPTINE_PAYLOAD_SIZE - 8, 8);
  EXPECT_TRUE(decode_reply(mailbox_, w).ok());
  // A window the guest cannot widen: even a lying capacity stops at the payload's end.
  const OutputWindow lying{CRYPTINE_PAYLOAD_SIZE - 8, 100};
  put_reply(CRYPTINE_STATUS_OK, CRYPTINE_PAYLOAD_SIZE - 8, 9);
  EXPECT_FALSE(decode_reply(mailbox_, lying).ok());
}

TEST_F(Codec, DecodeRejectsBadHeaders) {
  const OutputWindow w{0, 16};
  put_reply(CRYPTINE_STATUS_OK, 0, 0, 0x12345678);
  EXPECT_THAT(decode_reply(mailbox_, w).error().message(), HasSubstr("magic"));
  put_reply(CRYPTINE_STATUS_COUNT, 0, 0);
  EXPECT_THAT(decode_reply(mailbox_, w).error().message(),
              HasSubstr("unknown status " + std::to_string(CRYPTINE_STATUS_COUNT)));
  put_reply(CRYPTINE_STATUS_CRYPTO_ERROR, 0, 4);
  EXPECT_THAT(decode_reply(mailbox_, w).error().message(), HasSubstr("failed reply with output"));
  put_reply(CRYPTINE_STATUS_CRYPTO_ERROR, 0, 0);
  auto failed = decode_reply(mailbox_, w);
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ(failed->status, uint32_t{CRYPTINE_STATUS_CRYPTO_ERROR});
}

}  // namespace
}  // namespace cryptine
