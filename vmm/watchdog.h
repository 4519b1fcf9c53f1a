// Watchdog: stops a guest that runs past its deadline.
//
// Each thread that runs a vCPU owns one POSIX timer on its own CPU-time clock
// (timer_create(CLOCK_THREAD_CPUTIME_ID) with SIGEV_THREAD_ID), made on its first run. At
// expiry the kernel itself signals that same thread. The limit is on what the call
// consumes, so a call that waits for a CPU on a loaded machine is not stopped for it (a
// wall-clock limit was), and no other thread has to be scheduled for the limit to hold
// (a watchdog thread had to be).
//
// A call makes no system call for its deadline. The timer stays set across calls and
// judges, when it expires, the run it finds: a run it finds a second time, one limit
// later, has used at least its limit and is stopped (the handler sets
// kvm_run.immediate_exit, so KVM_RUN returns EINTR); a run it sees first gets one more
// limit; no run leaves it unset until the next call sets it again. So a run is stopped
// after between one and two limits of CPU time (exactly one when the timer was unset
// at its start). Every vCPU lets only this signal in during KVM_RUN
// (KVM_SET_SIGNAL_MASK), so it reaches a thread that blocks it, and the program's own
// signals wait until KVM_RUN returns. A thread that blocked this signal at its first
// run (or is found to later) has its timer set and unset around each run instead, two
// system calls, so that no expiry is left pending on it between calls.
#pragma once

#include <linux/kvm.h>
#include <signal.h>
#include <time.h>

#include <cstdint>

#include "vmm/result.h"

namespace cryptine {

// The real-time signal the timers send (its handler only judges the run; SA_RESTART
// keeps the thread's other system calls unaffected).
int watchdog_signal();

// KVM_SET_SIGNAL_MASK for a new vCPU: during its KVM_RUN every signal is blocked but the
// watchdog's (whatever the running thread's own mask).
Status let_only_the_watchdog_signal_in(int vcpu_fd);

// The calling thread's deadline for one run() (one KVM_RUN, or several with its LOG
// re-entries).
class RunDeadline {
 public:
  // Starts judging `run` against timeout_ms (0: no limit). An error if the thread's timer
  // cannot be made or set (then the guest must not be run).
  Status arm(kvm_run* run, uint32_t timeout_ms);
  // KVM_RUN returned EINTR and the run is not stopped: the expiry may be pending behind
  // the thread's own mask (it gets through only inside KVM_RUN). Takes and judges it;
  // true if the run is now out of time.
  bool interrupted();
  // Ends the run; true if it was stopped (it must be treated as timed out). Clears the
  // immediate_exit that the stop set.
  bool disarm();

  // The times this thread set its timer (tests: a thread's calls in a row set it once).
  uint64_t timer_sets() const { return timer_sets_; }

 private:
  friend void on_watchdog_signal(int, siginfo_t*, void*);
  friend RunDeadline& thread_run_deadline();
  friend void forget_timer_after_fork();
  RunDeadline() = default;
  ~RunDeadline();
  bool set(uint32_t ms);
  void expired();  // async-signal-safe: judges the run in progress

  bool timer_made_ = false;
  timer_t timer_{};
  bool per_run_ = false;  // the thread blocks our signal: set and unset around each run
  volatile uint64_t timer_sets_ = 0;
  // Shared with the signal handler, which runs on this same thread.
  volatile bool set_ = false;  // the timer runs (set, not yet expired)
  volatile uint32_t set_for_ms_ = 0;
  kvm_run* volatile run_ = nullptr;  // the run being judged, if any
  volatile uint32_t limit_ms_ = 0;
  volatile bool seen_ = false;  // an expiry (or the setting that will expire) has found this run
  volatile sig_atomic_t stopped_ = 0;
};

// The calling thread's deadline (its timer is made on the first arm()).
RunDeadline& thread_run_deadline();

}  // namespace cryptine
