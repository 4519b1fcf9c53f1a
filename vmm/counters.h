// Process-wide monitor counters, read by the shim's statistics and the benchmarks.
//
// Relaxed atomics: each is an independent tally, read for reporting only.
#pragma once

#include <atomic>
#include <cstdint>

namespace cryptine {

struct VmmCounters {
  std::atomic<uint64_t> creations{0};       // VMs created (cold boots and starts from a snapshot)
  std::atomic<uint64_t> mappings{0};        // mmap calls (guest memory, run areas, snapshots)
  std::atomic<uint64_t> unmappings{0};      // munmap of those: mappings - unmappings are live
  std::atomic<uint64_t> exits{0};           // VM exits seen by user space
  std::atomic<uint64_t> kvm_exits{0};       // all VM exits, KVM's own too (with kvm_exit_counting())
  std::atomic<uint64_t> hypercalls{0};      // exits that were valid hypercalls
  std::atomic<uint64_t> resets{0};          // resets to a snapshot
  std::atomic<uint64_t> pages_restored{0};  // pages copied back from a snapshot by resets
  std::atomic<uint64_t> failures{0};        // virtines ended by a fault, ABORT or timeout
  std::atomic<uint64_t> timeouts{0};        // of those, stopped by the watchdog
  std::atomic<uint64_t> log_dropped{0};     // guest LOG lines over the limit
  std::atomic<uint64_t> run_ns{0};          // time inside KVM_RUN (the guest running, and the exits)
  std::atomic<uint64_t> reset_ns{0};        // time in resets (pages, registers, entropy)
  std::atomic<uint64_t> payload_bytes{0};   // request bytes copied in plus reply bytes copied out

  struct Values {
    uint64_t creations, mappings, unmappings, exits, kvm_exits, hypercalls, resets, pages_restored, failures, timeouts, log_dropped,
        run_ns, reset_ns, payload_bytes;
  };
  Values read() const {
    auto r = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
    // Designated: a field left out is zero, never a neighbour's value.
    return {.creations = r(creations),
            .mappings = r(mappings),
            .unmappings = r(unmappings),
            .exits = r(exits),
            .kvm_exits = r(kvm_exits),
            .hypercalls = r(hypercalls),
            .resets = r(resets),
            .pages_restored = r(pages_restored),
            .failures = r(failures),
            .timeouts = r(timeouts),
            .log_dropped = r(log_dropped),
            .run_ns = r(run_ns),
            .reset_ns = r(reset_ns),
            .payload_bytes = r(payload_bytes)};
  }
};

VmmCounters& vmm_counters();

inline void count(std::atomic<uint64_t>& counter, uint64_t n = 1) {
  counter.fetch_add(n, std::memory_order_relaxed);
}

}  // namespace cryptine
