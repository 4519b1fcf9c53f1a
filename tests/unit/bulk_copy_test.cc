#include "vmm/bulk_copy.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace cryptine {
namespace {

// Every length around the string-move threshold and its word tail, at every alignment of
// source and destination: the bytes arrive, and not one byte beyond them is touched.
TEST(BulkCopy, CopiesExactlyTheBytesAtEveryLengthAndAlignment) {
  constexpr size_t kGuard = 16;
  std::vector<size_t> lengths = {0, 1, 7, 8, 9, 2040, 2047, 16384, 16391};
  for (size_t n = 2048; n < 2048 + 17; ++n) lengths.push_back(n);
  for (size_t n : lengths)
    for (size_t src_at : {0, 1, 3, 8})
      for (size_t dst_at : {0, 1, 5, 8}) {
        std::vector<uint8_t> src(n + src_at), dst(kGuard + dst_at + n + kGuard, 0xEE);
        for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint8_t>(i * 131 + n);
        copy_bulk(dst.data() + kGuard + dst_at, src.data() + src_at, n);
        for (size_t i = 0; i < kGuard + dst_at; ++i) ASSERT_EQ(dst[i], 0xEE) << n << " before " << i;
        for (size_t i = 0; i < n; ++i) ASSERT_EQ(dst[kGuard + dst_at + i], src[src_at + i]) << n << " at " << i;
        for (size_t i = kGuard + dst_at + n; i < dst.size(); ++i) ASSERT_EQ(dst[i], 0xEE) << n << " after " << i;
      }
}

}  // namespace
}  // namespace cryptine
