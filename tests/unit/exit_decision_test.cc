// Exit decisions fed with made-up exits: only the exact hypercall writes are accepted.
#include "vmm/exit_decision.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "abi/guest_abi.h"

namespace cryptine {
namespace {

using ::testing::HasSubstr;

VmExit out32(uint16_t port, uint32_t value) {
  VmExit e;
  e.kind = VmExit::Kind::kIo;
  e.io_out = true;
  e.io_size = 4;
  e.io_count = 1;
  e.io_port = port;
  e.io_value = value;
  return e;
}

void ExpectFault(const VmExit& e, const char* text) {
  auto r = decide_exit(e);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kGuestFault);
  EXPECT_THAT(r.error().message(), HasSubstr(text));
}

TEST(ExitDecision, EachHypercallPortMapsToItsKindAndArgument) {
  const struct {
    uint16_t port;
    HypercallKind kind;
  } table[] = {
      {CRYPTINE_PORT_DONE, HypercallKind::kDone},   {CRYPTINE_PORT_SNAPSHOT, HypercallKind::kSnapshot},
      {CRYPTINE_PORT_EXIT, HypercallKind::kExit},   {CRYPTINE_PORT_LOG, HypercallKind::kLog},
      {CRYPTINE_PORT_ABORT, HypercallKind::kAbort},
  };
  for (const auto& t : table) {
    auto r = decide_exit(out32(t.port, 0xdeadbeef));
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->kind, t.kind);
    EXPECT_EQ(r->arg, 0xdeadbeefu);
  }
}

TEST(ExitDecision, RejectsEverythingElseAtTheIoPorts) {
  ExpectFault(out32(CRYPTINE_PORT_DONE - 1, 0), "unknown port 0xbff");
  ExpectFault(out32(CRYPTINE_PORT_ABORT + 1, 0), "unknown port 0xc05");
  ExpectFault(out32(0x3f8, 0), "unknown port 0x3f8");
  VmExit in = out32(CRYPTINE_PORT_DONE, 0);
  in.io_out = false;
  ExpectFault(in, "read from hypercall port DONE");
  VmExit narrow = out32(CRYPTINE_PORT_EXIT, 0);
  narrow.io_size = 1;
  ExpectFault(narrow, "width 1");
  VmExit rep = out32(CRYPTINE_PORT_LOG, 0);
  rep.io_count = 2;
  ExpectFault(rep, "x2");
}

TEST(ExitDecision, EveryOtherExitIsAFault) {
  VmExit e;
  e.kind = VmExit::Kind::kMmio;
  e.mmio_addr = 0xfee00000;
  e.mmio_write = true;
  ExpectFault(e, "MMIO write to 0xfee00000");
  e = VmExit{};
  e.kind = VmExit::Kind::kHlt;
  ExpectFault(e, "HLT");
  e.kind = VmExit::Kind::kShutdown;
  ExpectFault(e, "triple fault");
  e.kind = VmExit::Kind::kInternalError;
  e.detail = 1;
  ExpectFault(e, "internal error, suberror 1: KVM could not emulate a guest instruction");
  e.detail = 3;
  ExpectFault(e, "internal error, suberror 3");
  e.kind = VmExit::Kind::kFailEntry;
  e.detail = 0x21;
  ExpectFault(e, "entry failed, hardware reason 0x21");
  e.kind = VmExit::Kind::kOther;
  e.kvm_reason = 24;
  ExpectFault(e, "unexpected exit reason 24");
}

}  // namespace
}  // namespace cryptine
