// KVM's dirty log of a virtine's guest memory, read at the snapshot and at every reset.
//
// With manual protection (KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2), reading the log does not
// write-protect the pages again: this class re-protects them itself (KVM_CLEAR_DIRTY_LOG),
// all but the "hot" ones, pages the guest wrote in two runs in a row (its stack, the
// mailbox, its data). Those stay writable, so the next run takes no write fault on them
// (each one a VM exit into KVM), and stay marked dirty, so every reset restores them.
// At most kMaxHot pages are hot, and the set is relearned every kRelearnEvery resets, so a
// burst of writes cannot make many pages restored forever.
// Without the capability, KVM_GET_DIRTY_LOG protects everything again, as before.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "vmm/result.h"

namespace cryptine {

class DirtyLog {
 public:
  static constexpr size_t kMaxHot = 32;
  static constexpr uint32_t kRelearnEvery = 256;

  // Turns manual protection on for `vm` if KVM offers it; before the memslot is made.
  // Returns whether it is on.
  static Result<bool> enable_manual_protect(int vm);

  DirtyLog(size_t pages, bool manual) : manual_(manual), previous_((pages + 63) / 64, 0), pages_(pages) {}

  // The pages of memslot 0 the guest wrote since the last collect (and the hot ones) are
  // set in `dirty` (whose other bits are left as they are). All are protected again but
  // the hot ones when `keep_hot` (a reset), every one otherwise (the snapshot).
  Status collect(int vm, std::span<uint64_t> dirty, bool keep_hot);

  bool manual() const { return manual_; }

 private:
  bool manual_;
  std::vector<uint64_t> previous_;  // what the last collect found
  std::vector<uint64_t> scratch_;   // this collect's log, then the pages to protect
  size_t pages_;
  uint32_t collects_ = 0;
};

}  // namespace cryptine
