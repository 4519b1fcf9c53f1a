#include "shim/client/virtine_lease.h"

#include "abi/guest_abi.h"
#include "shim/client/confinement.h"
#include "shim/client/guest_ops.h"
#include "shim/client/runtime.h"
#include "vmm/process_fork.h"

namespace cryptine {
namespace {

// scope=thread: the thread's shared lease, replaced when its virtine is gone or full.
thread_local LeaseRef t_thread_lease;

// A thread's virtine takes new contexts up to this many; then the thread moves on to a
// fresh one. The rest of the guest's table is room for copies, which must live beside
// their original (a copy made in a full table fails with the table-full error).
constexpr uint32_t kThreadLeaseContexts = CRYPTINE_MAX_HANDLES - 32;

}  // namespace

Lease::Lease() : fork_generation_(fork_generation()) {}

bool Lease::ours() const {
  return fork_generation_ == fork_generation();
}

// A lease the parent made before fork() is never locked here: a thread of the parent may
// have held its lock (mid-call) when the process forked, and that thread does not exist in
// the child. So the check comes before the lock.
Status Lease::with_virtine(FunctionRef<Status(Virtine&)> fn, bool* unusable) {
  bool ignored = false;
  bool& gone = unusable != nullptr ? *unusable : ignored;
  gone = true;
  if (!ours())
    return Error(ErrorCode::kUnsupported, "this context was made before fork(); its virtine belongs to the parent");
  // Before anything that could make a system call: running the virtine takes ioctls
  // (and timers) that the process's seccomp filter may kill it for.
  if (confined())
    return Error(ErrorCode::kUnsupported,
                 "the process is under a seccomp filter; this context's virtine can no longer run");
  std::lock_guard lock(mu_);
  if (!virtine_ready())
    return Error(ErrorCode::kGuestFault, "this context's virtine failed earlier; the context is lost");
  gone = false;
  return fn(*virtine_);
}

bool Lease::usable() {
  if (!ours() || confined()) return false;
  std::lock_guard lock(mu_);
  return virtine_ready();
}

void Lease::add_context() {
  if (!ours()) return;  // never: copying a parent's context fails first
  std::lock_guard lock(mu_);
  ++contexts_;
}

Result<LeaseRef> Lease::make(bool per_thread, uint32_t contexts) {
  VirtinePool* pool = Runtime::get().thread_pool();
  if (pool == nullptr) return Error(ErrorCode::kUnsupported, "virtines are unavailable");
  Virtine virtine = CRYPTINE_TRY(pool->acquire());
  auto lease = std::make_shared<Lease>();
  lease->virtine_.emplace(std::move(virtine));
  lease->contexts_ = contexts;
  lease->thread_shared_ = per_thread;
  if (per_thread) t_thread_lease = lease;
  return lease;
}

Result<LeaseRef> lease_for_new_context() {
  Runtime& rt = Runtime::get();
  if (rt.confined_now()) return Error(ErrorCode::kUnsupported, "the process is under a seccomp filter");
  const bool per_thread = rt.config().scope == Scope::kThread;
  if (per_thread && t_thread_lease != nullptr && !t_thread_lease->ours()) t_thread_lease.reset();  // the parent's
  if (per_thread && t_thread_lease != nullptr) {
    std::lock_guard lock(t_thread_lease->mu_);
    if (t_thread_lease->virtine_ready()) {
      if (t_thread_lease->contexts_ < kThreadLeaseContexts) {
        ++t_thread_lease->contexts_;
        return t_thread_lease;
      }
      // Full: it lives on with its contexts and, when the last goes, returns to a pool.
      t_thread_lease->thread_shared_ = false;
    }
  }
  return Lease::make(per_thread, 1);
}

Result<LeaseRef> thread_lease() {
  Runtime& rt = Runtime::get();
  if (rt.confined_now()) return Error(ErrorCode::kUnsupported, "the process is under a seccomp filter");
  // Even a full one serves: a one-shot takes no slot in the guest's table.
  if (t_thread_lease != nullptr && t_thread_lease->usable()) return t_thread_lease;
  return Lease::make(true, 0);
}

void drop_context(const LeaseRef& lease, uint32_t handle) {
  // The parent's lease is only forgotten: no lock (see with_virtine), no guest call, no
  // reset. When its last reference goes, its virtine's fds are closed and its mappings,
  // which the child never inherited (MADV_DONTFORK), are forgotten, not unmapped.
  if (!lease->ours()) return;
  Runtime& rt = Runtime::get();
  std::optional<Virtine> to_pool;
  {
    std::lock_guard lock(lease->mu_);
    if (lease->contexts_ > 0) --lease->contexts_;
    if (!lease->virtine_.has_value()) return;
    // Under a seccomp filter the virtine is forgotten, not reset: no ioctl, only close()
    // and munmap() when its last context goes (OpenSSH's filter allows both).
    if (confined()) {
      if (lease->contexts_ == 0) lease->virtine_.reset();
      return;
    }
    if (lease->contexts_ > 0) {
      // Others still live here: free just this context (a failure poisons the virtine).
      if (lease->virtine_->state() == Virtine::State::kReady) (void)guest::free_handle(*lease->virtine_, handle);
      return;
    }
    if (lease->thread_shared_) {
      // The thread's virtine stays with the thread, back at the snapshot.
      if (lease->virtine_->state() != Virtine::State::kReady || !lease->virtine_->reset().ok()) lease->virtine_.reset();
      return;
    }
    to_pool.emplace(std::move(*lease->virtine_));
    lease->virtine_.reset();
  }
  // The pool resets it (or discards it if poisoned) outside the lease's lock.
  if (VirtinePool* pool = rt.thread_pool(); pool != nullptr) pool->release(std::move(*to_pool));
}

}  // namespace cryptine
