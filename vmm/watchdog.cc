#include "vmm/watchdog.h"

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <mutex>

#include "vmm/kvm_system.h"
#include "vmm/kvm_uapi_x86_64.h"

namespace cryptine {

// Runs on the thread whose timer expired (SIGEV_THREAD_ID), so the RunDeadline it names
// is that thread's own and alive. Only the kernel's timer sends SI_TIMER to us; a
// process that could forge one (same user, rt_sigqueueinfo) could ptrace us anyway.
void on_watchdog_signal(int, siginfo_t* info, void*) {
  if (info == nullptr || info->si_code != SI_TIMER) return;
  auto* deadline = static_cast<RunDeadline*>(info->si_value.sival_ptr);
  if (deadline != nullptr) deadline->expired();
}

// The child of fork() has no timers (POSIX timers are not inherited) and no pending
// signals; the forking thread, the only one that lives on, makes a new timer on its next run.
void forget_timer_after_fork() {
  RunDeadline& d = thread_run_deadline();
  d.timer_made_ = false;
  d.per_run_ = false;
  d.set_ = false;
  d.run_ = nullptr;
  d.stopped_ = 0;
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

// Orders the fields the handler reads against the main flow's writes (same thread).
void fence() {
  std::atomic_signal_fence(std::memory_order_seq_cst);
}

}  // namespace

int watchdog_signal() {
  return SIGRTMIN + 3;
}

Status let_only_the_watchdog_signal_in(int vcpu_fd) {
  // The kernel's sigset: bit n-1 for signal n. KVM leaves SIGKILL and SIGSTOP deliverable.
  const uint64_t blocked = ~(uint64_t{1} << (watchdog_signal() - 1));
  FlexBuffer<KvmSignalMaskHeader, uint8_t> mask(sizeof(blocked));
  mask.header()->len = sizeof(blocked);
  std::memcpy(mask.entries(), &blocked, sizeof(blocked));
  CRYPTINE_TRY(kvm_ioctl(vcpu_fd, kKvmSetSignalMask, "KVM_SET_SIGNAL_MASK", mask.get()));
  return {};
}

RunDeadline& thread_run_deadline() {
  thread_local RunDeadline deadline;
  return deadline;
}

RunDeadline::~RunDeadline() {
  if (timer_made_) timer_delete(timer_);
}

bool RunDeadline::set(uint32_t ms) {
  timer_sets_ = timer_sets_ + 1;
  set_for_ms_ = ms;
  set_ = true;
  const itimerspec when{{0, 0}, from_ms(ms)};
  if (timer_settime(timer_, 0, &when, nullptr) == 0) return true;
  set_ = false;
  return false;
}

// From the handler, or from interrupted() for an expiry that waited behind the mask.
void RunDeadline::expired() {
  set_ = false;  // a one-shot timer: it has gone off
  kvm_run* run = run_;
  if (run == nullptr) return;  // between runs: the next run sets it again
  if (seen_) {
    // Running since the last expiry, or since this run set the timer: a whole limit.
    stopped_ = 1;
    // Covers an expiry that lands before KVM_RUN is entered: KVM then returns EINTR at once.
    __atomic_store_n(&run->immediate_exit, 1, __ATOMIC_RELAXED);
    return;
  }
  // A run that began while the timer ran: it gets a limit from here. (timer_settime is
  // async-signal-safe; it cannot fail for a timer we made, and should it, the next
  // run sets the timer again.)
  seen_ = true;
  (void)set(limit_ms_);
}

Status RunDeadline::arm(kvm_run* run, uint32_t timeout_ms) {
  stopped_ = 0;
  if (timeout_ms == 0) return {};  // run_ stays null: no run to judge
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
    // A thread that blocks our signal (many servers' workers block all) would have an
    // expiry between calls wait on it, where a sigwait() or signalfd of its own could take it.
    sigset_t blocked;
    per_run_ = pthread_sigmask(SIG_BLOCK, nullptr, &blocked) != 0 || sigismember(&blocked, watchdog_signal()) == 1;
  }
  seen_ = false;
  limit_ms_ = timeout_ms;
  fence();
  run_ = run;
  fence();
  // Set it unless it runs with no longer than this run's limit left.
  if (!set_ || set_for_ms_ > timeout_ms) {
    if (!set(timeout_ms)) {
      const Error error = Error::from_errno("timer_settime");
      run_ = nullptr;
      return error;
    }
    seen_ = true;  // its expiry ends this run
  }
  return {};
}

bool RunDeadline::interrupted() {
  if (stopped_ != 0) return true;
  sigset_t ours;
  sigemptyset(&ours);
  sigaddset(&ours, watchdog_signal());
  siginfo_t info{};
  const timespec now{0, 0};
  if (sigtimedwait(&ours, &info, &now) != watchdog_signal() || info.si_code != SI_TIMER ||
      info.si_value.sival_ptr != this)
    return false;  // none waiting: another signal KVM cannot hold back (SIGSTOP's stop and continue)
  // It waited behind the thread's mask: from now on the timer is set around each run only.
  per_run_ = true;
  // Taken late, it may predate the timer's latest setting (then the timer still runs) or
  // its unsetting (set_ is false): only one that left the timer expired is this run's.
  itimerspec left{};
  if (set_ && timer_gettime(timer_, &left) == 0 && left.it_value.tv_sec == 0 && left.it_value.tv_nsec == 0) expired();
  return stopped_ != 0;
}

bool RunDeadline::disarm() {
  kvm_run* run = run_;
  if (run == nullptr) return false;
  if (per_run_ && set_) {
    set_ = false;
    const itimerspec off{};
    (void)timer_settime(timer_, 0, &off, nullptr);  // cannot fail for a timer we made
  }
  fence();
  run_ = nullptr;
  fence();
  const bool stopped = stopped_ != 0;
  if (stopped) __atomic_store_n(&run->immediate_exit, 0, __ATOMIC_RELAXED);
  return stopped;
}

}  // namespace cryptine
