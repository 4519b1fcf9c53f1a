#include "vmm/dirty_log.h"

#include <linux/kvm.h>

#include <algorithm>
#include <bit>

#include "vmm/kvm_system.h"

namespace cryptine {

Result<bool> DirtyLog::enable_manual_protect(int vm) {
  const int offered = CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(vm, KVM_CHECK_EXTENSION, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2));
  if ((offered & KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE) == 0) return false;
  kvm_enable_cap cap{};
  cap.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2;
  cap.args[0] = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE;  // not INITIALLY_SET: protected from the start
  CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(vm, KVM_ENABLE_CAP, &cap));
  return true;
}

Status DirtyLog::collect(int vm, std::span<uint64_t> dirty, bool keep_hot) {
  scratch_.resize(previous_.size());  // KVM writes every word of the slot's bitmap
  kvm_dirty_log log{};
  log.slot = 0;
  log.dirty_bitmap = scratch_.data();
  CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(vm, KVM_GET_DIRTY_LOG, &log));
  const size_t words = std::min(scratch_.size(), dirty.size());
  if (!manual_) {
    for (size_t i = 0; i < words; ++i) dirty[i] |= scratch_[i];
    return {};
  }

  // Hot: written in this run and the last, up to kMaxHot pages; none when relearning.
  // One pass over the bitmap, and no bit counting for the words with no page to keep:
  // without POPCNT at build time each count is a library call.
  const bool relearn = !keep_hot || ++collects_ % kRelearnEvery == 0;
  size_t hot = 0;
  uint64_t any = 0;
  for (size_t i = 0; i < scratch_.size(); ++i) {
    const uint64_t found = scratch_[i];
    if (i < words) dirty[i] |= found;
    uint64_t keep = relearn ? 0 : found & previous_[i];
    if (keep != 0) {
      while (keep != 0 && hot + static_cast<size_t>(std::popcount(keep)) > kMaxHot)
        keep &= keep - 1;  // over the bound: protect the lowest of them again
      hot += static_cast<size_t>(std::popcount(keep));
    }
    previous_[i] = found;
    scratch_[i] = found & ~keep;  // to protect
    any |= scratch_[i];
  }
  // Only hot pages written (a steady call's stack, mailbox, data): nothing to protect.
  if (any == 0) return {};
  kvm_clear_dirty_log clear{};
  clear.slot = 0;
  clear.first_page = 0;
  clear.num_pages = static_cast<uint32_t>(pages_);
  clear.dirty_bitmap = scratch_.data();
  CRYPTINE_TRY(CRYPTINE_KVM_IOCTL(vm, KVM_CLEAR_DIRTY_LOG, &clear));
  return {};
}

}  // namespace cryptine
