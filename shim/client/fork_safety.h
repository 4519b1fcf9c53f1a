// ForkSafeMutex: a lock that fork() never leaves held in the child.
//
// For the process-wide tables (context twins, signing shadows), whose locks are held
// only for a map operation: around fork() the forking thread takes every one of them
// (pthread_atfork prepare), so no table is inherited half-changed; the parent then
// releases them and the child, whose only thread is the forking one, makes each lock
// anew (a pthread rwlock cannot be unlocked there: it records its writer's thread id,
// which is not the child's).
//
// Locks held for long (a lease across a whole guest call, the guest's boot) must not be
// taken around fork(): see virtine_lease.cc and runtime.cc for how the child avoids them.
#pragma once

#include <shared_mutex>

namespace cryptine {

class ForkSafeMutex {
 public:
  // Registers the lock for the fork handlers; it must live until the process ends (it is
  // never unregistered) and should be made at load, before threads exist.
  ForkSafeMutex();
  ForkSafeMutex(const ForkSafeMutex&) = delete;
  ForkSafeMutex& operator=(const ForkSafeMutex&) = delete;

  void lock() { mu_.lock(); }
  void unlock() { mu_.unlock(); }
  void lock_shared() { mu_.lock_shared(); }
  void unlock_shared() { mu_.unlock_shared(); }

 private:
  friend struct ForkHandlers;
  std::shared_mutex mu_;
};

}  // namespace cryptine
