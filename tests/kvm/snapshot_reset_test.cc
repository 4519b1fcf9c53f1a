// Snapshot and reset: after a guest dirtied memory and every kind of register, a reset
// must leave memory equal to the snapshot byte for byte and the vCPU state as recorded.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>

#include "abi/guest_abi.h"
#include "tests/kvm/snapshot_fixture.h"
#include "vmm/counters.h"
#include "vmm/kvm_system.h"
#include "vmm/vcpu_state_x86_64.h"
#include "vmm/virtine.h"

namespace cryptine {
namespace {

using testing_support::read_test_guest;

class SnapshotReset : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = testing_support::snapshot_of("dirty.elf", testing_support::msr_writes_allowed());
    ASSERT_NE(s.snapshot, nullptr);
    kvm_ = std::move(s.kvm);
    virtine_ = std::move(s.booted);
    snapshot_ = std::move(s.snapshot);
  }

  // Pages whose bytes differ from the snapshot.
  uint64_t pages_differing() {
    const GuestMemoryAccess open;
    auto whole = virtine_->memory().translate(open, GuestAddr{0}, virtine_->memory().size());
    EXPECT_TRUE(whole.ok());
    if (!whole.ok()) return ~uint64_t{0};
    const uint8_t* now = whole->data();
    const uint8_t* clean = snapshot_->memory(open).data();
    uint64_t n = 0;
    for (uint64_t off = 0; off < snapshot_->mem_size(); off += GuestMemory::kPageSize)
      if (std::memcmp(now + off, clean + off, GuestMemory::kPageSize) != 0) ++n;
    return n;
  }

  VcpuState state_now() {
    std::vector<uint32_t> msrs;
    for (const kvm_msr_entry& e : snapshot_->vcpu().msrs.entries) msrs.push_back(e.index);
    auto s = capture_vcpu_state(virtine_->vcpu(), msrs);
    EXPECT_TRUE(s.ok()) << s.error().message();
    return s.ok() ? *s : VcpuState{};
  }

  void RunOneDirtyingRound() {
    auto call = virtine_->run();
    ASSERT_TRUE(call.ok()) << call.error().message();
    ASSERT_EQ(call->kind, HypercallKind::kDone);
  }

  std::unique_ptr<KvmSystem> kvm_;
  std::unique_ptr<Virtine> virtine_;
  std::shared_ptr<const Snapshot> snapshot_;
};

// Field by field, so a failure names what the reset missed.
void ExpectSameState(const VcpuState& want, const VcpuState& got) {
  EXPECT_EQ(0, std::memcmp(&want.regs, &got.regs, sizeof(want.regs))) << "general registers";
  EXPECT_EQ(want.regs.rip, got.regs.rip);
  EXPECT_EQ(want.regs.rflags, got.regs.rflags);
  EXPECT_EQ(want.regs.r15, got.regs.r15);
  EXPECT_EQ(want.sregs.cr0, got.sregs.cr0);
  EXPECT_EQ(want.sregs.cr3, got.sregs.cr3);
  EXPECT_EQ(want.sregs.cr4, got.sregs.cr4);
  EXPECT_EQ(want.sregs.efer, got.sregs.efer);
  EXPECT_EQ(want.sregs.idt.base, got.sregs.idt.base);
  EXPECT_EQ(want.sregs.idt.limit, got.sregs.idt.limit);
  EXPECT_EQ(want.sregs.fs.base, got.sregs.fs.base);
  EXPECT_EQ(want.sregs.gs.base, got.sregs.gs.base);
  EXPECT_EQ(want.xcrs.xcrs[0].value, got.xcrs.xcrs[0].value) << "XCR0";
  EXPECT_EQ(want.debugregs.db[0], got.debugregs.db[0]);
  EXPECT_EQ(want.debugregs.dr7, got.debugregs.dr7);
  // x87/SSE legacy area (FCW..XMM15) plus the XSAVE header and the AVX upper halves.
  EXPECT_EQ(0, std::memcmp(want.xsave.region, got.xsave.region, 576 + 256)) << "x87/SSE/AVX state";
  EXPECT_EQ(want.msrs.tsc_offset, got.msrs.tsc_offset) << "TSC offset";
  ASSERT_EQ(want.msrs.entries.size(), got.msrs.entries.size());
  for (size_t i = 0; i < want.msrs.entries.size(); ++i)
    EXPECT_EQ(want.msrs.entries[i].data, got.msrs.entries[i].data) << "MSR " << std::hex << want.msrs.entries[i].index;
}

TEST_F(SnapshotReset, GuestChangesAreVisibleBeforeTheReset) {
  const VcpuState before = snapshot_->vcpu();
  RunOneDirtyingRound();
  // The test must be able to fail: the guest really changed memory and registers.
  EXPECT_GE(pages_differing(), 7u);
  VcpuState after = state_now();
  EXPECT_NE(after.regs.r15, before.regs.r15);
  EXPECT_NE(after.sregs.cr4, before.sregs.cr4);
  EXPECT_NE(after.debugregs.dr7, before.debugregs.dr7);
  EXPECT_NE(after.sregs.idt.base, before.sregs.idt.base);
  EXPECT_NE(after.sregs.fs.base, before.sregs.fs.base);
  EXPECT_NE(0, std::memcmp(before.xsave.region, after.xsave.region, 576 + 256));
}

// Five rounds: from the third on, the pages written every round are hot (left writable and
// restored at every reset, vmm/dirty_log.h), and must come back all the same.
TEST_F(SnapshotReset, ResetRestoresMemoryByteForByteAndEveryRegister) {
  for (int round = 0; round < 5; ++round) {
    RunOneDirtyingRound();
    const uint64_t differing = pages_differing();
    ASSERT_TRUE(virtine_->reset().ok());
    // Every changed page was copied back, and little else: the extras are pages written
    // with unchanged bytes: the four page-table pages, which the harness's emulated CPU
    // probes for writing as it walks them (page_table_bits_test.cc), and from round 1 on
    // the boot info the test put back below.
    EXPECT_GE(virtine_->counters().last_reset_pages, differing) << "round " << round;
    EXPECT_LE(virtine_->counters().last_reset_pages, differing + 5) << "round " << round;
    // The boot info carries fresh entropy after every reset; all else is the snapshot.
    cryptine_boot_info info;
    ASSERT_TRUE(virtine_->memory()
                    .read(GuestAddr{CRYPTINE_BOOTINFO_ADDR}, {reinterpret_cast<uint8_t*>(&info), sizeof(info)})
                    .ok());
    cryptine_boot_info snap_info;
    {
      const GuestMemoryAccess open;
      std::memcpy(&snap_info, snapshot_->memory(open).data() + CRYPTINE_BOOTINFO_ADDR, sizeof(snap_info));
    }
    EXPECT_NE(info.entropy_seq, snap_info.entropy_seq);
    EXPECT_NE(0, std::memcmp(info.entropy, snap_info.entropy, sizeof(info.entropy)));
    ASSERT_TRUE(
        virtine_->memory()
            .write(GuestAddr{CRYPTINE_BOOTINFO_ADDR}, {reinterpret_cast<const uint8_t*>(&snap_info), sizeof(snap_info)})
            .ok());
    EXPECT_EQ(pages_differing(), 0u) << "round " << round;
    ExpectSameState(snapshot_->vcpu(), state_now());
  }
}

TEST_F(SnapshotReset, VirtineFromSnapshotResumesAfterTheSnapshotCall) {
  auto second = Virtine::from_snapshot(*kvm_, snapshot_, testing_support::msr_writes_allowed());
  ASSERT_TRUE(second.ok()) << second.error().message();
  uint32_t mailbox = 0;
  ASSERT_TRUE(second->memory().read(GuestAddr{CRYPTINE_MAILBOX_ADDR}, {reinterpret_cast<uint8_t*>(&mailbox), 4}).ok());
  EXPECT_EQ(mailbox, 0x534e4150u);  // written before the snapshot
  auto call = second->run();
  ASSERT_TRUE(call.ok()) << call.error().message();
  EXPECT_EQ(call->kind, HypercallKind::kDone);
  EXPECT_EQ(second->counters().exits, 1u);
  uint64_t scratch = 0;
  ASSERT_TRUE(second->memory().read(GuestAddr{0x800000}, {reinterpret_cast<uint8_t*>(&scratch), 8}).ok());
  EXPECT_EQ(scratch, 0xdeadbeefcafef00du);
  // Its writes are private: the snapshot and the first virtine do not see them.
  const GuestMemoryAccess open;
  EXPECT_EQ(0, snapshot_->memory(open)[0x800000]);
  EXPECT_EQ(pages_differing(), 0u);
}

TEST_F(SnapshotReset, TwoVirtinesFromOneSnapshotGetDifferentEntropy) {
  auto a = Virtine::from_snapshot(*kvm_, snapshot_, VirtineConfig{});
  auto b = Virtine::from_snapshot(*kvm_, snapshot_, VirtineConfig{});
  ASSERT_TRUE(a.ok() && b.ok());
  cryptine_boot_info ia, ib;
  ASSERT_TRUE(a->memory().read(GuestAddr{CRYPTINE_BOOTINFO_ADDR}, {reinterpret_cast<uint8_t*>(&ia), sizeof(ia)}).ok());
  ASSERT_TRUE(b->memory().read(GuestAddr{CRYPTINE_BOOTINFO_ADDR}, {reinterpret_cast<uint8_t*>(&ib), sizeof(ib)}).ok());
  EXPECT_EQ(ia.magic, CRYPTINE_BOOT_MAGIC);
  EXPECT_NE(ia.entropy_seq, ib.entropy_seq);
  EXPECT_NE(0, std::memcmp(ia.entropy, ib.entropy, sizeof(ia.entropy)));
}

TEST_F(SnapshotReset, ResetNeedsNoVmCreationAndNoMapping) {
  RunOneDirtyingRound();
  const auto before = vmm_counters().read();
  ASSERT_TRUE(virtine_->reset().ok());
  RunOneDirtyingRound();
  const auto after = vmm_counters().read();
  EXPECT_EQ(after.creations, before.creations);
  EXPECT_EQ(after.mappings, before.mappings);
  EXPECT_EQ(after.resets, before.resets + 1);
  EXPECT_EQ(after.exits, before.exits + 1);
}

TEST_F(SnapshotReset, PoisonedVirtineRefusesReset) {
  auto spin_kvm = KvmSystem::open();
  ASSERT_TRUE(spin_kvm.ok());
  auto v = Virtine::boot(*spin_kvm, read_test_guest("smoke-leave-by-hlt.elf"), VirtineConfig{});
  ASSERT_TRUE(v.ok());
  ASSERT_FALSE(v->run().ok());
  EXPECT_FALSE(v->reset().ok());
}

// The boot info is written whole at every reset, so its page is not first copied back
// from the snapshot: a write elsewhere on that page is what makes a reset copy it.
TEST(ResetOfTheBootInfo, ItsPageIsCopiedBackOnlyWhenMoreOfItWasWritten) {
  auto s = testing_support::snapshot_of("null-call.elf");
  ASSERT_TRUE(s.booted);
  Virtine& v = *s.booted;
  auto run_and_reset = [&v]() -> uint64_t {
    auto call = v.run();
    EXPECT_TRUE(call.ok() && call->kind == HypercallKind::kDone);
    EXPECT_TRUE(v.reset().ok());
    return v.counters().last_reset_pages;
  };
  run_and_reset();
  run_and_reset();
  const uint64_t steady = run_and_reset();  // the mailbox, and the hot page tables in the harness
  ASSERT_EQ(run_and_reset(), steady);

  const GuestAddr past_the_info{CRYPTINE_BOOTINFO_ADDR + sizeof(cryptine_boot_info)};
  const uint8_t mark = 0xa5;
  ASSERT_TRUE(v.memory().write(past_the_info, {&mark, 1}).ok());
  EXPECT_EQ(run_and_reset(), steady + 1);
  uint8_t now = 0;
  ASSERT_TRUE(v.memory().read(past_the_info, {&now, 1}).ok());
  {
    const GuestMemoryAccess open;
    EXPECT_EQ(now, s.snapshot->memory(open)[past_the_info.value]);
  }
  EXPECT_EQ(run_and_reset(), steady);
}

}  // namespace
}  // namespace cryptine
