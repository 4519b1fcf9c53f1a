// Guest memory closed to the program's code (issue 14): with protection keys, a load from
// a virtine's memory or a snapshot's image faults with SEGV_PKUERR outside a
// GuestMemoryAccess, in every thread; with or without keys, guard pages fence each guest
// mapping; and KVM itself needs the key open during KVM_RUN. The mode is the process's:
// tests/programs/test-guest-memory-fence runs these again with CRYPTINE_PKU=0.
#include "vmm/guest_memory_access.h"

#include <cpuid.h>
#include <gtest/gtest.h>
#include <setjmp.h>
#include <signal.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "abi/guest_abi.h"
#include "tests/kvm/snapshot_fixture.h"
#include "vmm/guest_mapping.h"
#include "vmm/pkru_x86_64.h"
#include "vmm/virtine.h"

namespace cryptine {
namespace {

// ---- a load or store that may fault, and how it ended ----------------------------------

struct Fault {
  int code = 0;  // 0: the access went through; else the SIGSEGV's si_code
  int pkey = -1;
};

thread_local sigjmp_buf t_probe_jump;
thread_local Fault t_probe_fault;

void on_probe_fault(int, siginfo_t* info, void*) {
  t_probe_fault.code = info->si_code;
  t_probe_fault.pkey = info->si_code == SEGV_PKUERR ? static_cast<int>(info->si_pkey) : -1;
  siglongjmp(t_probe_jump, 1);
}

bool cpu_has_ospke() {
  unsigned a, b, c, d;
  return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (c & (1u << 4)) != 0;
}

// The access alone with sigsetjmp, so that nothing else lives across the jump.
__attribute__((noinline)) void touch(const volatile uint8_t* p, bool store) {
  if (sigsetjmp(t_probe_jump, 1) != 0) return;
  const uint8_t byte = *p;
  if (store) *const_cast<volatile uint8_t*>(p) = byte;
}

// One byte read from `p` (or written back, if `store`). The kernel runs the handler with
// its default PKRU and siglongjmp keeps that, so PKRU is put back as it was.
Fault probe(const volatile uint8_t* p, bool store = false) {
  const bool pkru = cpu_has_ospke();
  const uint32_t saved = pkru ? read_pkru() : 0;
  struct sigaction act {
  }, old{};
  act.sa_sigaction = on_probe_fault;
  act.sa_flags = SA_SIGINFO;
  sigemptyset(&act.sa_mask);
  sigaction(SIGSEGV, &act, &old);
  t_probe_fault = Fault{};
  touch(p, store);
  sigaction(SIGSEGV, &old, nullptr);
  if (pkru) write_pkru(saved);
  return t_probe_fault;
}

// ---- the mode this process is in ------------------------------------------------------

bool cpuinfo_has(const std::string& flag) {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("flags", 0) == 0) return (line + " ").find(" " + flag + " ") != std::string::npos;
  return false;
}

bool keys_expected() {
  const char* env = std::getenv("CRYPTINE_PKU");
  return cpuinfo_has("pku") && cpuinfo_has("ospke") && !(env != nullptr && std::strcmp(env, "0") == 0);
}

// What a load from guest memory outside a scope must give in this mode.
void ExpectClosed(const Fault& f, const char* what) {
  if (keys_expected()) {
    EXPECT_EQ(f.code, SEGV_PKUERR) << what;
    EXPECT_EQ(f.pkey, guest_memory_pkey()) << what;
  } else {
    EXPECT_EQ(f.code, 0) << what << ": without keys, guard pages are the only fence";
  }
}

TEST(GuestMemoryKey, UsedExactlyWhereTheCpuHasProtectionKeysAndCryptinePkuIsNotZero) {
  EXPECT_EQ(guest_memory_pkey() >= 0, keys_expected());
  if (guest_memory_pkey() >= 0) {
    EXPECT_GT(guest_memory_pkey(), 0) << "key 0 is every page's default";
    EXPECT_FALSE(GuestMemoryAccess::is_open()) << "a thread starts with guest memory closed";
  }
}

TEST(GuestMemoryKey, ScopesNestAndEndInAnyOrder) {
  auto outer = std::make_unique<GuestMemoryAccess>();
  EXPECT_TRUE(GuestMemoryAccess::is_open());
  auto inner = std::make_unique<GuestMemoryAccess>(*outer);
  outer.reset();
  EXPECT_TRUE(GuestMemoryAccess::is_open()) << "closed while a scope still lives";
  inner.reset();
  EXPECT_EQ(GuestMemoryAccess::is_open(), guest_memory_pkey() < 0);
}

// ---- a virtine and its snapshot -------------------------------------------------------

class GuestMemoryFence : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = testing_support::snapshot_of("null-call.elf");
    ASSERT_NE(s.snapshot, nullptr);
    kvm_ = std::move(s.kvm);
    snapshot_ = std::move(s.snapshot);
    booted_ = std::move(s.booted);
    auto v = Virtine::from_snapshot(*kvm_, snapshot_, VirtineConfig{});
    ASSERT_TRUE(v.ok()) << v.error().message();
    virtine_ = std::make_unique<Virtine>(std::move(v).value());
    auto call = virtine_->run();
    ASSERT_TRUE(call.ok()) << call.error().message();
    const GuestMemoryAccess open;
    memory_ = virtine_->memory().translate(open, GuestAddr{0}, virtine_->memory().size())->data();
    image_ = snapshot_->memory(open).data();
    booted_memory_ = booted_->memory().translate(open, GuestAddr{0}, size())->data();
  }

  std::unique_ptr<KvmSystem> kvm_;
  std::shared_ptr<const Snapshot> snapshot_;
  std::unique_ptr<Virtine> booted_;  // the cold-booted one that took the snapshot
  std::unique_ptr<Virtine> virtine_;
  const uint8_t* memory_ = nullptr;         // where the virtine's memory is mapped (the snapshot's copy)
  const uint8_t* image_ = nullptr;          // where the snapshot's image is mapped
  const uint8_t* booted_memory_ = nullptr;  // the booted virtine's (anonymous) memory
  uint64_t size() const { return virtine_->memory().size(); }
};

TEST_F(GuestMemoryFence, OutsideAScopeTheProgramCannotLoadFromGuestMemory) {
  ExpectClosed(probe(memory_), "virtine memory, first byte");
  ExpectClosed(probe(memory_ + CRYPTINE_MAILBOX_ADDR), "virtine memory, mailbox");
  ExpectClosed(probe(memory_ + size() - 1), "virtine memory, last byte");
  ExpectClosed(probe(image_), "snapshot image, first byte");
  ExpectClosed(probe(image_ + size() - 1), "snapshot image, last byte");
  ExpectClosed(probe(memory_ + CRYPTINE_MAILBOX_ADDR, /*store=*/true), "virtine memory, a store");
  ExpectClosed(probe(booted_memory_ + CRYPTINE_MAILBOX_ADDR), "booted virtine's anonymous memory");
}

TEST_F(GuestMemoryFence, InsideAScopeTheMonitorCan) {
  const GuestMemoryAccess open;
  EXPECT_EQ(probe(memory_).code, 0);
  EXPECT_EQ(probe(memory_ + size() - 1).code, 0);
  EXPECT_EQ(probe(image_ + size() - 1).code, 0);
  EXPECT_EQ(probe(memory_ + CRYPTINE_MAILBOX_ADDR, /*store=*/true).code, 0);
}

TEST_F(GuestMemoryFence, GuardPagesFenceEveryGuestMappingInEitherMode) {
  for (bool open : {false, true}) {
    std::optional<GuestMemoryAccess> scope;
    if (open) scope.emplace();
    EXPECT_EQ(probe(memory_ - 1).code, SEGV_ACCERR) << "open " << open;
    EXPECT_EQ(probe(memory_ - GuestMapping::kGuardSize).code, SEGV_ACCERR) << "open " << open;
    EXPECT_EQ(probe(memory_ + size()).code, SEGV_ACCERR) << "open " << open;
    EXPECT_EQ(probe(memory_ + size() + GuestMapping::kGuardSize - 1).code, SEGV_ACCERR) << "open " << open;
    EXPECT_EQ(probe(image_ - 1).code, SEGV_ACCERR) << "open " << open;
    EXPECT_EQ(probe(image_ + size()).code, SEGV_ACCERR) << "open " << open;
    EXPECT_EQ(probe(booted_memory_ - 1).code, SEGV_ACCERR) << "open " << open;
    EXPECT_EQ(probe(booted_memory_ + size()).code, SEGV_ACCERR) << "open " << open;
  }
}

TEST_F(GuestMemoryFence, EveryMonitorCallLeavesTheKeyClosed) {
  const bool closed_after = guest_memory_pkey() >= 0;
  ASSERT_TRUE(virtine_->reset().ok());
  EXPECT_EQ(GuestMemoryAccess::is_open(), !closed_after) << "after reset()";
  ASSERT_TRUE(virtine_->run().ok());
  EXPECT_EQ(GuestMemoryAccess::is_open(), !closed_after) << "after run()";
  uint8_t byte = 0;
  ASSERT_TRUE(virtine_->memory().read(GuestAddr{CRYPTINE_MAILBOX_ADDR}, {&byte, 1}).ok());
  ASSERT_TRUE(virtine_->memory().write(GuestAddr{CRYPTINE_MAILBOX_ADDR}, {&byte, 1}).ok());
  EXPECT_EQ(GuestMemoryAccess::is_open(), !closed_after) << "after read() and write()";
  auto again = snapshot_->remap();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(GuestMemoryAccess::is_open(), !closed_after) << "after a snapshot's remap()";
  ExpectClosed(probe(memory_ + CRYPTINE_MAILBOX_ADDR), "virtine memory after the calls");
}

TEST_F(GuestMemoryFence, AScopeOpensGuestMemoryToItsOwnThreadOnly) {
  std::promise<void> opened;
  std::promise<Fault> probed;
  // Started before the scope opens: a thread inherits PKRU from its creator.
  std::thread other([&] {
    opened.get_future().wait();
    probed.set_value(probe(memory_ + CRYPTINE_MAILBOX_ADDR));
  });
  const GuestMemoryAccess open;
  opened.set_value();
  const Fault f = probed.get_future().get();
  other.join();
  ExpectClosed(f, "from another thread while this one has it open");
  EXPECT_EQ(probe(memory_ + CRYPTINE_MAILBOX_ADDR).code, 0) << "this thread";
}

// Why Virtine::run() opens the key for KVM_RUN: KVM maps guest pages in (on the guest's
// first touch) with get_user_pages, which checks the calling thread's PKRU as a load
// would. If a kernel ever stops doing so, this fails, and KVM_RUN could run closed.
TEST_F(GuestMemoryFence, KvmRunWithTheKeyClosedFailsWithEfault) {
  auto fresh = Virtine::from_snapshot(*kvm_, snapshot_, VirtineConfig{});
  ASSERT_TRUE(fresh.ok()) << fresh.error().message();
  auto exit = fresh->vcpu().run();  // the vCPU itself, without the monitor's scope
  if (guest_memory_pkey() >= 0) {
    ASSERT_FALSE(exit.ok()) << "KVM_RUN went through with guest memory closed";
    EXPECT_EQ(exit.error().sys_errno(), EFAULT) << exit.error().message();
  } else {
    EXPECT_TRUE(exit.ok()) << exit.error().message();
  }
}

}  // namespace
}  // namespace cryptine
