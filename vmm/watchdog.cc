#include "vmm/watchdog.h"

#include <signal.h>
#include <time.h>

#include <algorithm>
#include <mutex>
#include <thread>
#include <vector>

namespace cryptine {
namespace {

// How often the watchdog looks: late guests are stopped within one tick of their
// deadline. A coarse tick keeps an idle process nearly free of wake-ups.
constexpr auto kTick = std::chrono::milliseconds(20);

void ignore_signal(int) {}

// A raw pthread, not std::thread: after fork() the child must forget the parent's
// thread and start its own, which std::thread cannot express.
class Watchdog {
 public:
  static Watchdog& instance() {
    static Watchdog* w = new Watchdog();  // never destroyed: threads may outlive statics
    return *w;
  }

  void add(WatchdogSlot* slot) {
    std::lock_guard lock(mu_);
    slots_.push_back(slot);
    if (!started_) {
      pthread_t thread;
      if (pthread_create(&thread, nullptr, &Watchdog::loop, this) == 0) {
        pthread_detach(thread);
        started_ = true;
      }
    }
  }

  void remove(WatchdogSlot* slot) {
    std::lock_guard lock(mu_);
    slots_.erase(std::remove(slots_.begin(), slots_.end(), slot), slots_.end());
  }

 private:
  Watchdog() {
    struct sigaction sa {};
    sa.sa_handler = ignore_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(watchdog_signal(), &sa, nullptr);
    pthread_atfork([] { instance().mu_.lock(); }, [] { instance().mu_.unlock(); },
                   [] { instance().after_fork_in_child(); });
  }

  // Only the forking thread lives on in the child, and no watchdog thread.
  void after_fork_in_child() {
    new (&mu_) std::mutex();
    started_ = false;
    const pthread_t self = pthread_self();
    slots_.erase(
        std::remove_if(slots_.begin(), slots_.end(), [&](WatchdogSlot* s) { return !pthread_equal(s->owner(), self); }),
        slots_.end());
    if (!slots_.empty()) {
      WatchdogSlot* mine = slots_.front();
      slots_.clear();
      add(mine);
    }
  }

  static void* loop(void* self) {
    auto* w = static_cast<Watchdog*>(self);
    for (;;) {
      std::this_thread::sleep_for(kTick);
      const uint64_t now = monotonic_ns();
      std::lock_guard lock(w->mu_);
      for (WatchdogSlot* slot : w->slots_) slot->kick_if_late(now);
    }
    return nullptr;
  }

  std::mutex mu_;
  std::vector<WatchdogSlot*> slots_;
  bool started_ = false;
};

struct SlotRegistration {
  WatchdogSlot slot{pthread_self()};
  SlotRegistration() { Watchdog::instance().add(&slot); }
  ~SlotRegistration() { Watchdog::instance().remove(&slot); }
};

}  // namespace

int watchdog_signal() {
  return SIGRTMIN + 3;
}

uint64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

void WatchdogSlot::arm(kvm_run* run, uint32_t timeout_ms) {
  run_ = run;
  kick_done_.store(false, std::memory_order_relaxed);
  deadline_ns_.store(timeout_ms == 0 ? 0 : monotonic_ns() + uint64_t{timeout_ms} * 1000000ull,
                     std::memory_order_release);
}

bool WatchdogSlot::disarm() {
  if (deadline_ns_.exchange(0, std::memory_order_acq_rel) != kFired) return false;
  // The watchdog claimed this run; wait until it has finished touching run_ so the
  // caller may discard the vCPU.
  while (!kick_done_.load(std::memory_order_acquire)) std::this_thread::yield();
  return true;
}

bool WatchdogSlot::kick_if_late(uint64_t now_ns) {
  uint64_t deadline = deadline_ns_.load(std::memory_order_acquire);
  if (deadline == 0 || deadline == kFired || now_ns < deadline) return false;
  if (!deadline_ns_.compare_exchange_strong(deadline, kFired, std::memory_order_acq_rel)) return false;
  // immediate_exit covers a signal that lands before the thread re-enters KVM_RUN.
  __atomic_store_n(&run_->immediate_exit, 1, __ATOMIC_RELEASE);
  pthread_kill(owner_, watchdog_signal());
  kick_done_.store(true, std::memory_order_release);
  return true;
}

WatchdogSlot& watchdog_slot() {
  thread_local SlotRegistration registration;
  return registration.slot;
}

}  // namespace cryptine
