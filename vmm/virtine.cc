#include "vmm/virtine.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <string>

#include "abi/hypercall_abi.h"
#include "vmm/counters.h"
#include "vmm/elf_loader.h"
#include "vmm/entropy.h"
#include "vmm/long_mode_x86_64.h"
#include "vmm/msr_write_filter_x86_64.h"
#include "vmm/vcpu_state_x86_64.h"
#include "vmm/watchdog.h"

namespace cryptine {
namespace {

// Far above guest RAM; Intel VMX needs these three pages for real-mode emulation,
// which our guests never use, but KVM wants the address set before the first run.
constexpr unsigned long kTssAddr = 0xfffbd000;

// Writes the boot info with fresh entropy and a new non-zero sequence number, so the
// guest knows to reseed (a snapshot holds its random generator's state). Every reset
// writes it whole again, so no reset needs to copy its page back first.
Status write_boot_info(GuestMemory& memory) {
  cryptine_boot_info info{};
  info.magic = CRYPTINE_BOOT_MAGIC;
  info.abi_version = CRYPTINE_ABI_VERSION;
  info.mem_size = memory.size();
  CRYPTINE_TRY_STATUS(fill_entropy(info.entropy));
  do {
    CRYPTINE_TRY_STATUS(fill_entropy({reinterpret_cast<uint8_t*>(&info.entropy_seq), sizeof(info.entropy_seq)}));
  } while (info.entropy_seq == 0);
  return memory.write_rewritten_at_reset(GuestAddr{CRYPTINE_BOOTINFO_ADDR},
                                         {reinterpret_cast<const uint8_t*>(&info), sizeof(info)});
}

}  // namespace

std::string_view virtine_state_name(Virtine::State state) {
  switch (state) {
    case Virtine::State::kReady: return "ready";
    case Virtine::State::kFinished: return "finished";
    case Virtine::State::kPoisoned: return "poisoned";
  }
  return "?";
}

Virtine::Virtine(UniqueFd vm, bool manual_protect, GuestMemory memory, Vcpu vcpu, const VirtineConfig& config)
    : vm_(std::move(vm)),
      memory_(std::move(memory)),
      vcpu_(std::move(vcpu)),
      config_(config),
      dirty_bitmap_((memory_.pages() + 63) / 64, 0),
      dirty_log_(memory_.pages(), manual_protect) {
  count(vmm_counters().creations);
}

Result<UniqueFd> Virtine::create_vm(const KvmSystem& kvm, GuestMemory& memory, bool* manual_protect) {
  UniqueFd vm(CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(kvm.fd(), KVM_CREATE_VM, 0ul)));
  CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(vm.get(), KVM_SET_TSS_ADDR, kTssAddr));
  *manual_protect = CRYPTINE_TRY(DirtyLog::enable_manual_protect(vm.get()));
  kvm_userspace_memory_region region{};
  region.slot = 0;
  region.flags = KVM_MEM_LOG_DIRTY_PAGES;  // a reset restores only what the guest wrote
  region.guest_phys_addr = 0;
  region.memory_size = memory.size();
  region.userspace_addr = memory.kvm_userspace_addr();
  CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(vm.get(), KVM_SET_USER_MEMORY_REGION, &region));
  return vm;
}

namespace {
// The environment strings, then the empty one that ends them, at the mailbox's start.
Status write_boot_env(GuestMemory& memory, const std::vector<std::string>& env) {
  size_t total = 1;
  for (const std::string& e : env) {
    if (e.find('=') == std::string::npos || e.find('\0') != std::string::npos)
      return Error(ErrorCode::kInvalidArgument, "boot environment entry is not NAME=VALUE: " + e);
    total += e.size() + 1;
  }
  if (total > CRYPTINE_BOOT_ENV_MAX) return Error(ErrorCode::kOutOfRange, "boot environment too large");
  const GuestMemoryAccess open;
  auto bytes = CRYPTINE_TRY(memory.translate_mut(open, GuestAddr{CRYPTINE_MAILBOX_ADDR}, total));
  size_t at = 0;
  for (const std::string& e : env) {
    std::memcpy(bytes.data() + at, e.c_str(), e.size() + 1);
    at += e.size() + 1;
  }
  bytes[at] = 0;
  return {};
}

// All a cold boot writes into guest memory, in one open scope rather than one per write
// (page tables, each segment, boot info, environment).
Result<ElfImage> load_boot_image(GuestMemory& memory, std::span<const uint8_t> elf,
                                 const std::vector<std::string>& env) {
  const GuestMemoryAccess open;
  CRYPTINE_TRY_STATUS(write_long_mode_tables(memory));
  ElfImage image = CRYPTINE_TRY(parse_elf64(elf, CRYPTINE_IMAGE_BASE, memory.size()));
  CRYPTINE_TRY_STATUS(load_elf64(image, elf, memory));
  CRYPTINE_TRY_STATUS(write_boot_info(memory));
  CRYPTINE_TRY_STATUS(write_boot_env(memory, env));
  return image;
}
}  // namespace

Result<Virtine> Virtine::boot(const KvmSystem& kvm, std::span<const uint8_t> elf, const VirtineConfig& config) {
  GuestMemory memory = CRYPTINE_TRY(GuestMemory::create(config.mem_size));
  const ElfImage image = CRYPTINE_TRY(load_boot_image(memory, elf, config.boot_env));

  bool manual_protect = false;
  UniqueFd vm = CRYPTINE_TRY(create_vm(kvm, memory, &manual_protect));
  Vcpu vcpu = CRYPTINE_TRY(Vcpu::create(kvm, vm.get()));
  CRYPTINE_TRY_STATUS(vcpu.set_boot_state(kvm, image.entry));
  return Virtine(std::move(vm), manual_protect, std::move(memory), std::move(vcpu), config);
}

Result<Virtine> Virtine::from_snapshot(const KvmSystem& kvm, std::shared_ptr<const Snapshot> snapshot,
                                       const VirtineConfig& config) {
  if (snapshot == nullptr) return Error(ErrorCode::kInvalidArgument, "no snapshot");
  if (snapshot->mem_size() != config.mem_size)
    return Error(ErrorCode::kInvalidArgument, "snapshot memory size differs from the configured one");
  GuestMemory memory = CRYPTINE_TRY(GuestMemory::map_private(snapshot->memfd(), snapshot->mem_size()));
  CRYPTINE_TRY_STATUS(write_boot_info(memory));
  bool manual_protect = false;
  UniqueFd vm = CRYPTINE_TRY(create_vm(kvm, memory, &manual_protect));
  Vcpu vcpu = CRYPTINE_TRY(Vcpu::create(kvm, vm.get()));
  CRYPTINE_TRY_STATUS(restore_vcpu_state(vcpu, snapshot->vcpu()));
  Virtine virtine(std::move(vm), manual_protect, std::move(memory), std::move(vcpu), config);
  virtine.snapshot_ = std::move(snapshot);
  CRYPTINE_TRY_STATUS(virtine.deny_msr_writes_if_configured(kvm));
  return virtine;
}

Status Virtine::deny_msr_writes_if_configured(const KvmSystem& kvm) {
  if (config_.deny_msr_writes) msr_writes_denied_ = CRYPTINE_TRY(deny_guest_msr_writes(kvm, vm_.get()));
  return {};
}

Error Virtine::poison(Error error) {
  state_ = State::kPoisoned;
  count(vmm_counters().failures);
  if (error.code() == ErrorCode::kTimeout) count(vmm_counters().timeouts);
  return error;
}

Result<Hypercall> Virtine::run(uint32_t timeout_ms) {
  if (state_ != State::kReady)
    return Error(ErrorCode::kInvalidArgument, std::string("virtine is ") + std::string(virtine_state_name(state_)));
  RunDeadline& deadline = thread_run_deadline();
  CRYPTINE_TRY_STATUS(deadline.arm(vcpu_.run_area(), timeout_ms));
  const bool counting = kvm_exit_counting();
  if (counting) look_at_kvm_exits(/*count_them=*/false);  // the baseline: only this run's are counted
  auto result = run_until_hypercall();
  if (counting) look_at_kvm_exits(/*count_them=*/true);
  if (deadline.disarm())
    return poison(Error(ErrorCode::kTimeout, "guest ran longer than " + std::to_string(timeout_ms) + " ms"));
  return result;
}

// A reset needs the vCPU's state at the last exit (to skip what the guest left as it was)
// and gets it copied out by that KVM_RUN, or else from a KVM_RUN of its own that only
// completes the exit (36 us in perf trace in the KVM harness). Copying it out costs every
// exit about 5 us there: only the first runs after a reset pay, which covers the
// virtines that are reset after a call or a few (pool hits, one-shot digests), not a
// long-lived context's thousands.
constexpr uint32_t kRunsCopyingStateOut = 4;

Result<Hypercall> Virtine::run_until_hypercall() {
  for (;;) {
    const uint64_t t0 = time_start();
    // KVM needs the key open: it maps guest pages in on the guest's faults with
    // get_user_pages, which checks this thread's PKRU like a load would (6.1: KVM_RUN
    // fails with EFAULT when closed, tests/kvm/guest_memory_access_test.cc).
    auto exit = [&] {
      const GuestMemoryAccess open;
      return vcpu_.run(/*copy_state_out=*/runs_since_reset_++ < kRunsCopyingStateOut);
    }();
    count_time(vmm_counters().run_ns, t0);
    io_pending_ = false;
    if (!exit.ok()) {
      // The watchdog's expiry, stopping the run or giving it more time, or a stop and
      // continue of the process (KVM_RUN holds the program's other signals back).
      if (exit.error().sys_errno() == EINTR) {
        if (thread_run_deadline().interrupted()) return Error(ErrorCode::kTimeout, "stopped by the watchdog");
        ++counters_.interruptions;
        continue;
      }
      return poison(std::move(exit).error());
    }
    ++counters_.exits;
    count(vmm_counters().exits);
    auto call = decide_exit(*exit);
    if (!call.ok()) return poison(std::move(call).error());
    io_pending_ = true;
    ++counters_.hypercalls;
    count(vmm_counters().hypercalls);
    switch (call->kind) {
      case HypercallKind::kLog: {
        Status logged = handle_log(call->arg);
        if (!logged.ok()) return poison(std::move(logged).error());
        continue;
      }
      case HypercallKind::kAbort: {
        auto text = read_log_text(call->arg);
        return poison(Error(ErrorCode::kGuestFault, "guest aborted: " + (text.ok() ? *text : text.error().message())));
      }
      case HypercallKind::kExit: state_ = State::kFinished; return call;
      case HypercallKind::kSnapshot: snapshot_flags_ = call->arg; return call;
      case HypercallKind::kDone: return call;
    }
  }
}

// Takes the exits KVM counted for this vCPU since the last look (in the kernel and in user
// space, and of those for the host's interrupts) and adds them to vmm_counters(), or only
// takes them as the baseline. A kernel without the statistic counts nothing.
void Virtine::look_at_kvm_exits(bool count_them) {
  if (!kvm_exits_) {
    auto opened = KvmExitTally::open(vcpu_.fd());
    if (!opened.ok()) return;
    kvm_exits_.emplace(std::move(opened).value());
  }
  const KvmExitTally::Change change = kvm_exits_->look();
  if (!count_them) return;
  count(vmm_counters().kvm_exits, change.exits);
  count(vmm_counters().kvm_interrupt_exits, change.interrupt_exits);
}

Result<std::shared_ptr<const Snapshot>> Virtine::take_snapshot(const KvmSystem& kvm) {
  if (state_ != State::kReady) return Error(ErrorCode::kInvalidArgument, "snapshot of a virtine that is not ready");
  if (io_pending_) CRYPTINE_TRY(vcpu_.complete_pending_io());
  io_pending_ = false;
  std::vector<uint32_t> msrs = CRYPTINE_TRY(msr_candidates(kvm, vcpu_.fd()));
  VcpuState state = CRYPTINE_TRY(capture_vcpu_state(vcpu_, msrs));
  CRYPTINE_TRY_STATUS(keep_restorable_msrs(vcpu_.fd(), state.msrs));

  // The snapshot is the new baseline: forget the writes that led up to it.
  CRYPTINE_TRY_STATUS(dirty_log_.collect(vm_.get(), dirty_bitmap_, /*keep_hot=*/false));
  memory_.take_host_written(dirty_bitmap_);
  std::fill(dirty_bitmap_.begin(), dirty_bitmap_.end(), 0);

  GuestLoads loads;
  loads.xstate = guest_loads_xstate(snapshot_flags_, xcr0_of(state.xcrs), kvm.supported_xcr0());
  loads.kernel_gs_base = guest_loads_kernel_gs_base(snapshot_flags_, state.sregs.cr4);
  snapshot_ = CRYPTINE_TRY(Snapshot::create(memory_, std::move(state), loads));
  runs_since_reset_ = 0;
  // Only now: the guest's boot may write MSRs, its requests may not.
  CRYPTINE_TRY_STATUS(deny_msr_writes_if_configured(kvm));
  return snapshot_;
}

Status Virtine::restore_dirty_pages() {
  std::fill(dirty_bitmap_.begin(), dirty_bitmap_.end(), 0);
  CRYPTINE_TRY_STATUS(dirty_log_.collect(vm_.get(), dirty_bitmap_, /*keep_hot=*/true));
  memory_.take_host_written(dirty_bitmap_);

  const GuestMemoryAccess open;
  const uint64_t pages = CRYPTINE_TRY(memory_.restore_pages(dirty_bitmap_, snapshot_->memory(open)));
  counters_.last_reset_pages = pages;
  counters_.pages_restored += pages;
  count(vmm_counters().pages_restored, pages);
  return {};
}

Status Virtine::restore_to_snapshot() {
  // The special registers and events as the guest left them, from the exit (or else from
  // the completion), so that KVM_SET_SREGS (and the MMU reset it brings) and
  // KVM_SET_VCPU_EVENTS are skipped when the guest changed none.
  SyncedState left{};
  bool know_left = false;
  const kvm_sync_regs* at_exit = vcpu_.state_at_exit();
  if (io_pending_ && at_exit != nullptr &&
      !out_completion_could_skip_resume(at_exit->regs, at_exit->sregs, snapshot_->vcpu())) {
    // KVM finishes the port write as the next call's KVM_RUN begins, at the snapshot's
    // RIP, where it leaves RIP alone: no KVM_RUN of its own for it.
    left.sregs = at_exit->sregs;
    left.events = at_exit->events;
    know_left = true;
  } else if (io_pending_) {
    know_left = CRYPTINE_TRY(vcpu_.complete_pending_io(&left));
  }
  io_pending_ = false;
  const GuestMemoryAccess open;  // for the pages and the boot info: one scope, not two
  CRYPTINE_TRY_STATUS(restore_dirty_pages());
  const GuestLoads& loads = snapshot_->guest_loads();
  MsrRestore msrs = MsrRestore::kAll;
  if (msr_writes_denied_) msrs = loads.kernel_gs_base ? MsrRestore::kNone : MsrRestore::kChangedWithoutWrmsr;
  CRYPTINE_TRY_STATUS(restore_vcpu_state(vcpu_, snapshot_->vcpu(), msrs,
                                         loads.xstate ? XstateRestore::kByGuest : XstateRestore::kHere,
                                         know_left ? &left : nullptr));
  return write_boot_info(memory_);
}

Status Virtine::reset() {
  if (snapshot_ == nullptr) return Error(ErrorCode::kInvalidArgument, "reset of a virtine without a snapshot");
  if (state_ == State::kPoisoned) return Error(ErrorCode::kInvalidArgument, "reset of a poisoned virtine");
  const uint64_t t0 = time_start();
  // Half a reset leaves some of the last run's state: such a virtine is never used again.
  Status restored = restore_to_snapshot();
  if (!restored.ok()) return poison(std::move(restored).error().context("reset"));
  state_ = State::kReady;
  runs_since_reset_ = 0;
  ++counters_.resets;
  count(vmm_counters().resets);
  count_time(vmm_counters().reset_ns, t0);
  return {};
}

// Copies guest text out of the log buffer, replacing anything but printable ASCII,
// so a guest cannot send terminal escapes to the host's stderr.
Result<std::string> Virtine::read_log_text(uint32_t length) {
  if (length > CRYPTINE_LOG_SIZE)
    return Error(ErrorCode::kGuestFault, "log length " + std::to_string(length) + " exceeds the log buffer");
  std::string text(length, '\0');
  CRYPTINE_TRY_STATUS(memory_.read(GuestAddr{CRYPTINE_LOG_ADDR}, {reinterpret_cast<uint8_t*>(text.data()), length}));
  for (char& c : text)
    if ((c < 0x20 || c > 0x7e) && c != '\n' && c != '\t') c = '?';
  return text;
}

Status Virtine::handle_log(uint32_t length) {
  std::string text = CRYPTINE_TRY(read_log_text(length));
  if (counters_.log_lines >= config_.max_log_lines) {
    ++counters_.log_dropped;
    count(vmm_counters().log_dropped);
    return {};
  }
  ++counters_.log_lines;
  if (config_.log_sink) {
    config_.log_sink(text);
  } else {
    std::fprintf(stderr, "cryptine guest: %s%s", text.c_str(), text.empty() || text.back() != '\n' ? "\n" : "");
  }
  return {};
}

}  // namespace cryptine
