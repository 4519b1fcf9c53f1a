#include "vmm/virtine_pool.h"

namespace cryptine {

VirtinePool::VirtinePool(const KvmSystem& kvm, std::shared_ptr<const Snapshot> snapshot, VirtineConfig config,
                         size_t capacity)
    : kvm_(kvm), snapshot_(std::move(snapshot)), config_(std::move(config)), capacity_(capacity) {
  ready_.reserve(capacity);
}

Status VirtinePool::fill() {
  while (ready_.size() < capacity_) ready_.push_back(CRYPTINE_TRY(Virtine::from_snapshot(kvm_, snapshot_, config_)));
  return {};
}

Result<Virtine> VirtinePool::acquire() {
  if (!ready_.empty()) {
    ++counters_.hits;
    Virtine v = std::move(ready_.back());
    ready_.pop_back();
    return v;
  }
  ++counters_.misses;
  return Virtine::from_snapshot(kvm_, snapshot_, config_);
}

void VirtinePool::release(Virtine virtine) {
  const bool reusable =
      virtine.state() != Virtine::State::kPoisoned && virtine.snapshot() == snapshot_ && virtine.reset().ok();
  if (!reusable) {
    ++counters_.discarded;
    // Refill now, so the next acquire is a hit; a failure here shows up there instead.
    if (ready_.size() < capacity_) {
      auto fresh = Virtine::from_snapshot(kvm_, snapshot_, config_);
      if (fresh.ok()) ready_.push_back(std::move(fresh).value());
    }
    return;
  }
  if (ready_.size() < capacity_) ready_.push_back(std::move(virtine));
}

}  // namespace cryptine
