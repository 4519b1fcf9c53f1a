// Leases: the virtine that one or more contexts live in, chosen by CRYPTINE_SCOPE.
//
// scope=context: each context that is initialised gets a virtine of its own; a copy of
// a context lives beside it in the same virtine.
// scope=thread: all contexts a thread initialises share that thread's virtine, up to
// a limit below the guest's table size; then the thread moves to a fresh virtine.
// When the last context of a lease goes, its virtine is reset to the snapshot (all its
// keys gone) and, unless it is the thread's, given back to the calling thread's pool.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>

#include "vmm/function_ref.h"
#include "vmm/result.h"
#include "vmm/virtine.h"

namespace cryptine {

class Lease {
 public:
  Lease();

  // Runs `fn` on the virtine, one caller at a time (copies of a context may be used on
  // different threads). An error when the virtine is gone: poisoned by an earlier call,
  // or made by the parent before a fork (a child cannot run its parent's VMs); then `fn`
  // did not run and *unusable, if given, is set (as usable() would have said).
  Status with_virtine(FunctionRef<Status(Virtine&)> fn, bool* unusable = nullptr);

  // A context joined this lease (a copy of one in it).
  void add_context();

  // Whether the lease was made in this process (not by the parent before a fork()).
  bool ours() const;

  // Whether a call could run on it now: ours, the process not confined, its virtine not
  // failed. (A lease that is not stays so.)
  bool usable();

 private:
  friend Result<std::shared_ptr<Lease>> lease_for_new_context();
  friend Result<std::shared_ptr<Lease>> thread_lease();

  // A lease on a virtine from the thread's pool, holding `contexts`; with `per_thread`, it
  // becomes the thread's lease.
  static Result<std::shared_ptr<Lease>> make(bool per_thread, uint32_t contexts);
  friend void drop_context(const std::shared_ptr<Lease>& lease, uint32_t handle);

  // Its virtine is there and has not failed; with mu_ held.
  bool virtine_ready() const { return virtine_.has_value() && virtine_->state() == Virtine::State::kReady; }

  // Held across a whole guest call, so a forked child may inherit it held: the child
  // never takes the lock of a lease it did not make (see ours()), and fork() does not
  // wait for it.
  std::mutex mu_;
  std::optional<Virtine> virtine_;
  uint32_t contexts_ = 0;
  const uint64_t fork_generation_;  // fixed before the lease is shared: read without mu_
  bool thread_shared_ = false;      // the thread's current lease: kept, not pooled, when empty
};

using LeaseRef = std::shared_ptr<Lease>;

// The lease for a context being initialised, by CRYPTINE_SCOPE (see above). Its
// context count includes the new context.
Result<LeaseRef> lease_for_new_context();

// scope=thread: the thread's lease as it is, for a call that leaves nothing in the guest
// (a one-shot) and so joins no context to it: its count is unchanged, so nothing resets
// it after the call; it is reset when a context of its own goes and leaves none, as ever.
// Made (holding no context) when the thread has none or its virtine failed.
Result<LeaseRef> thread_lease();

// The context `handle` living in `lease` was freed or reset: its guest context is freed
// (unless the virtine is about to be reset anyway), then see the header comment.
void drop_context(const LeaseRef& lease, uint32_t handle);

}  // namespace cryptine
