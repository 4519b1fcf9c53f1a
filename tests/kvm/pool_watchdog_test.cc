// The per-thread pool of ready virtines, and the watchdog that stops a spinning guest.
#include <gtest/gtest.h>
#include <dirent.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <optional>
#include <thread>
#include <vector>

#include "tests/kvm/snapshot_fixture.h"
#include "vmm/counters.h"
#include "abi/guest_abi.h"
#include "vmm/virtine_pool.h"
#include "vmm/watchdog.h"

namespace cryptine {
namespace {

using testing_support::snapshot_of;

uint64_t mailbox_word(Virtine& v) {
  uint64_t word = 0;
  EXPECT_TRUE(v.memory().read(GuestAddr{CRYPTINE_MAILBOX_ADDR}, {reinterpret_cast<uint8_t*>(&word), 8}).ok());
  return word;
}

// The spin guest's request: its mailbox's first quadword (1 spins forever, 3 answers at once).
bool set_request(Virtine& v, uint64_t word) {
  return v.memory().write(GuestAddr{CRYPTINE_MAILBOX_ADDR}, {reinterpret_cast<const uint8_t*>(&word), 8}).ok();
}

TEST(Pool, HitsCreateNoVmAndMapNothing) {
  auto s = snapshot_of("null-call.elf");
  ASSERT_NE(s.snapshot, nullptr);
  VirtinePool pool(*s.kvm, s.snapshot, VirtineConfig{}, 2);
  ASSERT_TRUE(pool.fill().ok());
  EXPECT_EQ(pool.ready(), 2u);

  const auto before = vmm_counters().read();
  for (int i = 0; i < 20; ++i) {
    auto v = pool.acquire();
    ASSERT_TRUE(v.ok()) << v.error().message();
    auto call = v->run();
    ASSERT_TRUE(call.ok()) << call.error().message();
    EXPECT_EQ(call->kind, HypercallKind::kDone);
    // Every virtine starts from the snapshot, so the guest's counter is always 1.
    EXPECT_EQ(mailbox_word(*v), 1u);
    pool.release(std::move(v).value());
  }
  const auto after = vmm_counters().read();
  EXPECT_EQ(after.creations, before.creations);
  EXPECT_EQ(after.mappings, before.mappings);
  EXPECT_EQ(after.exits - before.exits, 20u);  // one exit per call
  EXPECT_EQ(after.resets - before.resets, 20u);
  EXPECT_EQ(pool.counters().hits, 20u);
  EXPECT_EQ(pool.counters().misses, 0u);
  EXPECT_EQ(pool.ready(), 2u);
}

TEST(Pool, EmptyPoolCreatesAndIsBounded) {
  auto s = snapshot_of("null-call.elf");
  ASSERT_NE(s.snapshot, nullptr);
  VirtinePool pool(*s.kvm, s.snapshot, VirtineConfig{}, 1);
  auto a = pool.acquire();
  auto b = pool.acquire();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(pool.counters().misses, 2u);
  pool.release(std::move(a).value());
  pool.release(std::move(b).value());
  EXPECT_EQ(pool.ready(), 1u);  // the second is destroyed, not kept
}

// A burst that repeats (the contexts of a TLS handshake, each in a virtine of its own)
// creates VMs once; when demand falls, the pool shrinks back to its minimum.
TEST(Pool, KeepsARecentBurstAndShrinksWhenDemandFalls) {
  auto s = snapshot_of("null-call.elf");
  ASSERT_NE(s.snapshot, nullptr);
  VirtinePool pool(*s.kvm, s.snapshot, VirtineConfig{}, 1, 64);
  ASSERT_TRUE(pool.fill().ok());
  constexpr int kBurst = 12;
  auto burst = [&] {
    std::vector<Virtine> out;
    for (int i = 0; i < kBurst; ++i) {
      auto v = pool.acquire();
      ASSERT_TRUE(v.ok()) << v.error().message();
      out.push_back(std::move(v).value());
    }
    for (Virtine& v : out) pool.release(std::move(v));
  };
  burst();
  EXPECT_EQ(pool.counters().misses, kBurst - 1u);  // the one filled, then created
  EXPECT_EQ(pool.ready(), size_t{kBurst});
  const auto before = vmm_counters().read();
  for (int round = 0; round < 5; ++round) burst();
  EXPECT_EQ(vmm_counters().read().creations, before.creations) << "a repeated burst created VMs";
  EXPECT_EQ(pool.counters().misses, kBurst - 1u);
  EXPECT_EQ(pool.ready(), size_t{kBurst});
  // One at a time for two windows: the burst is forgotten, the pool back at its minimum.
  for (uint64_t i = 0; i < 2 * VirtinePool::kDecayReleases; ++i) {
    auto v = pool.acquire();
    ASSERT_TRUE(v.ok());
    pool.release(std::move(v).value());
  }
  EXPECT_EQ(pool.ready(), 1u);
  EXPECT_EQ(pool.counters().trimmed, kBurst - 1u);
  EXPECT_EQ(pool.counters().discarded, 0u);
}

TEST(Pool, KeepsNoMoreThanItsMaximum) {
  auto s = snapshot_of("null-call.elf");
  ASSERT_NE(s.snapshot, nullptr);
  VirtinePool pool(*s.kvm, s.snapshot, VirtineConfig{}, 0, 4);
  std::vector<Virtine> out;
  for (int i = 0; i < 10; ++i) out.push_back(pool.acquire().value());
  for (Virtine& v : out) pool.release(std::move(v));
  EXPECT_EQ(pool.ready(), 4u);
  EXPECT_EQ(pool.counters().trimmed, 6u);
  const auto before = vmm_counters().read();
  EXPECT_TRUE(pool.acquire().ok());
  EXPECT_EQ(vmm_counters().read().creations, before.creations);  // a hit
}

TEST(Watchdog, SpinningGuestIsStoppedAndTheNextCallWorks) {
  VirtineConfig config;
  config.timeout_ms = 300;
  auto s = snapshot_of("spin.elf", config);
  ASSERT_NE(s.snapshot, nullptr);
  VirtinePool pool(*s.kvm, s.snapshot, config, 1);
  ASSERT_TRUE(pool.fill().ok());
  const auto before = vmm_counters().read();

  auto spinner = pool.acquire();
  ASSERT_TRUE(spinner.ok());
  ASSERT_TRUE(set_request(*spinner, 1));
  const uint64_t start = monotonic_ns();
  auto call = spinner->run();
  const uint64_t elapsed_ms = (monotonic_ns() - start) / 1000000;
  ASSERT_FALSE(call.ok());
  EXPECT_EQ(call.error().code(), ErrorCode::kTimeout) << call.error().message();
  EXPECT_GE(elapsed_ms, config.timeout_ms);  // not stopped early
  EXPECT_EQ(spinner->state(), Virtine::State::kPoisoned);
  pool.release(std::move(spinner).value());
  EXPECT_EQ(pool.counters().discarded, 1u);
  EXPECT_EQ(pool.ready(), 1u);  // refilled

  auto next = pool.acquire();
  ASSERT_TRUE(next.ok());
  auto ok = next->run();
  ASSERT_TRUE(ok.ok()) << ok.error().message();
  EXPECT_EQ(ok->kind, HypercallKind::kDone);

  const auto after = vmm_counters().read();
  EXPECT_EQ(after.timeouts - before.timeouts, 1u);
  EXPECT_EQ(after.failures - before.failures, 1u);
}

size_t threads_in_process() {
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return 0;
  size_t n = 0;
  while (const dirent* e = readdir(dir))
    if (e->d_name[0] != '.') ++n;
  closedir(dir);
  return n;
}

// The deadline is the vCPU thread's own timer: no other thread has to be scheduled to
// stop a guest (a watchdog thread was, and on a loaded machine it sometimes was not run
// before a slow call had finished). So a timed-out run leaves the process with no thread
// of ours, and a thread that blocks every signal is stopped all the same.
TEST(Watchdog, StopsAThreadThatBlocksAllSignalsWithNoThreadOfItsOwn) {
  VirtineConfig config;
  config.timeout_ms = 300;
  auto s = snapshot_of("spin.elf", config);
  ASSERT_NE(s.snapshot, nullptr);
  ASSERT_EQ(threads_in_process(), 1u) << "the test starts with only its main thread";

  ErrorCode code = ErrorCode::kSystem;
  bool ran = false, still_blocked = false;
  size_t threads_after_run = 0;
  std::thread runner([&] {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);  // as many servers' worker threads do
    auto v = Virtine::from_snapshot(*s.kvm, s.snapshot, config);
    if (!v.ok()) return;
    if (!set_request(*v, 1)) return;  // spin forever: only the deadline ends it
    auto call = v->run();
    ran = true;
    code = call.ok() ? ErrorCode::kSystem : call.error().code();
    threads_after_run = threads_in_process();
    sigset_t now;
    pthread_sigmask(SIG_BLOCK, nullptr, &now);
    still_blocked = sigismember(&now, watchdog_signal()) == 1;
  });
  runner.join();
  ASSERT_TRUE(ran);
  EXPECT_EQ(code, ErrorCode::kTimeout);
  EXPECT_EQ(threads_after_run, 2u) << "main and the runner, no watchdog thread";
  EXPECT_TRUE(still_blocked) << "the thread's own signal mask is given back";
}

std::atomic<int> g_signals_delivered{0};
void count_signal(int) {
  g_signals_delivered.fetch_add(1);
}

TEST(Watchdog, ProgramSignalsWaitUntilKvmRunReturns) {
  // A program's own signals (SIGCHLD, timers...) are held back while the guest runs
  // (the vCPU's KVM_SET_SIGNAL_MASK lets only the watchdog's in) and are delivered when
  // KVM_RUN returns: the call is neither cut short nor re-entered for them. On a thread
  // of its own, whose timer this run sets, so that no expiry interrupts it either.
  auto s = snapshot_of("spin.elf");
  ASSERT_NE(s.snapshot, nullptr);
  struct sigaction sa {
  }, old{};
  sa.sa_handler = count_signal;
  sigemptyset(&sa.sa_mask);
  ASSERT_EQ(0, sigaction(SIGUSR1, &sa, &old));
  g_signals_delivered = 0;
  std::atomic<bool> running{true}, ready{false}, pest_done{false};
  std::atomic<int> sent{0};
  pthread_t vcpu_thread{};
  Result<Hypercall> call = Error(ErrorCode::kSystem, "not run");
  int sent_by_return = 0;
  uint64_t result[3] = {};
  VirtineCounters counters{};
  std::thread runner([&] {
    auto v = Virtine::from_snapshot(*s.kvm, s.snapshot, VirtineConfig{});
    if (!v.ok()) return;
    const uint64_t request[2] = {2, 20000000};  // count down 20 M: long enough to be hit
    if (!v->memory().write(GuestAddr{CRYPTINE_MAILBOX_ADDR}, {reinterpret_cast<const uint8_t*>(request), 16}).ok())
      return;
    vcpu_thread = pthread_self();
    ready = true;
    while (sent.load() == 0) std::this_thread::yield();
    call = v->run();
    sent_by_return = sent.load();
    running = false;
    while (!pest_done.load()) std::this_thread::yield();  // no signal to a thread that is gone
    (void)v->memory().read(GuestAddr{CRYPTINE_MAILBOX_ADDR}, {reinterpret_cast<uint8_t*>(result), 24});
    counters = v->counters();
  });
  std::thread pest([&] {
    while (!ready.load()) std::this_thread::yield();
    while (running.load()) {
      pthread_kill(vcpu_thread, SIGUSR1);
      sent.fetch_add(1);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    pest_done = true;
  });
  runner.join();
  pest.join();
  sigaction(SIGUSR1, &old, nullptr);

  ASSERT_TRUE(call.ok()) << call.error().message();
  EXPECT_EQ(call->kind, HypercallKind::kDone);
  EXPECT_EQ(result[2], 0x600du);  // the count-down finished
  EXPECT_GT(sent_by_return, 1);
  EXPECT_GT(g_signals_delivered.load(), 0);  // none lost
  EXPECT_EQ(counters.interruptions, 0u);     // KVM_RUN was never cut short for them
  EXPECT_EQ(counters.exits, 1u);
  EXPECT_EQ(counters.hypercalls, 1u);
}

uint64_t thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

// Keeps the thread on the CPU, natively, for `ms` of its CPU time.
void burn_cpu_ms(uint64_t ms) {
  const uint64_t until = thread_cpu_ms() + ms;
  while (thread_cpu_ms() < until) {
  }
}

bool watchdog_signal_pending() {
  sigset_t pending;
  sigpending(&pending);
  return sigismember(&pending, watchdog_signal()) == 1;
}

// A virtine of the spin guest whose requests answer DONE at once.
std::optional<Virtine> quick_virtine(const testing_support::SnapshotOf& s, const VirtineConfig& config) {
  auto v = Virtine::from_snapshot(*s.kvm, s.snapshot, config);
  if (!v.ok()) return std::nullopt;
  if (!set_request(*v, 3)) return std::nullopt;
  return std::move(v).value();
}

// A call makes no system call for its deadline: the thread's timer, set by its first
// call, judges whichever run it finds when it expires. One that finds none is left unset
// (a no-op signal), and the next call sets it again.
TEST(Watchdog, CallsInARowSetTheThreadsTimerOnce) {
  VirtineConfig config;
  config.timeout_ms = 100;
  auto s = snapshot_of("spin.elf", config);
  ASSERT_NE(s.snapshot, nullptr);
  int ok_calls = 0;
  uint64_t sets_after_calls = 0, sets_after_idle_expiry = 0;
  bool pending = true;
  std::thread caller([&] {  // a thread of its own: its deadline starts unmade
    auto v = quick_virtine(s, config);
    if (!v) return;
    for (int i = 0; i < 100; ++i) ok_calls += v->run().ok() ? 1 : 0;
    sets_after_calls = thread_run_deadline().timer_sets();
    burn_cpu_ms(250);  // the timer expires with no run: nothing to stop
    ok_calls += v->run().ok() ? 1 : 0;
    sets_after_idle_expiry = thread_run_deadline().timer_sets();
    pending = watchdog_signal_pending();
  });
  caller.join();
  EXPECT_EQ(ok_calls, 101);
  EXPECT_EQ(sets_after_calls, 1u);
  EXPECT_EQ(sets_after_idle_expiry, 2u);
  EXPECT_FALSE(pending);
}

// The timer a run finds running may expire at once: the run is then given a whole limit
// more, and stopped at the next expiry. So between one and two limits of CPU time.
TEST(Watchdog, ASpinAfterCallsInARowIsStoppedWithinTwoLimits) {
  VirtineConfig config;
  config.timeout_ms = 200;
  auto s = snapshot_of("spin.elf", config);
  ASSERT_NE(s.snapshot, nullptr);
  ErrorCode code = ErrorCode::kSystem;
  uint64_t spin_cpu_ms = 0;
  int ok_calls = 0;
  std::thread caller([&] {
    auto v = quick_virtine(s, config);
    if (!v) return;
    for (int i = 0; i < 20; ++i) ok_calls += v->run().ok() ? 1 : 0;
    burn_cpu_ms(150);  // most of the running timer's limit gone before the spin starts
    if (!set_request(*v, 1)) return;
    const uint64_t before = thread_cpu_ms();
    auto call = v->run();
    spin_cpu_ms = thread_cpu_ms() - before;
    code = call.ok() ? ErrorCode::kSystem : call.error().code();
  });
  caller.join();
  EXPECT_EQ(ok_calls, 20);
  EXPECT_EQ(code, ErrorCode::kTimeout);
  EXPECT_GE(spin_cpu_ms, config.timeout_ms);  // not stopped early by the timer it found
  // 2 limits, and the ticks at which the kernel checks CPU timers (4 ms at HZ=250) twice.
  EXPECT_LE(spin_cpu_ms, 2 * config.timeout_ms + 50);
}

// A thread that blocks our signal has its timer set and unset around each run, so that
// no expiry is left pending on it between calls (a sigwait() of its own could take one).
TEST(Watchdog, AThreadBlockingOurSignalIsLeftNoExpiryBetweenCalls) {
  VirtineConfig config;
  config.timeout_ms = 100;
  auto s = snapshot_of("spin.elf", config);
  ASSERT_NE(s.snapshot, nullptr);
  int ok_calls = 0;
  uint64_t sets = 0;
  bool pending = true;
  std::thread caller([&] {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    auto v = quick_virtine(s, config);
    if (!v) return;
    for (int i = 0; i < 3; ++i) ok_calls += v->run().ok() ? 1 : 0;
    burn_cpu_ms(250);  // past the limit: a timer left set would have expired by now
    sets = thread_run_deadline().timer_sets();
    pending = watchdog_signal_pending();
  });
  caller.join();
  EXPECT_EQ(ok_calls, 3);
  EXPECT_EQ(sets, 3u);  // one per run
  EXPECT_FALSE(pending);
}

// A thread that blocks our signal only after its first call: the expiry waits behind its
// mask, and the next KVM_RUN, which lets it in, returns EINTR at once. It is taken there
// and judged as an expiry that found this run for the first time (the run goes on), and
// the thread's timer is from then on set around each run only.
TEST(Watchdog, AnExpiryThatWaitedBehindTheMaskIsTakenAtTheNextRun) {
  VirtineConfig config;
  config.timeout_ms = 100;
  auto s = snapshot_of("spin.elf", config);
  ASSERT_NE(s.snapshot, nullptr);
  bool first = false, second = false, waited = false, pending_after = true;
  uint64_t interruptions = 0;
  std::thread caller([&] {
    auto v = quick_virtine(s, config);
    if (!v) return;
    first = v->run().ok();
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    burn_cpu_ms(250);
    waited = watchdog_signal_pending();
    second = v->run().ok();
    interruptions = v->counters().interruptions;
    burn_cpu_ms(250);
    pending_after = watchdog_signal_pending();
  });
  caller.join();
  EXPECT_TRUE(first);
  EXPECT_TRUE(waited) << "the expiry after the first call should wait behind the mask";
  EXPECT_TRUE(second) << "a late expiry must not stop the next call";
  EXPECT_EQ(interruptions, 1u);
  EXPECT_FALSE(pending_after);
}

}  // namespace
}  // namespace cryptine
