// Process-wide monitor counters, read by the shim's statistics and the benchmarks.
//
// Kept per thread and summed when read: a count adds to the calling thread's own tally (a
// plain load and store, no locked read-modify-write and no cache line shared with other
// threads), and a read sums the tallies of every thread the process has had, live or
// gone. Each total is exact; a set of them read together is not a snapshot. A child of
// fork() starts again from 0: its counts are its own.
#pragma once

#include <time.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace cryptine {

// One counter: a slot in every thread's block of tallies. Counters are made once per
// process (vmm_counters(), the shim's), at most kMaxCounters in all.
class Counter {
 public:
  static constexpr unsigned kMaxCounters = 32;

  Counter();  // takes the next slot
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  // Adds n to the calling thread's tally. A thread's block is taken at its first count
  // (one allocation per thread, reused by later threads) and given back when it exits.
  // Inline, as the accessors on a call's path are: under emulation (the KVM harness) a
  // call and its return cost 50 to 80 ns after an exit, and a virtine call counts 7 times.
  void add(uint64_t n) const;
  // The sum over all threads (relaxed reads).
  uint64_t total() const;

 private:
  void add_without_block(uint64_t n) const;  // the thread's first count, or one after it exits

  unsigned slot_;
};

namespace counters_detail {
// The calling thread's tallies, by slot: its block's while it has one, else null.
extern constinit thread_local std::atomic<uint64_t>* t_tallies;
}  // namespace counters_detail

inline void Counter::add(uint64_t n) const {
  std::atomic<uint64_t>* tallies = counters_detail::t_tallies;
  if (tallies == nullptr) return add_without_block(n);
  std::atomic<uint64_t>& t = tallies[slot_];
  t.store(t.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

struct VmmCounters {
  Counter creations;            // VMs created (cold boots and starts from a snapshot)
  Counter mappings;             // mmap calls (guest memory, run areas, snapshots)
  Counter unmappings;           // munmap of those: mappings - unmappings are live
  Counter exits;                // VM exits seen by user space
  Counter kvm_exits;            // all VM exits, KVM's own too (with kvm_exit_counting())
  Counter kvm_interrupt_exits;  // of those, for the host's interrupts (with kvm_exit_counting())
  Counter hypercalls;           // exits that were valid hypercalls
  Counter resets;               // resets to a snapshot
  Counter pages_restored;       // pages copied back from a snapshot by resets
  Counter failures;             // virtines ended by a fault, ABORT or timeout
  Counter timeouts;             // of those, stopped by the watchdog
  Counter log_dropped;          // guest LOG lines over the limit
  Counter run_ns;               // time inside KVM_RUN (the guest running, and the exits)
  Counter reset_ns;             // time in resets (pages, registers, entropy)
  Counter payload_bytes;        // request bytes copied in plus reply bytes copied out

  struct Values {
    uint64_t creations, mappings, unmappings, exits, kvm_exits, kvm_interrupt_exits, hypercalls, resets, pages_restored,
        failures, timeouts, log_dropped, run_ns, reset_ns, payload_bytes;
  };
  Values read() const {
    // Designated: a field left out is zero, never a neighbour's value.
    return {.creations = creations.total(),
            .mappings = mappings.total(),
            .unmappings = unmappings.total(),
            .exits = exits.total(),
            .kvm_exits = kvm_exits.total(),
            .kvm_interrupt_exits = kvm_interrupt_exits.total(),
            .hypercalls = hypercalls.total(),
            .resets = resets.total(),
            .pages_restored = pages_restored.total(),
            .failures = failures.total(),
            .timeouts = timeouts.total(),
            .log_dropped = log_dropped.total(),
            .run_ns = run_ns.total(),
            .reset_ns = reset_ns.total(),
            .payload_bytes = payload_bytes.total()};
  }
};

inline VmmCounters& vmm_counters() {
  static VmmCounters counters;
  return counters;
}

// The blocks of tallies made so far: at most as many as threads that counted at once.
size_t counter_blocks();

// Whether runs and resets are timed (run_ns, reset_ns: two clock reads each). On unless
// turned off: the shim times only when its counters will be read (CRYPTINE_STATS,
// CRYPTINE_STATS_FILE), as a clock read costs some 350 ns after an exit under emulation
// (a vDSO call and the page it reads), and a call made four.
void set_timing(bool on);
namespace counters_detail {
extern std::atomic<bool> g_timing;
}  // namespace counters_detail
inline bool timing() {
  return counters_detail::g_timing.load(std::memory_order_relaxed);
}

// CLOCK_MONOTONIC in nanoseconds (inline, see Counter::add).
inline uint64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

// A timed span, for the time counters: time_start() reads the clock, or gives 0 when
// timing is off; count_time() then adds the time since, or nothing for a start of 0.
inline uint64_t time_start() {
  return timing() ? monotonic_ns() : 0;
}
inline void count_time(const Counter& counter, uint64_t start) {
  if (start != 0) counter.add(monotonic_ns() - start);
}

inline void count(const Counter& counter, uint64_t n = 1) {
  counter.add(n);
}

}  // namespace cryptine
