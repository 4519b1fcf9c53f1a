// The first virtine: a NASM guest in long mode writes the mailbox and makes EXIT.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "tests/kvm/guest_image.h"
#include "abi/guest_abi.h"
#include "vmm/kvm_system.h"
#include "vmm/virtine.h"

namespace cryptine {
namespace {

using ::testing::HasSubstr;
using testing_support::read_test_guest;

constexpr uint64_t kSmokeValue = 0x5eed0000c0ffee42;
constexpr uint32_t kSmokeStatus = 42;

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

// Runs a smoke guest and checks everything it must have done; the message says what
// was wrong, so the same check shows it notices a wrong guest.
::testing::AssertionResult SmokeRanCorrectly(const char* image_name) {
  auto kvm = KvmSystem::open();
  if (!kvm.ok()) return ::testing::AssertionFailure() << kvm.error().message();
  auto image = read_test_guest(image_name);
  if (image.empty()) return ::testing::AssertionFailure() << "cannot read " << image_name;
  auto virtine = Virtine::boot(*kvm, image, VirtineConfig{});
  if (!virtine.ok()) return ::testing::AssertionFailure() << "boot: " << virtine.error().message();

  auto call = virtine->run();
  if (!call.ok()) return ::testing::AssertionFailure() << "run: " << call.error().message();
  if (call->kind != HypercallKind::kExit)
    return ::testing::AssertionFailure() << "left by " << hypercall_name(call->kind) << ", not EXIT";
  if (call->arg != kSmokeStatus) return ::testing::AssertionFailure() << "exit status " << call->arg;

  uint64_t mailbox[2];
  auto read =
      virtine->memory().read(GuestAddr{CRYPTINE_MAILBOX_ADDR}, {reinterpret_cast<uint8_t*>(mailbox), sizeof(mailbox)});
  if (!read.ok()) return ::testing::AssertionFailure() << read.error().message();
  if (mailbox[0] != kSmokeValue)
    return ::testing::AssertionFailure() << "mailbox value " << hex(mailbox[0]) << ", want " << hex(kSmokeValue);
  if (mailbox[1] != CRYPTINE_BOOT_MAGIC) return ::testing::AssertionFailure() << "boot info magic " << hex(mailbox[1]);
  if (virtine->counters().exits != 1) return ::testing::AssertionFailure() << virtine->counters().exits << " exits";
  return ::testing::AssertionSuccess();
}

TEST(Smoke, GuestWritesMailboxAndExits) {
  EXPECT_TRUE(SmokeRanCorrectly("smoke.elf"));
}

TEST(Smoke, CheckFailsWhenGuestWritesWrongValue) {
  auto result = SmokeRanCorrectly("smoke-wrong-value.elf");
  EXPECT_FALSE(result);
  EXPECT_THAT(result.message(), HasSubstr("mailbox value 0xbad0000c0ffee42"));
}

TEST(Smoke, CheckFailsWhenGuestLeavesByHlt) {
  auto result = SmokeRanCorrectly("smoke-leave-by-hlt.elf");
  EXPECT_FALSE(result);
  EXPECT_THAT(result.message(), HasSubstr("HLT outside the protocol"));
}

TEST(Smoke, FaultedVirtineIsPoisonedAndRefusesToRun) {
  auto kvm = KvmSystem::open();
  ASSERT_TRUE(kvm.ok()) << kvm.error().message();
  auto virtine = Virtine::boot(*kvm, read_test_guest("smoke-leave-by-hlt.elf"), VirtineConfig{});
  ASSERT_TRUE(virtine.ok()) << virtine.error().message();
  auto call = virtine->run();
  ASSERT_FALSE(call.ok());
  EXPECT_EQ(call.error().code(), ErrorCode::kGuestFault);
  EXPECT_EQ(virtine->state(), Virtine::State::kPoisoned);
  EXPECT_FALSE(virtine->run().ok());
}

TEST(Smoke, MalformedImageIsRejectedBeforeAnyVmExists) {
  auto kvm = KvmSystem::open();
  ASSERT_TRUE(kvm.ok()) << kvm.error().message();
  auto image = read_test_guest("smoke.elf");
  ASSERT_GT(image.size(), 64u);
  image.resize(40);
  auto virtine = Virtine::boot(*kvm, image, VirtineConfig{});
  ASSERT_FALSE(virtine.ok());
  EXPECT_EQ(virtine.error().code(), ErrorCode::kInvalidImage);
}

}  // namespace
}  // namespace cryptine
