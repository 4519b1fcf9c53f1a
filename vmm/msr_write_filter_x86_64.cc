#include "vmm/msr_write_filter_x86_64.h"

#include <linux/kvm.h>

#include <array>
#include <cstring>

#include "vmm/vcpu_msrs_x86_64.h"

namespace cryptine {
namespace {

// The blocks where the architectural, AMD and KVM's own MSRs live: reads there are left
// to KVM as without a filter (#GP for an MSR the vCPU lacks). Everything else, and every
// write, is denied by default.
struct ReadableBlock {
  uint32_t base, count;
};
constexpr ReadableBlock kReadable[] = {
    {0x00000000, 0x3000},
    {0x4b564d00, 0x100},  // KVM's paravirtual MSRs (their CPUID bits are not offered)
    {0xc0000000, 0x3000},
    {0xc0010000, 0x3000},
};
constexpr size_t kBitmapBytes = 0x3000 / 8;  // KVM_MSR_FILTER_MAX_BITMAP_SIZE is 0x600
static_assert(kBitmapBytes <= 0x600);

// SWAPGS exchanges GS.base (restored with the segment registers) and KERNEL_GS_BASE. The
// other MSRs an instruction writes are the FS and GS bases (WRFSBASE, WRGSBASE: in the
// segment registers too) and EFER.LMA (on CR0.PG: EFER is in the special registers).
// XRSTORS could load supervisor state, but only the components IA32_XSS enables, and
// the guest cannot write XSS. A guest that loads KERNEL_GS_BASE itself at a reset leaves
// a reset no MSR to restore (MsrRestore::kNone): keep the two in step.
constexpr uint32_t kChangedWithoutWrmsr[] = {kMsrKernelGsBase};

}  // namespace

Result<bool> deny_guest_msr_writes(const KvmSystem& kvm, int vm_fd) {
  const int has = CRYPTINE_TRY(
      CRYPTINE_KVM_IOCTL(kvm.fd(), KVM_CHECK_EXTENSION, static_cast<unsigned long>(KVM_CAP_X86_MSR_FILTER)));
  if (has <= 0) return false;
  static const std::array<uint8_t, kBitmapBytes> all_allowed = [] {
    std::array<uint8_t, kBitmapBytes> bits;
    bits.fill(0xff);
    return bits;
  }();
  kvm_msr_filter filter{};
  filter.flags = KVM_MSR_FILTER_DEFAULT_DENY;
  static_assert(std::size(kReadable) <= KVM_MSR_FILTER_MAX_RANGES);
  for (size_t i = 0; i < std::size(kReadable); ++i) {
    filter.ranges[i].flags = KVM_MSR_FILTER_READ;
    filter.ranges[i].base = kReadable[i].base;
    filter.ranges[i].nmsrs = kReadable[i].count;
    // KVM copies the bitmap and never writes it.
    filter.ranges[i].bitmap = const_cast<uint8_t*>(all_allowed.data());
  }
  CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(vm_fd, KVM_X86_SET_MSR_FILTER, &filter));
  return true;
}

std::span<const uint32_t> msrs_changed_without_wrmsr() {
  return kChangedWithoutWrmsr;
}

}  // namespace cryptine
