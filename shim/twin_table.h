// The twin table: which host contexts have their state in a virtine, and where.
//
// The program keeps its own EVP_*_CTX (initialised with the algorithm only, so
// OpenSSL's read-only accessors keep answering); the keyed state lives in the guest
// under `handle`, in the virtine of `lease`. One table per context type, so a pointer
// is never taken for a context of another type. Lookups take a shared lock only. The lock
// is a ForkSafeMutex (never inherited held by a forked child), and each table is made at
// load, before threads exist: a function-local static still being made at a fork would
// hang the child at its first use.
#pragma once

#include <optional>
#include <unordered_map>

#include "shim/fork_safety.h"
#include "shim/guest_ops.h"
#include "shim/real_symbol.h"
#include "shim/virtine_lease.h"

namespace cryptine {

struct Twin {
  LeaseRef lease;
  guest::Handle handle = 0;
};

class TwinTable {
 public:
  std::optional<Twin> find(const void* ctx) const {
    std::shared_lock lock(mu_);
    auto it = map_.find(ctx);
    if (it == map_.end()) return std::nullopt;
    return it->second;
  }
  void put(const void* ctx, Twin twin) {
    std::unique_lock lock(mu_);
    map_[ctx] = std::move(twin);
  }
  std::optional<Twin> take(const void* ctx) {
    std::unique_lock lock(mu_);
    auto it = map_.find(ctx);
    if (it == map_.end()) return std::nullopt;
    Twin twin = std::move(it->second);
    map_.erase(it);
    return twin;
  }

 private:
  mutable ForkSafeMutex mu_;
  std::unordered_map<const void*, Twin> map_;
};

// The twin of a context the program (not OpenSSL itself) is using, if it has one.
inline std::optional<Twin> twin_of(const TwinTable& table, const void* ctx) {
  if (ctx == nullptr || called_from_openssl()) return std::nullopt;
  return table.find(ctx);
}

// Ends a twin: its guest context goes, and its lease loses a context.
inline void release_twin(const Twin& twin) { drop_context(twin.lease, twin.handle); }

}  // namespace cryptine
