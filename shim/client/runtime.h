// Runtime: the process's cryptine state, made on first use: the configuration, KVM, the
// crypto guest's snapshot, the allowed algorithms, each thread's pool, the counters.
#pragma once

#include <openssl/evp.h>
#include <openssl/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "shim/client/config.h"
#include "shim/client/stats_output.h"
#include "vmm/counters.h"
#include "vmm/kvm_system.h"
#include "vmm/snapshot.h"
#include "vmm/virtine_pool.h"

namespace cryptine {

// The families of interposed calls, counted apart in the stats.
enum class Family { kCipher, kDigest, kMac, kPkey, kKdf, kCount };

// Those that every call counts are kept per thread (vmm/counters.h); the rest are
// process-wide atomics.
struct ShimCounters {
  Counter virtine_calls;                                // interposed calls served by a virtine
  Counter by_family[static_cast<int>(Family::kCount)];  // of those
  std::atomic<uint64_t> passed_through{0};              // interposed calls given to OpenSSL: algorithm not enabled
  std::atomic<uint64_t> native_fallbacks{0};            // calls run natively because virtines are unavailable
  std::atomic<uint64_t> failed{0};                      // calls that failed in or because of a virtine
  std::atomic<uint64_t> refused{0};                     // served calls that the guest's OpenSSL said no to
  std::atomic<uint64_t> key_imports{0};                 // private keys sent to a virtine (provider key management)
  Counter virtine_call_ns;                              // wall time of the calls served by virtines
  std::atomic<uint64_t> boot_run_ns{0};                 // KVM_RUN time of the guest's boot, left out of run_ns
  std::atomic<uint64_t> boot_kvm_exits{0};              // KVM's exits during the boot, left out of kvm_exits
  std::atomic<uint64_t> boot_kvm_interrupt_exits{0};    // of those, for the host's interrupts

  // In a child of fork(), which counts from 0: the atomics above (the Counters are the
  // monitor's per-thread tallies, which its own fork handler zeroes).
  void zero_atomics_after_fork() {
    for (std::atomic<uint64_t>* a : {&passed_through, &native_fallbacks, &failed, &refused, &key_imports, &boot_run_ns,
                                     &boot_kvm_exits, &boot_kvm_interrupt_exits})
      a->store(0, std::memory_order_relaxed);
  }
};

// The process's counters: they exist before (and without) the runtime, so CRYPTINE_STATS
// prints a line for every process, even one that made no interposed call.
ShimCounters& shim_counters();

// Every counter, by name (relaxed reads: each value is exact, the set is not atomic).
std::vector<StatValue> read_stats();

// Prints the counters on stderr (CRYPTINE_STATS, at exit).
void print_stats();

class Runtime {
 public:
  // The process's runtime; never destroyed (threads and atexit handlers may outlive statics).
  static Runtime& get();

  const Config& config() const { return config_; }
  ShimCounters& counters() { return shim_counters(); }

  // The calling thread's pool of ready virtines, or nullptr if virtines are unavailable
  // (no usable KVM, no guest image): the reason is printed once, and callers then run
  // natively or fail, as CRYPTINE_FALLBACK says. Also nullptr once the thread is exiting,
  // and once the process is under a seccomp filter (said once; see shim/client/confinement.h).
  VirtinePool* thread_pool();

  // Whether CRYPTINE_ALGS (or, without it, the supported list) sends this algorithm to
  // a virtine, for the legacy API's interposer; the provider filters
  // its own tables (provider/algorithm_filter.h).
  bool digest_enabled(const EVP_MD* md) const;
  bool cipher_enabled(const EVP_CIPHER* cipher) const;

  // fork(): a child's only thread must never wait for a lock some other thread of the
  // parent held at the fork (see fork_safety.h). Registered at load.
  static void after_fork_in_child();

  // Whether the process is under a seccomp filter (no virtine may run); says so on stderr
  // the first time it is.
  bool confined_now();

 private:
  Runtime();
  // The snapshot this process starts virtines from, booting the guest on first use (once
  // per process) and mapping the parent's snapshot anew in a forked child; nullptr if
  // virtines are unavailable.
  std::shared_ptr<const Snapshot> snapshot_here();
  // KVM and the snapshot; under g_start_mu. A failure for want of a resource is retried
  // (at most once a second at first, backing off to once a minute), any other is final.
  bool start_virtines();
  bool start_failed(const Error& error);
  Status boot_and_snapshot();
  bool retry_due() const;
  VirtineConfig virtine_config() const;

  Config config_;
  void enable(const std::string& name, bool warn_unknown);

  // Resolved from CRYPTINE_ALGS (or the supported list).
  std::set<int> enabled_digests_, enabled_ciphers_;  // NIDs
  std::unique_ptr<KvmSystem> kvm_;
  std::shared_ptr<const Snapshot> snapshot_;
  uint64_t snapshot_generation_ = 0;      // the fork_generation() snapshot_ is mapped in
  std::atomic<int> started_{0};           // 0 not yet, 1 running, -1 unavailable
  std::atomic<uint64_t> retry_at_ns_{0};  // when started_ is -1: next try (0: never)
  unsigned start_failures_ = 0;           // under g_start_mu
  std::atomic<bool> confinement_said_{false};
};

}  // namespace cryptine
