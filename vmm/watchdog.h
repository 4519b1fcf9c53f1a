// Watchdog: stops a guest that runs past its deadline.
//
// A background thread (started on first use) scans the armed vCPU threads and kicks
// one that is late: it sets kvm_run.immediate_exit and sends kWatchdogSignal to that
// thread, so KVM_RUN returns EINTR. Arming costs the vCPU thread one clock read and
// two atomic stores, no system call.
#pragma once

#include <linux/kvm.h>
#include <pthread.h>

#include <atomic>
#include <cstdint>

namespace cryptine {

// The real-time signal used to kick a vCPU thread out of KVM_RUN (its handler does
// nothing; SA_RESTART keeps other system calls of that thread unaffected).
int watchdog_signal();

class WatchdogSlot {
 public:
  explicit WatchdogSlot(pthread_t owner) : owner_(owner) {}
  pthread_t owner() const { return owner_; }

  // Arms the calling thread's slot for a KVM_RUN on `run` lasting at most timeout_ms
  // (0: no limit).
  void arm(kvm_run* run, uint32_t timeout_ms);
  // Disarms; true if the watchdog fired (the run must be treated as timed out).
  bool disarm();

  // Used by the watchdog thread.
  bool kick_if_late(uint64_t now_ns);

 private:
  static constexpr uint64_t kFired = ~uint64_t{0};
  std::atomic<uint64_t> deadline_ns_{0};  // 0: not running; kFired: kicked
  std::atomic<bool> kick_done_{false};
  kvm_run* run_ = nullptr;
  const pthread_t owner_;
};

// The calling thread's slot, registered with the watchdog (and its thread started) on
// first use and unregistered when the thread exits.
WatchdogSlot& watchdog_slot();

uint64_t monotonic_ns();

}  // namespace cryptine
