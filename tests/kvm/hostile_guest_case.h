// Shared by the hostile-guest tests: a case (guest image, expected reason), its test
// name, and the check that the process is fine afterwards.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "tests/kvm/guest_image.h"
#include "vmm/kvm_system.h"
#include "vmm/virtine.h"

namespace cryptine::testing_support {

struct HostileCase {
  const char* guest;   // hostile-<case>.elf
  const char* reason;  // what the error message must name
};

// "hostile-<case>.elf" -> "<case>", as a test name.
inline std::string hostile_case_name(const ::testing::TestParamInfo<HostileCase>& info) {
  const std::string file = info.param.guest;
  const std::string prefix = "hostile-", suffix = ".elf";
  return file.substr(prefix.size(), file.size() - prefix.size() - suffix.size());
}

// After a hostile guest, a fresh virtine in the same process boots and runs to its EXIT.
inline void ExpectNextVirtineWorks(const KvmSystem& kvm) {
  auto next = Virtine::boot(kvm, read_test_guest("smoke.elf"), VirtineConfig{});
  ASSERT_TRUE(next.ok()) << next.error().message();
  auto call = next->run();
  ASSERT_TRUE(call.ok()) << call.error().message();
  EXPECT_EQ(call->kind, HypercallKind::kExit);
}

}  // namespace cryptine::testing_support
