#include "vmm/vcpu_msrs_x86_64.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "vmm/kvm_uapi_x86_64.h"

namespace cryptine {
namespace {

// Every entry here is an MSR KVM lists that a reset does not write back by value.
constexpr DeniedMsr kDenied[] = {
    // The TSC is time. Its offset is restored instead (MsrState::tsc_offset), which undoes
    // a guest's WRMSR to it or to TSC_ADJUST. Writing the value back would go through
    // kvm_synchronize_tsc, which takes a value within a second of the one it expects for
    // an attempt to synchronise vCPUs and then keeps the current offset (the guest's
    // shift stays), and otherwise stops the guest's clock at the snapshot's.
    {0x00000010, "IA32_TSC", true},
    // Hyper-V's run time of the vCPU thread: a host write only sets an offset against the
    // thread's CPU time, so no value can be put back. Guests without Hyper-V's CPUID
    // leaves (ours never have them) get #GP on any access.
    {0x40000010, "HV_X64_MSR_VP_RUNTIME", true},
    // Hyper-V's reference clock: read-only, KVM ignores host writes; #GP to our guests.
    {0x40000020, "HV_X64_MSR_TIME_REF_COUNT", true},
};

// MSRs KVM emulates, and lets a guest write, without listing them in
// KVM_GET_MSR_INDEX_LIST (QEMU saves them on its own for the same reason). Those this
// vCPU does not have are refused at the capture and dropped there.
struct MsrRange {
  uint32_t first, count;
};
constexpr MsrRange kUnlisted[] = {
    {0x0000008c, 4},   // SGX launch-enclave key hash (writable with SGX launch control)
    {0x00000200, 16},  // MTRR physbase/physmask 0-7 (KVM emulates 8 variable ranges)
    {0x00000250, 1},   // MTRR fix64K
    {0x00000258, 2},   // MTRR fix16K
    {0x00000268, 8},   // MTRR fix4K
    {0x000002ff, 1},   // MTRR default type
    {0x000001d9, 1},   // DEBUGCTL
    {0x00000da0, 1},   // XSS
    {0xc0010114, 1},   // AMD VM_CR
    {0xc0010140, 2},   // AMD OSVW_ID_LENGTH, OSVW_STATUS
};

// Machine-check banks: KVM emulates as many as the vCPU's MCG_CAP says (32 unless
// KVM_X86_SETUP_MCE says otherwise), each with CTL, STATUS, ADDR, MISC at 0x400 + 4 * bank,
// and CTL2 at 0x280 + bank only with CMCI. A guest may write CTLs and MCG_STATUS.
constexpr uint32_t kMcgCap = 0x179, kMc0Ctl = 0x400, kMc0Ctl2 = 0x280;
constexpr uint64_t kMcgCountMask = 0xff, kMcgCmciP = 1u << 10;

// KVM_SET_MSRS and KVM_GET_MSRS take fewer than MAX_IO_MSRS (256) entries per call.
constexpr size_t kMaxMsrsPerCall = 255;

Result<int> get_msrs(int vcpu_fd, std::span<kvm_msr_entry> entries) {
  FlexBuffer<KvmMsrsHeader, kvm_msr_entry> buf(entries.size());
  buf.header()->nmsrs = static_cast<uint32_t>(entries.size());
  std::copy(entries.begin(), entries.end(), buf.entries());
  int n = CRYPTINE_TRY(kvm_ioctl(vcpu_fd, kKvmGetMsrs, "KVM_GET_MSRS", buf.get()));
  std::copy(buf.entries(), buf.entries() + entries.size(), entries.begin());
  return n;
}

Result<int> set_msrs(int vcpu_fd, std::span<const kvm_msr_entry> entries) {
  FlexBuffer<KvmMsrsHeader, kvm_msr_entry> buf(entries.size());
  buf.header()->nmsrs = static_cast<uint32_t>(entries.size());
  std::copy(entries.begin(), entries.end(), buf.entries());
  return kvm_ioctl(vcpu_fd, kKvmSetMsrs, "KVM_SET_MSRS", buf.get());
}

std::string hex(uint32_t v) {
  char text[16];
  std::snprintf(text, sizeof(text), "0x%x", v);
  return text;
}

Result<int> tsc_attr(int vcpu_fd, unsigned long request, const char* name, uint64_t* value) {
  kvm_device_attr attr{};
  attr.group = KVM_VCPU_TSC_CTRL;
  attr.attr = KVM_VCPU_TSC_OFFSET;
  attr.addr = reinterpret_cast<uint64_t>(value);
  return kvm_ioctl(vcpu_fd, request, name, &attr);
}

}  // namespace

std::span<const DeniedMsr> msr_deny_list() {
  return kDenied;
}

bool msr_denied(uint32_t index) {
  return std::any_of(std::begin(kDenied), std::end(kDenied), [index](const DeniedMsr& d) { return d.index == index; });
}

Status restore_some_msrs(int vcpu_fd, const MsrState& state, std::span<const uint32_t> indices) {
  std::vector<kvm_msr_entry> want;
  for (const kvm_msr_entry& e : state.entries)
    if (std::find(indices.begin(), indices.end(), e.index) != indices.end()) want.push_back(e);
  if (want.empty()) return {};
  const int n = CRYPTINE_TRY(set_msrs(vcpu_fd, want));
  if (n < 0 || static_cast<size_t>(n) != want.size())
    return Error(ErrorCode::kSystem,
                 "KVM_SET_MSRS refused MSR " + hex(want[static_cast<size_t>(std::max(n, 0))].index));
  return {};
}

Result<std::vector<uint32_t>> kvm_msr_index_list(const KvmSystem& kvm, bool features) {
  if (features) {
    int has = CRYPTINE_TRY(
        CRYPTINE_KVM_IOCTL(kvm.fd(), KVM_CHECK_EXTENSION, static_cast<unsigned long>(KVM_CAP_GET_MSR_FEATURES)));
    if (has <= 0) return std::vector<uint32_t>{};
  }
  // KVM answers E2BIG with the count it needs; ask once for it, then for the list.
  KvmMsrListHeader probe{0};
  const unsigned long request = features ? kKvmGetMsrFeatureIndexList : kKvmGetMsrIndexList;
  const char* name = features ? "KVM_GET_MSR_FEATURE_INDEX_LIST" : "KVM_GET_MSR_INDEX_LIST";
  auto sized = kvm_ioctl(kvm.fd(), request, name, &probe);
  if (!sized.ok() && sized.error().sys_errno() != E2BIG) return std::move(sized).error();
  FlexBuffer<KvmMsrListHeader, uint32_t> list(probe.nmsrs);
  list.header()->nmsrs = probe.nmsrs;
  CRYPTINE_TRY(kvm_ioctl(kvm.fd(), request, name, list.get()));
  auto indices = list.first(list.header()->nmsrs);
  return std::vector<uint32_t>(indices.begin(), indices.end());
}

Result<std::vector<uint32_t>> msr_candidates(const KvmSystem& kvm, int vcpu_fd) {
  // Feature MSRs are VM-wide read-only capabilities (ARCH_CAPABILITIES, PERF_CAPABILITIES,
  // microcode revision, AMD DE_CFG...): a guest cannot change them, but a vCPU has its
  // own copy that others are checked against (PERF_CAPABILITIES gates the LBR MSRs), so
  // those the vCPU can read are restored first, with the values it had.
  std::vector<uint32_t> out = CRYPTINE_TRY(kvm_msr_index_list(kvm, true));
  std::vector<uint32_t> listed = CRYPTINE_TRY(kvm_msr_index_list(kvm, false));
  for (const MsrRange& r : kUnlisted)
    for (uint32_t i = 0; i < r.count; ++i) listed.push_back(r.first + i);
  kvm_msr_entry mcg_cap{};
  mcg_cap.index = kMcgCap;
  if (CRYPTINE_TRY(get_msrs(vcpu_fd, {&mcg_cap, 1})) == 1) {
    const uint32_t banks = static_cast<uint32_t>(mcg_cap.data & kMcgCountMask);
    for (uint32_t i = 0; i < 4 * banks; ++i) listed.push_back(kMc0Ctl + i);
    if (mcg_cap.data & kMcgCmciP)
      for (uint32_t i = 0; i < banks; ++i) listed.push_back(kMc0Ctl2 + i);
  }
  for (uint32_t index : listed)
    if (std::find(out.begin(), out.end(), index) == out.end()) out.push_back(index);
  std::erase_if(out, msr_denied);
  return out;
}

Result<std::vector<kvm_msr_entry>> read_msrs(int vcpu_fd, std::span<const uint32_t> indices) {
  std::vector<kvm_msr_entry> out;
  for (uint32_t index : indices) {
    kvm_msr_entry e{};
    e.index = index;
    if (CRYPTINE_TRY(get_msrs(vcpu_fd, {&e, 1})) == 1) out.push_back(e);
  }
  return out;
}

Result<uint64_t> get_tsc_offset(int vcpu_fd) {
  uint64_t offset = 0;
  kvm_device_attr attr{};
  attr.group = KVM_VCPU_TSC_CTRL;
  attr.attr = KVM_VCPU_TSC_OFFSET;
  auto has = kvm_ioctl(vcpu_fd, KVM_HAS_DEVICE_ATTR, "KVM_HAS_DEVICE_ATTR", &attr);
  if (!has.ok())
    return Error(ErrorCode::kUnsupported,
                 "KVM lacks the vCPU TSC offset attribute (Linux 5.16): a reset could not undo a guest's TSC writes (" +
                     has.error().message() + ")");
  CRYPTINE_TRY(tsc_attr(vcpu_fd, KVM_GET_DEVICE_ATTR, "KVM_GET_DEVICE_ATTR KVM_VCPU_TSC_OFFSET", &offset));
  return offset;
}

Result<MsrState> capture_msrs(int vcpu_fd, std::span<const uint32_t> candidates) {
  MsrState s;
  s.entries = CRYPTINE_TRY(read_msrs(vcpu_fd, candidates));
  for (uint32_t index : candidates)
    if (std::none_of(s.entries.begin(), s.entries.end(), [index](const kvm_msr_entry& e) { return e.index == index; }))
      s.refused.push_back(index);
  s.tsc_offset = CRYPTINE_TRY(get_tsc_offset(vcpu_fd));
  return s;
}

Status keep_restorable_msrs(int vcpu_fd, MsrState& state) {
  // KVM_SET_MSRS stops at the first entry it refuses and returns how many it set.
  for (size_t done = 0; done < state.entries.size();) {
    const size_t count = std::min(kMaxMsrsPerCall, state.entries.size() - done);
    const size_t n = static_cast<size_t>(CRYPTINE_TRY(set_msrs(vcpu_fd, {state.entries.data() + done, count})));
    done += n;
    if (n < count) {
      state.refused.push_back(state.entries[done].index);
      state.entries.erase(state.entries.begin() + static_cast<ptrdiff_t>(done));
    }
  }
  return {};
}

Status restore_msrs(int vcpu_fd, const MsrState& state) {
  // One KVM_SET_MSRS for up to 255 MSRs (244 under the AMD test host); a KVM that lists
  // more takes one call per 255. Then one KVM_GET_MSRS checks that every value took:
  // KVM_SET_MSRS can succeed and keep a bit the guest set (AMD VM_CR.SVMDIS, once set,
  // is kept against the host's writes too). Such a virtine cannot be reset.
  for (size_t done = 0; done < state.entries.size();) {
    const size_t count = std::min(kMaxMsrsPerCall, state.entries.size() - done);
    std::span<const kvm_msr_entry> want(state.entries.data() + done, count);
    int n = CRYPTINE_TRY(set_msrs(vcpu_fd, want));
    if (n < 0 || static_cast<size_t>(n) != count)
      return Error(ErrorCode::kSystem, "KVM_SET_MSRS refused MSR " + hex(want[static_cast<size_t>(n)].index) + " (" +
                                           std::to_string(done + static_cast<size_t>(n)) + " of " +
                                           std::to_string(state.entries.size()) + " set)");
    std::vector<kvm_msr_entry> got(want.begin(), want.end());
    n = CRYPTINE_TRY(get_msrs(vcpu_fd, got));
    for (size_t i = 0; i < count; ++i)
      if (i >= static_cast<size_t>(n) || got[i].data != want[i].data)
        return Error(ErrorCode::kSystem,
                     "MSR " + hex(want[i].index) + " kept a value the guest wrote after KVM_SET_MSRS");
    done += count;
  }
  uint64_t offset = state.tsc_offset;
  CRYPTINE_TRY(tsc_attr(vcpu_fd, KVM_SET_DEVICE_ATTR, "KVM_SET_DEVICE_ATTR KVM_VCPU_TSC_OFFSET", &offset));
  return {};
}

}  // namespace cryptine
