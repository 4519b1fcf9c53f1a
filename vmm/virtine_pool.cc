#include "vmm/virtine_pool.h"

#include <algorithm>

namespace cryptine {

VirtinePool::VirtinePool(const KvmSystem& kvm, std::shared_ptr<const Snapshot> snapshot, VirtineConfig config,
                         size_t min_ready, size_t max_ready)
    : kvm_(kvm),
      snapshot_(std::move(snapshot)),
      config_(std::move(config)),
      min_ready_(min_ready),
      max_ready_(std::max(min_ready, max_ready)) {
  ready_.reserve(min_ready_);
}

size_t VirtinePool::target() const {
  // peak_out_ >= out_ always: it is raised on every acquire and restarts at out_.
  return std::clamp(std::max(peak_out_, last_peak_out_) - out_, min_ready_, max_ready_);
}

Status VirtinePool::fill() {
  while (ready_.size() < min_ready_)
    ready_.push_back(CRYPTINE_TRY(Virtine::from_snapshot(kvm_, snapshot_, config_)));
  return {};
}

Result<Virtine> VirtinePool::acquire() {
  if (!ready_.empty()) {
    ++counters_.hits;
    Virtine v = std::move(ready_.back());
    ready_.pop_back();
    peak_out_ = std::max(peak_out_, ++out_);
    return v;
  }
  ++counters_.misses;
  Virtine v = CRYPTINE_TRY(Virtine::from_snapshot(kvm_, snapshot_, config_));
  peak_out_ = std::max(peak_out_, ++out_);
  return v;
}

void VirtinePool::release(Virtine virtine) {
  // A virtine acquired from another thread's pool may come back here: never below 0.
  if (out_ > 0) --out_;
  if (++releases_ % kDecayReleases == 0) {  // a new window: the one before it is forgotten
    last_peak_out_ = peak_out_;
    peak_out_ = out_;
  }
  const size_t keep = target();
  const bool reusable =
      virtine.state() != Virtine::State::kPoisoned && virtine.snapshot() == snapshot_ && virtine.reset().ok();
  if (!reusable) {
    ++counters_.discarded;
    // Refill now, so the next acquire is a hit; a failure here shows up there instead.
    if (ready_.size() < keep) {
      auto fresh = Virtine::from_snapshot(kvm_, snapshot_, config_);
      if (fresh.ok()) ready_.push_back(std::move(fresh).value());
    }
  } else if (ready_.size() < keep) {
    ready_.push_back(std::move(virtine));
  } else {
    ++counters_.trimmed;  // destroyed here, as `virtine` goes out of scope
  }
  while (ready_.size() > keep) {  // demand fell: shrink toward the new target
    ready_.pop_back();
    ++counters_.trimmed;
  }
}

}  // namespace cryptine
