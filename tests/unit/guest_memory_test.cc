// The one door into guest memory: translate() at and around its boundaries.
#include "vmm/guest_memory.h"

#include <gtest/gtest.h>

#include <limits>
#include <vector>

namespace cryptine {
namespace {

constexpr uint64_t kSize = 16 * 4096;
constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

TEST(GuestMemory, RejectsSizesThatAreNotPageMultiples) {
  EXPECT_EQ(GuestMemory::create(0).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(GuestMemory::create(4097).error().code(), ErrorCode::kInvalidArgument);
}

TEST(GuestMemory, TranslateBoundaryTable) {
  auto memory = GuestMemory::create(kSize);
  ASSERT_TRUE(memory.ok());
  struct Case {
    uint64_t addr, len;
    bool ok;
  } cases[] = {
      {0, kSize, true},       // exact fit
      {0, kSize + 1, false},  // one byte past
      {1, kSize - 1, true},   // exact fit from an offset
      {1, kSize, false},      // one byte past from an offset
      {kSize - 1, 1, true},   // last byte
      {kSize, 0, true},       // empty range at the end
      {kSize, 1, false},      // first byte past the end
      {kSize + 1, 0, false},  // empty range past the end
      {kMax, 2, false},       // addr + len overflows
      {2, kMax - 1, false},   // addr + len overflows to exactly 0
      {1, kMax, false},       // addr + len overflows
  };
  for (const Case& c : cases) {
    auto r = memory->translate(GuestMemoryAccess(), GuestAddr{c.addr}, c.len);
    EXPECT_EQ(r.ok(), c.ok) << "addr " << c.addr << " len " << c.len;
    if (r.ok()) {
      EXPECT_EQ(r->size(), c.len);
    } else {
      EXPECT_EQ(r.error().code(), ErrorCode::kOutOfRange);
    }
  }
}

TEST(GuestMemory, WriteReadRoundTripAndZeroFill) {
  auto memory = GuestMemory::create(kSize);
  ASSERT_TRUE(memory.ok());
  const uint8_t in[4] = {1, 2, 3, 4};
  ASSERT_TRUE(memory->write(GuestAddr{kSize - 4}, in).ok());
  uint8_t out[6] = {};
  ASSERT_TRUE(memory->read(GuestAddr{kSize - 6}, out).ok());
  const uint8_t want[6] = {0, 0, 1, 2, 3, 4};
  EXPECT_EQ(0, std::memcmp(out, want, sizeof(want)));
  EXPECT_FALSE(memory->write(GuestAddr{kSize - 3}, in).ok());
}

TEST(GuestMemory, RestorePagesCopiesExactlyTheMarkedPagesAndClearsTheirBits) {
  auto memory = GuestMemory::create(kSize);
  ASSERT_TRUE(memory.ok());
  ASSERT_TRUE(memory->fill(GuestAddr{0}, 0xaa, kSize).ok());
  std::vector<uint8_t> clean(kSize, 0x55);
  std::vector<uint64_t> bitmap(1, (uint64_t{1} << 1) | (uint64_t{1} << 15));
  auto copied = memory->restore_pages(bitmap, clean);
  ASSERT_TRUE(copied.ok()) << copied.error().message();
  EXPECT_EQ(*copied, 2u);
  EXPECT_EQ(bitmap[0], 0u);
  for (uint64_t page = 0; page < kSize / 4096; ++page) {
    uint8_t first = 0, last = 0;
    ASSERT_TRUE(memory->read(GuestAddr{page * 4096}, {&first, 1}).ok());
    ASSERT_TRUE(memory->read(GuestAddr{page * 4096 + 4095}, {&last, 1}).ok());
    const uint8_t want = (page == 1 || page == 15) ? 0x55 : 0xaa;
    EXPECT_EQ(first, want) << "page " << page;
    EXPECT_EQ(last, want) << "page " << page;
  }
}

TEST(GuestMemory, RestorePagesRefusesAnImageOfAnotherSize) {
  auto memory = GuestMemory::create(kSize);
  ASSERT_TRUE(memory.ok());
  std::vector<uint8_t> clean(kSize - 4096, 0);
  std::vector<uint64_t> bitmap(1, 1);
  EXPECT_EQ(memory->restore_pages(bitmap, clean).error().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace cryptine
