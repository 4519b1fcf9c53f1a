// Guests that answer a real request with a forged reply: the decoder refuses each one in
// the real call path, the virtine is poisoned, nothing is copied to the host, and the
// next virtine works.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "shim/crypto_call.h"
#include "shim/guest_ops.h"
#include "tests/kvm/guest_image.h"
#include "vmm/kvm_system.h"
#include "vmm/virtine.h"

namespace cryptine {
namespace {

using ::testing::HasSubstr;
using testing_support::read_test_guest;

struct Case {
  const char* guest;
  const char* reason;
};

class HostileReply : public ::testing::TestWithParam<Case> {};

TEST_P(HostileReply, IsRefusedAndPoisonsTheVirtine) {
  auto kvm = KvmSystem::open();
  ASSERT_TRUE(kvm.ok()) << kvm.error().message();
  auto v = Virtine::boot(*kvm, read_test_guest(GetParam().guest), VirtineConfig{});
  ASSERT_TRUE(v.ok()) << v.error().message();
  const std::vector<uint8_t> canary(64, 0xa5);
  std::vector<uint8_t> out = canary;
  const uint8_t data[16] = {1, 2, 3};
  // A digest request: the guest's forged reply comes back through the real call path.
  auto digest = guest::digest(*v, "SHA256", data);
  ASSERT_FALSE(digest.ok()) << "a forged reply was accepted";
  EXPECT_EQ(digest.error().code(), ErrorCode::kGuestFault);
  EXPECT_THAT(digest.error().message(), HasSubstr(GetParam().reason));
  EXPECT_EQ(v->state(), Virtine::State::kPoisoned);
  EXPECT_EQ(out, canary);  // nothing reached the host's buffers
  EXPECT_FALSE(guest::digest(*v, "SHA256", data).ok());  // a poisoned virtine does not run again

  auto next = Virtine::boot(*kvm, read_test_guest("smoke.elf"), VirtineConfig{});
  ASSERT_TRUE(next.ok());
  auto call = next->run();
  ASSERT_TRUE(call.ok()) << call.error().message();
}

INSTANTIATE_TEST_SUITE_P(Guests, HostileReply,
                         ::testing::Values(Case{"hostile-reply_bad_magic.elf", "reply without its magic"},
                                           Case{"hostile-reply_bad_status.elf", "unknown status 99"},
                                           Case{"hostile-reply_past_window.elf", "outside the output window"},
                                           Case{"hostile-reply_before_window.elf", "outside the output window"},
                                           Case{"hostile-reply_overflow.elf", "[4294967295, +2) outside"},
                                           Case{"hostile-reply_failed_with_output.elf", "failed reply with output"}),
                         [](const auto& info) {
                           std::string name = info.param.guest;
                           return name.substr(14, name.size() - 18);  // hostile-reply_<case>.elf
                         });

}  // namespace
}  // namespace cryptine
