// The twins of legacy structs that live in the program's memory (AES_KEY, SHA*_CTX).
//
// The struct keeps only a marker (a magic value per struct kind, a slot number and that
// slot's generation; the rest zeroed); the slot holds the twin: the virtine lease and the
// guest contexts. A twin is found only through the marker of the struct it was made for,
// at the address it was made at (a byte copy of the struct is refused, never served by
// another struct's twin), and only while the slot's generation is the marker's.
//
// OpenSSL gives AES_KEY no free function and a program may drop a SHA*_CTX unfinished, so
// the table is bounded: when every slot is taken, the least recently used twin is evicted
// (its guest contexts freed; its struct's later calls fail, they are never run natively
// on a struct that holds no key). Re-keying a struct replaces its twin in its own slot.
#pragma once

#include <cstdint>
#include <cstring>
#include <mutex>
#include <optional>
#include <vector>

#include "shim/client/fork_safety.h"

namespace cryptine::legacy {

struct Marker {
  uint64_t magic = 0;
  uint32_t slot = 0;
  uint32_t generation = 0;
};

// A marker that names no slot: a struct whose set-up failed, or that is finished.
inline constexpr uint32_t kNoSlot = UINT32_MAX;

inline Marker read_marker(const void* s) {
  Marker m;
  std::memcpy(&m, s, sizeof(m));
  return m;
}

// Writes the marker at the start of a struct of `size` bytes and zeroes the rest.
inline void write_marker(void* s, size_t size, const Marker& m) {
  std::memset(s, 0, size);
  std::memcpy(s, &m, sizeof(m));
}

template <typename T>
class SlotTable {
 public:
  SlotTable(uint64_t magic, size_t capacity) : magic_(magic), slots_(capacity) {}

  uint64_t magic() const { return magic_; }
  size_t capacity() const { return slots_.size(); }

  // Whether the struct holds one of this table's markers (a live twin or not).
  bool marked(const void* s) const { return read_marker(s).magic == magic_; }

  // The twin of the struct at `owner`, if its marker names it.
  std::optional<T> find(const void* owner) {
    if (!marked(owner)) return std::nullopt;  // OpenSSL's own struct (every block it runs): no lock
    std::lock_guard lock(mu_);
    Slot* s = live(owner);
    if (s == nullptr) return std::nullopt;
    s->last_use = ++tick_;
    return s->value;
  }

  // The same, removed from the table (the struct is finished or re-keyed).
  std::optional<T> take(const void* owner) {
    if (!marked(owner)) return std::nullopt;
    std::lock_guard lock(mu_);
    Slot* s = live(owner);
    if (s == nullptr) return std::nullopt;
    std::optional<T> value = std::move(s->value);
    s->value.reset();
    ++s->generation;
    return value;
  }

  // Keeps `value` as the twin of the struct at `owner`; returns the marker to write into
  // it. A twin evicted to make room is put in *evicted, for the caller to end outside the
  // table's lock (ending it runs the guest).
  Marker put(const void* owner, T value, std::optional<T>* evicted) {
    std::lock_guard lock(mu_);
    size_t pick = slots_.size();
    for (size_t i = 0; i < slots_.size() && pick == slots_.size(); ++i)
      if (!slots_[i].value) pick = i;
    if (pick == slots_.size()) {  // full: the least recently used goes
      pick = 0;
      for (size_t i = 1; i < slots_.size(); ++i)
        if (slots_[i].last_use < slots_[pick].last_use) pick = i;
      *evicted = std::move(slots_[pick].value);
    }
    Slot& s = slots_[pick];
    s.value = std::move(value);
    s.owner = owner;
    s.last_use = ++tick_;
    ++s.generation;
    return Marker{magic_, static_cast<uint32_t>(pick), s.generation};
  }

  Marker dead() const { return Marker{magic_, kNoSlot, 0}; }

 private:
  struct Slot {
    std::optional<T> value;
    const void* owner = nullptr;
    uint32_t generation = 0;
    uint64_t last_use = 0;
  };
  // The slot the struct's marker names, if it holds that struct's twin; under mu_.
  Slot* live(const void* owner) {
    const Marker m = read_marker(owner);
    if (m.magic != magic_ || m.slot >= slots_.size()) return nullptr;
    Slot& s = slots_[m.slot];
    return s.value && s.generation == m.generation && s.owner == owner ? &s : nullptr;
  }

  const uint64_t magic_;
  ForkSafeMutex mu_;  // held for a scan of the slots only; never across a guest call
  std::vector<Slot> slots_;
  uint64_t tick_ = 0;
};

// The process's table of one kind, never destroyed (threads may outlive statics). Call it
// at load, before threads exist, so its lock is registered for fork() (fork_safety.h).
template <typename T, uint64_t Magic, size_t Capacity>
SlotTable<T>& process_table() {
  static auto* table = new SlotTable<T>(Magic, Capacity);
  return *table;
}

}  // namespace cryptine::legacy
