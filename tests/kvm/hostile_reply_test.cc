// Guests that answer a real request with a forged reply: the decoder refuses each one in
// the real call path, the call returns no bytes, the virtine is poisoned, and the next
// virtine works.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "shim/client/crypto_call.h"
#include "shim/client/guest_ops.h"
#include "tests/kvm/guest_image.h"
#include "tests/kvm/hostile_guest_case.h"
#include "vmm/kvm_system.h"
#include "vmm/virtine.h"

namespace cryptine {
namespace {

using ::testing::HasSubstr;
using testing_support::ExpectNextVirtineWorks;
using testing_support::hostile_case_name;
using testing_support::read_test_guest;
using Case = testing_support::HostileCase;

class HostileReply : public ::testing::TestWithParam<Case> {};

TEST_P(HostileReply, IsRefusedAndPoisonsTheVirtine) {
  auto kvm = KvmSystem::open();
  ASSERT_TRUE(kvm.ok()) << kvm.error().message();
  auto v = Virtine::boot(*kvm, read_test_guest(GetParam().guest), VirtineConfig{});
  ASSERT_TRUE(v.ok()) << v.error().message();
  const uint8_t data[16] = {1, 2, 3};
  // A digest request: the guest's forged reply comes back through the real call path.
  auto digest = guest::digest(*v, "SHA256", data);
  ASSERT_FALSE(digest.ok()) << "a forged reply was accepted";
  EXPECT_EQ(digest.error().code(), ErrorCode::kGuestFault);
  EXPECT_THAT(digest.error().message(), HasSubstr(GetParam().reason));
  EXPECT_EQ(v->state(), Virtine::State::kPoisoned);
  EXPECT_FALSE(guest::digest(*v, "SHA256", data).ok());  // a poisoned virtine does not run again
  ExpectNextVirtineWorks(*kvm);
}

INSTANTIATE_TEST_SUITE_P(Guests, HostileReply,
                         ::testing::Values(Case{"hostile-reply_bad_magic.elf", "reply without its magic"},
                                           Case{"hostile-reply_bad_status.elf", "unknown status 99"},
                                           Case{"hostile-reply_past_window.elf", "outside the output window"},
                                           Case{"hostile-reply_before_window.elf", "outside the output window"},
                                           Case{"hostile-reply_overflow.elf", "[4294967295, +2) outside"},
                                           Case{"hostile-reply_failed_with_output.elf", "failed reply with output"}),
                         hostile_case_name);

}  // namespace
}  // namespace cryptine
