// VirtinePool: virtines started from one snapshot, kept ready for one thread.
//
// Not thread-safe by design: each thread owns its pool, so the hot path takes no lock.
// A virtine taken from the pool is ready to run; given back, it is reset to the
// snapshot (only its dirtied pages copied) and kept, or discarded if it was poisoned,
// in which case a fresh one takes its place so the pool stays at its target.
//
// Sized by demand: the pool keeps enough ready virtines that, with those out now, this
// thread's recent peak of virtines out at once (a TLS handshake holds a dozen contexts,
// each in a virtine of its own) is met again; at least `min_ready`, at most `max_ready`. So a burst that repeats (the next handshake)
// creates no VM. "Recently": the peaks of this window of kDecayReleases releases and of
// the one before it, so steady demand keeps its pool and a burst that does not come back
// is forgotten within two windows; ready virtines above the target are destroyed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "vmm/kvm_system.h"
#include "vmm/result.h"
#include "vmm/snapshot.h"
#include "vmm/virtine.h"

namespace cryptine {

struct PoolCounters {
  uint64_t hits = 0;       // acquire() served from the pool
  uint64_t misses = 0;     // acquire() had to create a virtine
  uint64_t discarded = 0;  // poisoned or unresettable virtines thrown away
  uint64_t trimmed = 0;    // reset virtines destroyed because the pool was at its target
};

class VirtinePool {
 public:
  static constexpr uint64_t kDecayReleases = 256;

  // `kvm` must outlive the pool. min_ready 0 keeps nothing once demand falls; max_ready
  // 0 keeps nothing at all (every acquire creates). A max below the min is raised to it.
  VirtinePool(const KvmSystem& kvm, std::shared_ptr<const Snapshot> snapshot, VirtineConfig config,
              size_t min_ready, size_t max_ready);
  // A fixed size: min_ready = max_ready = capacity.
  VirtinePool(const KvmSystem& kvm, std::shared_ptr<const Snapshot> snapshot, VirtineConfig config,
              size_t capacity)
      : VirtinePool(kvm, std::move(snapshot), std::move(config), capacity, capacity) {}

  // Creates virtines until the pool holds `min_ready`.
  Status fill();

  // A ready virtine: from the pool (no VM created, nothing mapped) or, if empty, new.
  Result<Virtine> acquire();

  // Gives a virtine back; see the class comment.
  void release(Virtine virtine);

  size_t ready() const { return ready_.size(); }
  // How many ready virtines the pool keeps now: the recent peak less those out, within the bounds.
  size_t target() const;
  size_t out() const { return out_; }
  const PoolCounters& counters() const { return counters_; }

 private:
  const KvmSystem& kvm_;
  std::shared_ptr<const Snapshot> snapshot_;
  VirtineConfig config_;
  const size_t min_ready_, max_ready_;
  std::vector<Virtine> ready_;
  size_t out_ = 0;        // acquired and not yet given back here
  size_t peak_out_ = 0;       // the most out at once in this window
  size_t last_peak_out_ = 0;  // and in the window before
  uint64_t releases_ = 0;
  PoolCounters counters_;
};

}  // namespace cryptine
