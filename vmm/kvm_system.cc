#include "vmm/kvm_system.h"

#include <fcntl.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "vmm/kvm_uapi_x86_64.h"

namespace cryptine {
namespace {

// The capabilities the monitor relies on, checked once at open.
struct RequiredCap {
  int cap;
  const char* name;
};
constexpr RequiredCap kRequiredCaps[] = {
    {KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
    {KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
    {KVM_CAP_XSAVE, "KVM_CAP_XSAVE"},
    {KVM_CAP_XCRS, "KVM_CAP_XCRS"},
    {KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
};

constexpr int kMaxCpuidEntries = 256;

// The hypervisor CPUID range. KVM_GET_SUPPORTED_CPUID fills 0x40000000 (signature
// "KVMKVMKVM") and 0x40000001 (kvmclock, steal time, async PF, PV EOI...). A guest that
// sees them may point KVM at its memory through the paravirtual MSRs, and KVM keeps
// writing there (steal time on every KVM_RUN) long after the request that did it.
// Our guests use none of it, so they never see the leaves.
constexpr uint32_t kHypervisorLeavesFirst = 0x40000000, kHypervisorLeavesLast = 0x4fffffff;

}  // namespace

Result<int> kvm_ioctl(int fd, unsigned long request, const char* name, void* arg) {
  for (;;) {
    int rc = ::ioctl(fd, request, arg);
    if (rc >= 0) return rc;
    if ((errno == EINTR || errno == EAGAIN) && request != KVM_RUN) continue;
    return Error::from_errno(name);
  }
}

Result<int> kvm_ioctl(int fd, unsigned long request, const char* name, unsigned long arg) {
  return kvm_ioctl(fd, request, name, reinterpret_cast<void*>(arg));
}

Result<KvmSystem> KvmSystem::open(const char* path) {
  KvmSystem kvm;
  kvm.fd_.reset(::open(path, O_RDWR | O_CLOEXEC));
  if (!kvm.fd_.valid()) return Error::from_errno(std::string("open ") + path);

  int version = CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(kvm.fd(), KVM_GET_API_VERSION, 0ul));
  if (version != KVM_API_VERSION)
    return Error(ErrorCode::kUnsupported,
                 "KVM API version " + std::to_string(version) + ", need " + std::to_string(KVM_API_VERSION));
  for (const RequiredCap& c : kRequiredCaps) {
    int has = CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(kvm.fd(), KVM_CHECK_EXTENSION, static_cast<unsigned long>(c.cap)));
    if (has <= 0) return Error(ErrorCode::kUnsupported, std::string("KVM lacks ") + c.name);
  }

  int mmap_size = CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(kvm.fd(), KVM_GET_VCPU_MMAP_SIZE, 0ul));
  if (mmap_size < static_cast<int>(sizeof(kvm_run)))
    return Error(ErrorCode::kUnsupported, "KVM_GET_VCPU_MMAP_SIZE too small");
  kvm.vcpu_mmap_size_ = static_cast<size_t>(mmap_size);

  FlexBuffer<KvmCpuid2Header, kvm_cpuid_entry2> cpuid(kMaxCpuidEntries);
  cpuid.header()->nent = kMaxCpuidEntries;
  CRYPTINE_TRY(kvm_ioctl(kvm.fd(), kKvmGetSupportedCpuid, "KVM_GET_SUPPORTED_CPUID", cpuid.get()));
  for (const kvm_cpuid_entry2& e : cpuid.first(cpuid.header()->nent))
    if (e.function < kHypervisorLeavesFirst || e.function > kHypervisorLeavesLast) kvm.cpuid_.push_back(e);

  int enforce = CRYPTINE_TRY(
      CRYPTINE_KVM_IOCTL(kvm.fd(), KVM_CHECK_EXTENSION, static_cast<unsigned long>(KVM_CAP_ENFORCE_PV_FEATURE_CPUID)));
  kvm.enforce_pv_cpuid_ = enforce > 0;
  const int sync =
      CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(kvm.fd(), KVM_CHECK_EXTENSION, static_cast<unsigned long>(KVM_CAP_SYNC_REGS)));
  constexpr int kSyncFields = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS | KVM_SYNC_X86_EVENTS;
  kvm.sync_state_ = sync > 0 && (sync & kSyncFields) == kSyncFields;

  // XCR0 bits the guest may enable: CPUID leaf 0xD subleaf 0, EDX:EAX.
  if (const kvm_cpuid_entry2* xsave = kvm.guest_cpuid_leaf(0xd, 0))
    kvm.supported_xcr0_ = (uint64_t{xsave->edx} << 32) | xsave->eax;
  return kvm;
}

const kvm_cpuid_entry2* KvmSystem::guest_cpuid_leaf(uint32_t function, uint32_t index) const {
  for (const kvm_cpuid_entry2& e : cpuid_)
    if (e.function == function && e.index == index) return &e;
  return nullptr;
}

}  // namespace cryptine
