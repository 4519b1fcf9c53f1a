// MSRs and reset: a hostile request (tests/guests/msr-writer.asm) writes every MSR it
// can, KVM's paravirtual ones included. The reset must put back every MSR KVM lists,
// each read here independently of the snapshot's own list, and KVM must write nothing
// into guest memory afterwards.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <iterator>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "abi/guest_abi.h"
#include "tests/kvm/snapshot_fixture.h"
#include "vmm/kvm_system.h"
#include "vmm/vcpu_msrs_x86_64.h"
#include "vmm/virtine.h"

namespace cryptine {
namespace {

constexpr uint64_t kTable = 0x800000, kResults = 0x900000, kPvPages = 0xa00000;
constexpr uint8_t kWrote = 2, kWrotePv = 4;  // the guest's result bits
// KVM's paravirtual MSRs: the old and new kvmclock pair, async PF, steal time, PV EOI,
// poll control, async PF interrupt and ack, migration control.
constexpr uint32_t kPvMsrs[] = {0x11,       0x12,       0x4b564d00, 0x4b564d01, 0x4b564d02, 0x4b564d03,
                                0x4b564d04, 0x4b564d05, 0x4b564d06, 0x4b564d07, 0x4b564d08};
constexpr uint32_t kTscAdjust = 0x3b;
// AMD VM_CR: once a guest sets SVMDIS, KVM keeps it against the host's writes too.
constexpr uint32_t kVmCr = 0xc0010114;

std::map<uint32_t, uint64_t> as_map(const std::vector<kvm_msr_entry>& entries) {
  std::map<uint32_t, uint64_t> m;
  for (const kvm_msr_entry& e : entries) m[e.index] = e.data;
  return m;
}

class MsrFixture : public ::testing::Test {
 protected:
  void SetUpWith(bool deny_msr_writes) {
    VirtineConfig config;
    config.deny_msr_writes = deny_msr_writes;
    auto s = testing_support::snapshot_of("msr-writer.elf", config);
    ASSERT_NE(s.snapshot, nullptr);
    kvm_ = std::move(s.kvm);
    virtine_ = std::move(s.booted);
    snapshot_ = std::move(s.snapshot);

    // Everything KVM names, the unlisted ones the monitor adds, and the PV range: the
    // guest tries them all, and the test reads them all, without the snapshot's list.
    std::set<uint32_t> all;
    for (bool features : {false, true}) {
      auto list = kvm_msr_index_list(*kvm_, features);
      ASSERT_TRUE(list.ok()) << list.error().message();
      all.insert(list->begin(), list->end());
    }
    auto candidates = msr_candidates(*kvm_, virtine_->vcpu().fd());
    ASSERT_TRUE(candidates.ok()) << candidates.error().message();
    all.insert(candidates->begin(), candidates->end());
    all.insert(std::begin(kPvMsrs), std::end(kPvMsrs));
    indices_.assign(all.begin(), all.end());
    before_ = read_all();
    auto offset = get_tsc_offset(virtine_->vcpu().fd());
    ASSERT_TRUE(offset.ok()) << offset.error().message();
    tsc_offset_before_ = *offset;
  }

  std::map<uint32_t, uint64_t> read_all() {
    auto got = read_msrs(virtine_->vcpu().fd(), indices_);
    EXPECT_TRUE(got.ok()) << got.error().message();
    return got.ok() ? as_map(*got) : std::map<uint32_t, uint64_t>{};
  }

  // One request: mode 1 writes the MSRs (all but VM_CR, unless `only` names some), mode 0
  // writes nothing, mode 2 sets GS.base to `gs_base` with WRGSBASE and runs SWAPGS.
  void Request(uint32_t mode, std::vector<uint32_t> only = {}, uint64_t gs_base = 0) {
    if (only.empty()) std::remove_copy(indices_.begin(), indices_.end(), std::back_inserter(only), kVmCr);
    table_ = only;
    std::vector<uint32_t> table{mode, static_cast<uint32_t>(only.size())};
    if (mode == 2)
      table = {mode, 0, static_cast<uint32_t>(gs_base), static_cast<uint32_t>(gs_base >> 32)};
    else
      table.insert(table.end(), only.begin(), only.end());
    ASSERT_TRUE(virtine_->memory()
                    .write(GuestAddr{kTable}, {reinterpret_cast<const uint8_t*>(table.data()), table.size() * 4})
                    .ok());
    auto call = virtine_->run();
    ASSERT_TRUE(call.ok()) << call.error().message();
    ASSERT_EQ(call->kind, HypercallKind::kDone);
  }

  // What the guest reported for each MSR of the last request.
  std::map<uint32_t, uint8_t> GuestResults() {
    std::vector<uint8_t> bytes(table_.size());
    EXPECT_TRUE(virtine_->memory().read(GuestAddr{kResults}, bytes).ok());
    std::map<uint32_t, uint8_t> out;
    for (size_t i = 0; i < table_.size(); ++i) out[table_[i]] = bytes[i];
    return out;
  }

  // Pages in [first, first + bytes) whose contents differ from the snapshot.
  uint64_t PagesDiffering(uint64_t first, uint64_t bytes) {
    std::vector<uint8_t> now(GuestMemory::kPageSize);
    uint64_t n = 0;
    for (uint64_t at = first; at < first + bytes; at += GuestMemory::kPageSize) {
      EXPECT_TRUE(virtine_->memory().read(GuestAddr{at}, now).ok());
      const GuestMemoryAccess open;
      if (std::memcmp(now.data(), snapshot_->memory(open).data() + at, now.size()) != 0) ++n;
    }
    return n;
  }

  std::unique_ptr<KvmSystem> kvm_;
  std::unique_ptr<Virtine> virtine_;
  std::shared_ptr<const Snapshot> snapshot_;
  std::vector<uint32_t> indices_;
  std::vector<uint32_t> table_;  // the MSRs of the last request
  std::map<uint32_t, uint64_t> before_;
  uint64_t tsc_offset_before_ = 0;
};

// The restore of every MSR by value: what a reset does on a KVM without the MSR filter.
class MsrReset : public MsrFixture {
 protected:
  void SetUp() override { SetUpWith(false); }
};

// The default: past the snapshot the guest's WRMSRs fault, and a reset restores only
// the MSRs changed without WRMSR.
class MsrWritesDenied : public MsrFixture {
 protected:
  void SetUp() override { SetUpWith(true); }

  bool IsClock(uint32_t index) {
    return std::any_of(msr_deny_list().begin(), msr_deny_list().end(),
                       [index](const DeniedMsr& d) { return d.index == index && d.clock; });
  }

  // Every MSR readable before is readable now with the same value (the clocks aside).
  void ExpectAllAsBefore(const char* when) {
    const auto now = read_all();
    size_t compared = 0;
    for (const auto& [index, value] : before_) {
      ASSERT_TRUE(now.count(index)) << when << ": MSR 0x" << std::hex << index << " no longer readable";
      if (IsClock(index)) continue;
      EXPECT_EQ(now.at(index), value) << when << ": MSR 0x" << std::hex << index;
      ++compared;
    }
    EXPECT_GE(compared, 100u) << when;
    auto offset = get_tsc_offset(virtine_->vcpu().fd());
    ASSERT_TRUE(offset.ok());
    EXPECT_EQ(*offset, tsc_offset_before_) << when << ": TSC offset";
  }
};

TEST_F(MsrReset, EveryMsrEqualsTheSnapshotAfterAHostileRequest) {
  Request(1);
  const auto results = GuestResults();
  const auto during = read_all();
  auto offset_during = get_tsc_offset(virtine_->vcpu().fd());
  ASSERT_TRUE(offset_during.ok());

  // The test must be able to fail: the guest really changed MSRs, TSC_ADJUST among them.
  size_t changed = 0, guest_wrote = 0;
  for (const auto& [index, value] : before_)
    if (during.count(index) && during.at(index) != value) ++changed;
  for (const auto& [index, bits] : results) {
    if (bits & (kWrote | kWrotePv)) ++guest_wrote;
  }
  ASSERT_TRUE(before_.count(kTscAdjust)) << "TSC_ADJUST not readable";
  EXPECT_NE(during.at(kTscAdjust), before_.at(kTscAdjust));
  EXPECT_NE(*offset_during, tsc_offset_before_);
  EXPECT_GE(changed, 10u);

  ASSERT_TRUE(virtine_->reset().ok());
  const auto after = read_all();
  size_t compared = 0;
  for (const auto& [index, value] : before_) {
    const bool clock = std::any_of(msr_deny_list().begin(), msr_deny_list().end(),
                                   [index](const DeniedMsr& d) { return d.index == index && d.clock; });
    ASSERT_TRUE(after.count(index)) << "MSR 0x" << std::hex << index << " no longer readable";
    if (clock) continue;
    EXPECT_EQ(after.at(index), value) << "MSR 0x" << std::hex << index << " (the guest wrote 0x" << during.at(index)
                                      << ")";
    ++compared;
  }
  for (const auto& [index, value] : after)
    EXPECT_TRUE(before_.count(index)) << "MSR 0x" << std::hex << index << " readable only after the hostile request";
  auto offset_after = get_tsc_offset(virtine_->vcpu().fd());
  ASSERT_TRUE(offset_after.ok());
  EXPECT_EQ(*offset_after, tsc_offset_before_) << "TSC offset";

  // Every MSR the guest could write is restored by value, or is the TSC (by offset).
  std::set<uint32_t> saved;
  for (const kvm_msr_entry& e : snapshot_->vcpu().msrs.entries) saved.insert(e.index);
  for (const auto& [index, bits] : results) {
    if ((bits & (kWrote | kWrotePv)) && !msr_denied(index)) {
      EXPECT_TRUE(saved.count(index)) << "guest wrote MSR 0x" << std::hex << index << " that no reset restores";
    }
  }

  std::printf(
      "MSRs: %zu tried by the guest, %zu written by it, %zu changed; %zu saved, %zu refused by KVM, "
      "%zu compared after reset\n",
      indices_.size(), guest_wrote, changed, saved.size(), snapshot_->vcpu().msrs.refused.size(), compared);
}

TEST_F(MsrReset, GuestGetsNoParavirtualMsrAndKvmWritesNothingAfterReset) {
  // Control: the same requests with nothing hostile, to count the pages a reset copies
  // back anyway (the host's boot info and table, page-table accessed bits).
  Request(0);
  ASSERT_TRUE(virtine_->reset().ok());
  Request(0);
  ASSERT_TRUE(virtine_->reset().ok());
  const uint64_t quiet_pages = virtine_->counters().last_reset_pages;

  Request(1);
  const auto results = GuestResults();
  for (uint32_t index : kPvMsrs)
    EXPECT_EQ(results.at(index) & (kWrote | kWrotePv), 0) << "the guest enabled PV MSR 0x" << std::hex << index;
  ASSERT_TRUE(virtine_->reset().ok());

  // An idle period, then a request that writes no memory: whatever changed since is KVM's.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  Request(0);
  Request(0);
  EXPECT_EQ(PagesDiffering(kPvPages, 16 * GuestMemory::kPageSize), 0u) << "KVM wrote into the PV pages";
  ASSERT_TRUE(virtine_->reset().ok());
  // The reset's dirty log (KVM_GET_DIRTY_LOG) holds no page the quiet run did not.
  EXPECT_EQ(virtine_->counters().last_reset_pages, quiet_pages);
}

}  // namespace
}  // namespace cryptine

namespace cryptine {
namespace {

TEST_F(MsrReset, AMsrThatKeepsTheGuestsValueFailsTheReset) {
  Request(1, {kVmCr});
  const bool wrote = (GuestResults().at(kVmCr) & (kWrote | kWrotePv)) != 0;
  Status reset = virtine_->reset();
  if (!wrote) {  // not AMD: the MSR does not exist for the guest
    EXPECT_TRUE(reset.ok()) << reset.error().message();
    return;
  }
  ASSERT_FALSE(reset.ok());
  EXPECT_NE(reset.error().message().find("MSR 0xc0010114"), std::string::npos) << reset.error().message();
}

}  // namespace
}  // namespace cryptine

namespace cryptine {
namespace {

TEST_F(MsrWritesDenied, EveryGuestWrmsrFaultsAndNoMsrChanges) {
  ASSERT_TRUE(virtine_->msr_writes_denied()) << "this KVM has no MSR filter";
  Request(1, indices_);  // VM_CR too: SVMDIS cannot be set either
  size_t tried = 0;
  for (const auto& [index, bits] : GuestResults()) {
    ++tried;
    EXPECT_EQ(bits & (kWrote | kWrotePv), 0) << "the guest wrote MSR 0x" << std::hex << index;
  }
  EXPECT_GE(tried, 100u);
  // Before any reset: nothing to restore.
  ExpectAllAsBefore("after the hostile request");
  ASSERT_TRUE(virtine_->reset().ok());
  ExpectAllAsBefore("after the reset");
}

TEST_F(MsrWritesDenied, KernelGsBaseChangedBySwapgsIsRestored) {
  ASSERT_TRUE(virtine_->msr_writes_denied());
  constexpr uint64_t kPlanted = 0x123456789000;
  ASSERT_TRUE(before_.count(kMsrKernelGsBase));
  ASSERT_NE(before_.at(kMsrKernelGsBase), kPlanted);
  Request(2, {}, kPlanted);
  const std::vector<uint32_t> one{kMsrKernelGsBase};
  auto during = read_msrs(virtine_->vcpu().fd(), one);
  ASSERT_TRUE(during.ok() && during->size() == 1);
  EXPECT_EQ((*during)[0].data, kPlanted) << "SWAPGS moved the planted GS.base into KERNEL_GS_BASE";
  ASSERT_TRUE(virtine_->reset().ok());
  ExpectAllAsBefore("after the reset");
}

}  // namespace
}  // namespace cryptine
