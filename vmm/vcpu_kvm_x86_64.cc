#include "vmm/vcpu_kvm_x86_64.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>

#include "vmm/counters.h"
#include "vmm/guest_memory.h"
#include "vmm/kvm_uapi_x86_64.h"
#include "vmm/long_mode_x86_64.h"
#include "vmm/process_fork.h"
#include "vmm/watchdog.h"

namespace cryptine {
namespace {

constexpr uint32_t kCpuidXsaveBit = 1u << 26;    // CPUID.1:ECX.XSAVE
constexpr uint32_t kCpuidFsgsbaseBit = 1u << 0;  // CPUID.(7,0):EBX.FSGSBASE
// x87, SSE, AVX; the three AVX-512 components (enabled all together or not at all); PKRU
// (so XRSTOR covers it too, for guests that load their own state at a reset:
// vcpu_state_x86_64.h's guest_loads_xstate).
constexpr uint64_t kXcr0Base = 0x7, kXcr0Avx512 = 0xe0, kXcr0Pkru = 0x200;

bool cpu_has_xsave(const KvmSystem& kvm) {
  const kvm_cpuid_entry2* leaf = kvm.guest_cpuid_leaf(1, 0);
  return leaf != nullptr && (leaf->ecx & kCpuidXsaveBit) != 0;
}

bool cpu_has_fsgsbase(const KvmSystem& kvm) {
  const kvm_cpuid_entry2* leaf = kvm.guest_cpuid_leaf(7, 0);
  return leaf != nullptr && (leaf->ebx & kCpuidFsgsbaseBit) != 0;
}

}  // namespace

Result<Vcpu> Vcpu::create(const KvmSystem& kvm, int vm_fd) {
  Vcpu vcpu;
  int fd = CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(vm_fd, KVM_CREATE_VCPU, 0ul));
  vcpu.fd_.reset(fd);

  void* area = ::mmap(nullptr, kvm.vcpu_mmap_size(), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (area == MAP_FAILED) return Error::from_errno("mmap kvm_run");
  count(vmm_counters().mappings);
  vcpu.run_area_ = Mapping(area, kvm.vcpu_mmap_size());
  CRYPTINE_TRY_STATUS(keep_from_children(area, kvm.vcpu_mmap_size(), "kvm_run"));
  vcpu.run_ = static_cast<kvm_run*>(area);
  vcpu.sync_state_ = kvm.can_sync_state();
  CRYPTINE_TRY_STATUS(let_only_the_watchdog_signal_in(fd));

  // CPUID first: KVM validates CR4 bits (OSXSAVE) against the guest's CPUID.
  FlexBuffer<KvmCpuid2Header, kvm_cpuid_entry2> cpuid(kvm.guest_cpuid().size());
  cpuid.header()->nent = static_cast<uint32_t>(kvm.guest_cpuid().size());
  std::copy(kvm.guest_cpuid().begin(), kvm.guest_cpuid().end(), cpuid.entries());
  CRYPTINE_TRY(kvm_ioctl(fd, kKvmSetCpuid2, "KVM_SET_CPUID2", cpuid.get()));

  // Without the hypervisor leaves the guest is offered no paravirtual feature, but KVM
  // honours the PV MSRs (kvmclock, steal time, async PF, PV EOI) regardless unless told
  // to enforce the CPUID: then a guest's WRMSR to them takes #GP and KVM never writes
  // into guest memory on its own. Kernels before 5.10 lack the capability.
  if (kvm.can_enforce_pv_cpuid()) {
    kvm_enable_cap cap{};
    cap.cap = KVM_CAP_ENFORCE_PV_FEATURE_CPUID;
    cap.args[0] = 1;
    CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(fd, KVM_ENABLE_CAP, &cap));
  }
  return vcpu;
}

Status Vcpu::set_boot_state(const KvmSystem& kvm, uint64_t entry) {
  const int fd = fd_.get();
  const bool xsave = cpu_has_xsave(kvm);
  kvm_sregs sregs{};
  CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(fd, KVM_GET_SREGS, &sregs));
  set_long_mode_sregs(sregs, xsave, cpu_has_fsgsbase(kvm));
  CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(fd, KVM_SET_SREGS, &sregs));

  if (xsave) {
    uint64_t xcr0 = kvm.supported_xcr0() & (kXcr0Base | kXcr0Avx512 | kXcr0Pkru);
    if ((xcr0 & kXcr0Avx512) != kXcr0Avx512) xcr0 &= ~kXcr0Avx512;
    kvm_xcrs xcrs{};
    xcrs.nr_xcrs = 1;
    xcrs.xcrs[0].xcr = 0;
    xcrs.xcrs[0].value = xcr0;
    CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(fd, KVM_SET_XCRS, &xcrs));
  }

  kvm_fpu fpu = initial_fpu();
  CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(fd, KVM_SET_FPU, &fpu));
  kvm_regs regs = initial_regs(entry);
  CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(fd, KVM_SET_REGS, &regs));
  return {};
}

namespace {

// KVM fills the fields but only sets bits of the interrupt bitmap: they start from zero.
void clear_synced_sregs_and_events(kvm_run* run) {
  std::memset(&run->s.regs.sregs, 0, sizeof(run->s.regs.sregs));
  std::memset(&run->s.regs.events, 0, sizeof(run->s.regs.events));
}

}  // namespace

Result<bool> Vcpu::complete_pending_io(SyncedState* left) {
  const bool sync = left != nullptr && sync_state_;
  exit_state_known_ = false;
  run_->immediate_exit = 1;
  if (sync) clear_synced_sregs_and_events(run_);
  run_->kvm_valid_regs = sync ? KVM_SYNC_X86_SREGS | KVM_SYNC_X86_EVENTS : 0;
  auto r = CRYPTINE_KVM_IOCTL(fd_.get(), KVM_RUN, 0ul);
  run_->immediate_exit = 0;
  if (r.ok()) return Error(ErrorCode::kSystem, "KVM_RUN with immediate_exit entered the guest");
  if (r.error().sys_errno() != EINTR) return std::move(r).error();
  if (sync) {
    left->sregs = run_->s.regs.sregs;
    left->events = run_->s.regs.events;
  }
  return sync;
}

Result<VmExit> Vcpu::run(bool copy_state_out) {
  const bool sync = copy_state_out && sync_state_;
  exit_state_known_ = false;
  if (sync) clear_synced_sregs_and_events(run_);
  run_->kvm_valid_regs = sync ? KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS | KVM_SYNC_X86_EVENTS : 0;
  CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(fd_.get(), KVM_RUN, 0ul));
  exit_state_known_ = sync;

  VmExit exit;
  exit.kvm_reason = run_->exit_reason;
  switch (run_->exit_reason) {
    case KVM_EXIT_IO: {
      exit.kind = VmExit::Kind::kIo;
      exit.io_out = run_->io.direction == KVM_EXIT_IO_OUT;
      exit.io_size = run_->io.size;
      exit.io_port = run_->io.port;
      exit.io_count = run_->io.count;
      // The data lives in the run area at data_offset; take at most 4 bytes and only
      // if they lie inside the mapping.
      const uint64_t n = exit.io_size <= 4 ? exit.io_size : 0;
      if (exit.io_out && range_within(run_->io.data_offset, n, run_area_.size()))
        std::memcpy(&exit.io_value, reinterpret_cast<const uint8_t*>(run_) + run_->io.data_offset, n);
      break;
    }
    case KVM_EXIT_MMIO:
      exit.kind = VmExit::Kind::kMmio;
      exit.mmio_addr = run_->mmio.phys_addr;
      exit.mmio_write = run_->mmio.is_write != 0;
      break;
    case KVM_EXIT_HLT: exit.kind = VmExit::Kind::kHlt; break;
    case KVM_EXIT_SHUTDOWN: exit.kind = VmExit::Kind::kShutdown; break;
    case KVM_EXIT_INTERNAL_ERROR:
      exit.kind = VmExit::Kind::kInternalError;
      exit.detail = run_->internal.suberror;
      break;
    case KVM_EXIT_FAIL_ENTRY:
      exit.kind = VmExit::Kind::kFailEntry;
      exit.detail = run_->fail_entry.hardware_entry_failure_reason;
      break;
    default: exit.kind = VmExit::Kind::kOther; break;
  }
  return exit;
}

Result<kvm_regs> Vcpu::regs() const {
  if ((run_->kvm_dirty_regs & KVM_SYNC_X86_REGS) != 0) return run_->s.regs.regs;
  kvm_regs regs{};
  CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(fd_.get(), KVM_GET_REGS, &regs));
  return regs;
}

Status Vcpu::set_regs(const kvm_regs& regs) {
  kvm_regs copy = regs;
  CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(fd_.get(), KVM_SET_REGS, &copy));
  run_->kvm_dirty_regs &= ~uint64_t{KVM_SYNC_X86_REGS};  // these, not an older set_regs_at_next_run's
  return {};
}

Status Vcpu::set_regs_at_next_run(const kvm_regs& regs) {
  if (!sync_state_) return set_regs(regs);
  exit_state_known_ = false;
  run_->s.regs.regs = regs;
  run_->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
  return {};
}

}  // namespace cryptine
