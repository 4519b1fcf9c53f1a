// Reads a test guest image built into CRYPTINE_TEST_GUEST_DIR.
#pragma once

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace cryptine::testing_support {

inline std::vector<uint8_t> read_test_guest(const std::string& name) {
  std::ifstream in(std::string(CRYPTINE_TEST_GUEST_DIR) + "/" + name, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace cryptine::testing_support
