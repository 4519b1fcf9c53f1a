// The CPU's page walk writes nothing into guest memory: the monitor's page tables start
// with every entry accessed and every leaf dirty, and its GDT's descriptors accessed, so
// a guest's first use of a page after the snapshot (the null-call guest's mailbox) leaves
// them as the snapshot holds them. Else every reset copies back the tables the walk wrote.
// (The harness's emulated CPU also probes table pages for writing as it walks them, which
// KVM's dirty log counts as writes: there the reset copies them back all the same.)
#include <gtest/gtest.h>

#include <cstring>

#include "abi/hypercall_abi.h"
#include "tests/kvm/snapshot_fixture.h"
#include "vmm/virtine.h"

namespace cryptine {
namespace {

TEST(PageTableBits, RunsAfterTheSnapshotLeaveTheTablesAndTheGdtAsTheSnapshotHasThem) {
  auto s = testing_support::snapshot_of("null-call.elf");
  ASSERT_TRUE(s.booted);
  Virtine& v = *s.booted;
  for (int round = 0; round < 3; ++round) {
    if (round > 0) {
      ASSERT_TRUE(v.reset().ok());
    }
    auto call = v.run();
    ASSERT_TRUE(call.ok() && call->kind == HypercallKind::kDone);
    const GuestMemoryAccess open;
    auto mailbox = v.memory().translate(open, GuestAddr{CRYPTINE_MAILBOX_ADDR}, 8);
    ASSERT_TRUE(mailbox.ok());
    uint64_t answer = 0;
    std::memcpy(&answer, mailbox->data(), sizeof(answer));
    ASSERT_NE(answer, 0u) << "the guest wrote the mailbox, through a page the snapshot had not touched";
    for (uint64_t page :
         {CRYPTINE_GDT_ADDR, CRYPTINE_PML4_ADDR, CRYPTINE_PDPT_ADDR, CRYPTINE_PD_ADDR, CRYPTINE_PT0_ADDR}) {
      auto now = v.memory().translate(open, GuestAddr{page}, GuestMemory::kPageSize);
      ASSERT_TRUE(now.ok());
      const uint8_t* clean = s.snapshot->memory(open).data() + page;
      for (uint64_t at = 0; at < GuestMemory::kPageSize; at += 8) {
        uint64_t want = 0, got = 0;
        std::memcpy(&want, clean + at, 8);
        std::memcpy(&got, now->data() + at, 8);
        ASSERT_EQ(got, want) << "round " << round << ": the entry at 0x" << std::hex << page + at << " changed";
      }
    }
  }
}

}  // namespace
}  // namespace cryptine
