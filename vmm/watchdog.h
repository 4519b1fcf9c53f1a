// Watchdog: stops a guest that runs past its deadline.
//
// Each thread that runs a vCPU owns one POSIX timer on its own CPU-time clock
// (timer_create(CLOCK_THREAD_CPUTIME_ID) with SIGEV_THREAD_ID), made on its first run.
// Arming sets it; at expiry the kernel itself signals that same thread, whose handler sets
// kvm_run.immediate_exit, so KVM_RUN returns EINTR whether the signal lands while the
// guest runs or just before it enters. The limit is on what the call consumes, so a
// call that waits for a CPU on a loaded machine is not stopped for it (a wall-clock limit
// was), and no other thread has to be scheduled for the limit to hold (a watchdog
// thread had to be).
#pragma once

#include <linux/kvm.h>
#include <signal.h>
#include <time.h>

#include <cstdint>

#include "vmm/result.h"

namespace cryptine {

// The real-time signal the timers send (its handler only marks the run as stopped;
// SA_RESTART keeps the thread's other system calls unaffected).
int watchdog_signal();

// The calling thread's deadline for one KVM_RUN (or one run() with its LOG re-entries).
class RunDeadline {
 public:
  // Starts the clock on `run` for at most timeout_ms (0: no limit). An error if the
  // thread's timer cannot be made or set (then the guest must not be run).
  Status arm(kvm_run* run, uint32_t timeout_ms);
  // Stops the clock; true if it expired (the run must be treated as timed out). Clears
  // the immediate_exit that the expiry set.
  bool disarm();

 private:
  friend void on_watchdog_signal(int, siginfo_t*, void*);
  friend RunDeadline& thread_run_deadline();
  friend void forget_timer_after_fork();
  RunDeadline() = default;
  ~RunDeadline();
  void restore_mask();

  bool timer_made_ = false;
  timer_t timer_{};
  bool timing_ = false;     // the timer is set (a run has a limit)
  bool unblocked_ = false;  // the thread blocked our signal; let through for this run
  // Read by the signal handler, which runs on this same thread.
  kvm_run* volatile run_ = nullptr;
  volatile sig_atomic_t expired_ = 0;
};

// The calling thread's deadline (its timer is made on the first arm()).
RunDeadline& thread_run_deadline();

uint64_t monotonic_ns();

}  // namespace cryptine
