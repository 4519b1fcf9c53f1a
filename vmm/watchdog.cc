#include "vmm/watchdog.h"

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <mutex>

namespace cryptine {

// Runs on the thread whose timer expired (SIGEV_THREAD_ID), so the RunDeadline it names
// is that thread's own and alive. Only the kernel's timer sends SI_TIMER to us; a
// process that could forge one (same user, rt_sigqueueinfo) could ptrace us anyway.
void on_watchdog_signal(int, siginfo_t* info, void*) {
  if (info == nullptr || info->si_code != SI_TIMER) return;
  auto* deadline = static_cast<RunDeadline*>(info->si_value.sival_ptr);
  if (deadline == nullptr) return;
  kvm_run* run = deadline->run_;
  if (run == nullptr) return;  // expired as the run was being disarmed
  deadline->expired_ = 1;
  // Covers a signal that lands before KVM_RUN is entered: KVM then returns EINTR at once.
  __atomic_store_n(&run->immediate_exit, 1, __ATOMIC_RELAXED);
}

// The child of fork() has no timers (POSIX timers are not inherited); the forking thread,
// the only one that lives on, makes a new one on its next run.
void forget_timer_after_fork() {
  RunDeadline& d = thread_run_deadline();
  d.timer_made_ = false;
  d.timing_ = false;
  d.run_ = nullptr;
  d.expired_ = 0;
}

namespace {

void install_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = on_watchdog_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(watchdog_signal(), &sa, nullptr);
    pthread_atfork(nullptr, nullptr, forget_timer_after_fork);
  });
}

timespec from_ms(uint32_t ms) {
  return timespec{static_cast<time_t>(ms / 1000), static_cast<long>(ms % 1000) * 1000000L};
}

}  // namespace

int watchdog_signal() {
  return SIGRTMIN + 3;
}

uint64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

RunDeadline& thread_run_deadline() {
  thread_local RunDeadline deadline;
  return deadline;
}

RunDeadline::~RunDeadline() {
  if (timer_made_) timer_delete(timer_);
}

Status RunDeadline::arm(kvm_run* run, uint32_t timeout_ms) {
  expired_ = 0;
  timing_ = false;
  if (timeout_ms == 0) return {};
  if (!timer_made_) {
    install_once();
    sigevent ev{};
    ev.sigev_notify = SIGEV_THREAD_ID;
    ev.sigev_signo = watchdog_signal();
    ev.sigev_value.sival_ptr = this;
    ev._sigev_un._tid = static_cast<pid_t>(::syscall(SYS_gettid));
    // The thread's CPU time, not the wall clock: what a runaway guest consumes. A call
    // that waits for a CPU on a busy machine does not run out of time while it waits.
    if (timer_create(CLOCK_THREAD_CPUTIME_ID, &ev, &timer_) != 0) return Error::from_errno("timer_create");
    timer_made_ = true;
  }
  // A thread that blocks every signal (a common worker-thread set-up) must still be
  // stoppable: our signal is let through for the run alone.
  sigset_t ours, blocked;
  sigemptyset(&ours);
  sigaddset(&ours, watchdog_signal());
  if (pthread_sigmask(SIG_BLOCK, nullptr, &blocked) != 0) return Error(ErrorCode::kSystem, "pthread_sigmask");
  unblocked_ = sigismember(&blocked, watchdog_signal()) == 1;
  if (unblocked_) pthread_sigmask(SIG_UNBLOCK, &ours, nullptr);
  run_ = run;
  const itimerspec when{{0, 0}, from_ms(timeout_ms)};
  if (timer_settime(timer_, 0, &when, nullptr) != 0) {
    const Error error = Error::from_errno("timer_settime");
    run_ = nullptr;
    restore_mask();
    return error;
  }
  timing_ = true;
  return {};
}

void RunDeadline::restore_mask() {
  if (!unblocked_) return;
  sigset_t ours;
  sigemptyset(&ours);
  sigaddset(&ours, watchdog_signal());
  pthread_sigmask(SIG_BLOCK, &ours, nullptr);
  unblocked_ = false;
}

bool RunDeadline::disarm() {
  if (!timing_) return false;
  const itimerspec off{};
  // Cannot fail for a timer we made; were it to, the expiry would find run_ cleared.
  (void)timer_settime(timer_, 0, &off, nullptr);
  timing_ = false;
  kvm_run* run = run_;
  run_ = nullptr;
  restore_mask();  // after the timer is off: an expiry already sent is handled first
  const bool expired = expired_ != 0;
  if (expired) __atomic_store_n(&run->immediate_exit, 0, __ATOMIC_RELAXED);
  return expired;
}

}  // namespace cryptine
