// VirtinePool: virtines started from one snapshot, kept ready for one thread.
//
// Not thread-safe by design: each thread owns its pool, so the hot path takes no lock.
// A virtine taken from the pool is ready to run; given back, it is reset to the
// snapshot (only its dirtied pages copied) and kept, or discarded if it was poisoned,
// in which case a fresh one takes its place so the pool stays full.
#pragma once

#include <cstddef>
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
};

class VirtinePool {
 public:
  // `kvm` must outlive the pool. capacity 0 keeps nothing: every acquire creates.
  VirtinePool(const KvmSystem& kvm, std::shared_ptr<const Snapshot> snapshot, VirtineConfig config, size_t capacity);

  // Creates virtines until the pool holds `capacity`.
  Status fill();

  // A ready virtine: from the pool (no VM created, nothing mapped) or, if empty, new.
  Result<Virtine> acquire();

  // Gives a virtine back; see the class comment.
  void release(Virtine virtine);

  size_t ready() const { return ready_.size(); }
  size_t capacity() const { return capacity_; }
  const PoolCounters& counters() const { return counters_; }

 private:
  const KvmSystem& kvm_;
  std::shared_ptr<const Snapshot> snapshot_;
  VirtineConfig config_;
  size_t capacity_;
  std::vector<Virtine> ready_;
  PoolCounters counters_;
};

}  // namespace cryptine
