// The legacy API's slot table (shim/legacy/slot_table.h): a twin is found only through the
// marker of the struct it was made for, at its address and generation; a full table evicts
// the least recently used twin.
#include <gtest/gtest.h>

#include "shim/legacy/slot_table.h"

namespace cryptine::legacy {
namespace {

struct Key {
  unsigned char bytes[64];
};

constexpr uint64_t kMagic = 0x1122334455667788ULL;

Marker keep(SlotTable<int>& t, Key& k, int value, std::optional<int>* evicted) {
  const Marker m = t.put(&k, value, evicted);
  write_marker(k.bytes, sizeof(k.bytes), m);
  return m;
}

TEST(LegacySlotTable, FindsTheTwinThroughTheStructsMarker) {
  SlotTable<int> t(kMagic, 4);
  Key k{};
  std::optional<int> evicted;
  keep(t, k, 7, &evicted);
  EXPECT_FALSE(evicted);
  EXPECT_TRUE(t.marked(&k));
  EXPECT_EQ(t.find(&k), 7);
  for (size_t i = sizeof(Marker); i < sizeof(k.bytes); ++i) EXPECT_EQ(k.bytes[i], 0) << i;
}

TEST(LegacySlotTable, AByteCopyIsMarkedButHasNoTwin) {
  SlotTable<int> t(kMagic, 4);
  Key k{}, copy{};
  std::optional<int> evicted;
  keep(t, k, 7, &evicted);
  copy = k;
  EXPECT_TRUE(t.marked(&copy));
  EXPECT_FALSE(t.find(&copy));
  EXPECT_FALSE(t.take(&copy));
  EXPECT_EQ(t.find(&k), 7);
}

TEST(LegacySlotTable, ATakenTwinLeavesAStaleMarker) {
  SlotTable<int> t(kMagic, 1);
  Key a{};
  std::optional<int> evicted;
  keep(t, a, 1, &evicted);
  const Key old = a;
  EXPECT_EQ(t.take(&a), 1);
  EXPECT_FALSE(t.find(&a));
  keep(t, a, 2, &evicted);  // the same slot, a new generation
  EXPECT_FALSE(evicted);
  EXPECT_NE(read_marker(a.bytes).generation, read_marker(old.bytes).generation);
  EXPECT_EQ(t.find(&a), 2);
}

TEST(LegacySlotTable, AFullTableEvictsTheLeastRecentlyUsed) {
  SlotTable<int> t(kMagic, 3);
  Key k[4] = {};
  std::optional<int> evicted;
  for (int i = 0; i < 3; ++i) keep(t, k[i], i, &evicted);
  EXPECT_EQ(t.find(&k[0]), 0);  // 1 is now the least recently used
  EXPECT_EQ(t.find(&k[2]), 2);
  keep(t, k[3], 3, &evicted);
  EXPECT_EQ(evicted, 1);
  EXPECT_FALSE(t.find(&k[1]));
  EXPECT_TRUE(t.marked(&k[1]));  // its calls fail, never run natively
  EXPECT_EQ(t.find(&k[0]), 0);
  EXPECT_EQ(t.find(&k[3]), 3);
}

TEST(LegacySlotTable, ADeadMarkerNamesNoSlot) {
  SlotTable<int> t(kMagic, 2);
  Key k{};
  write_marker(k.bytes, sizeof(k.bytes), t.dead());
  EXPECT_TRUE(t.marked(&k));
  EXPECT_FALSE(t.find(&k));
  Key other{};
  EXPECT_FALSE(t.marked(&other));  // OpenSSL's own struct: not ours
}

}  // namespace
}  // namespace cryptine::legacy
