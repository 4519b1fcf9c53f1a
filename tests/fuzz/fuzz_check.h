// For fuzz targets: a violated postcondition aborts, which libFuzzer reports with the input.
#pragma once

#include <cstdlib>

namespace cryptine::fuzz {

inline void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace cryptine::fuzz
