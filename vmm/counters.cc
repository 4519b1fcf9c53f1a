#include "vmm/counters.h"

#include <pthread.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <new>

namespace cryptine {

constinit thread_local std::atomic<uint64_t>* counters_detail::t_tallies = nullptr;
std::atomic<bool> counters_detail::g_timing{true};

namespace {

// A thread's tallies: written by that thread alone (or, once it is gone, by the thread
// that took the block over, after the hand-over under g_mu), read by any.
struct Block {
  std::atomic<uint64_t> tally[Counter::kMaxCounters] = {};
  std::atomic<Block*> next{nullptr};  // every block made, newest first; never freed
  Block* next_free = nullptr;         // under g_mu
};

std::atomic<unsigned> g_next_slot{0};
std::atomic<Block*> g_blocks{nullptr};
// Held for a hand-over or an orphan's count only, never across a call: a child of fork()
// makes it anew (the forking thread never holds it then; another thread might have).
std::mutex g_mu;
Block* g_free = nullptr;  // blocks of threads that exited, for the next new thread
// Counts made after the thread's block was given back (in later thread_local
// destructors), or when no block could be allocated; written under g_mu.
Block g_orphans;

thread_local Block* t_block = nullptr;  // trivially destructible: usable in any destructor
thread_local bool t_gave_back = false;

void add_to(Block* b, unsigned slot, uint64_t n) {
  std::atomic<uint64_t>& t = b->tally[slot];
  t.store(t.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

void use_block(Block* b) {
  t_block = b;
  counters_detail::t_tallies = b != nullptr ? b->tally : nullptr;
}

// Gives the thread's block back when it exits (a thread_local destructor).
struct GiveBack {
  ~GiveBack() {
    std::lock_guard lock(g_mu);
    t_block->next_free = g_free;
    g_free = t_block;
    use_block(nullptr);
    t_gave_back = true;
  }
};
thread_local GiveBack t_give_back;

// The calling thread's block, taken now; null if it gave its block back or none could be had.
Block* take_block() {
  if (t_gave_back) return nullptr;
  std::lock_guard lock(g_mu);
  Block* b = g_free;
  if (b != nullptr) {
    g_free = b->next_free;
  } else {
    b = new (std::nothrow) Block();
    if (b == nullptr) return nullptr;
    b->next.store(g_blocks.load(std::memory_order_relaxed), std::memory_order_relaxed);
    g_blocks.store(b, std::memory_order_release);
  }
  use_block(b);
  (void)&t_give_back;  // constructs it: its destructor gives the block back
  return b;
}

// A forked child counts its own work from 0, so a daemon's processes, each reporting its
// own counts, count nothing twice. Only the forking thread lives on in the child: the
// blocks of the others are free for its next threads.
void after_fork_in_child() {
  new (&g_mu) std::mutex();
  g_free = nullptr;
  for (Block* b = g_blocks.load(std::memory_order_relaxed); b != nullptr; b = b->next.load(std::memory_order_relaxed)) {
    for (std::atomic<uint64_t>& t : b->tally) t.store(0, std::memory_order_relaxed);
    if (b != t_block) {
      b->next_free = g_free;
      g_free = b;
    }
  }
  for (std::atomic<uint64_t>& t : g_orphans.tally) t.store(0, std::memory_order_relaxed);
}

__attribute__((constructor)) void register_fork_handler() {
  if (pthread_atfork(nullptr, nullptr, after_fork_in_child) != 0)
    std::fprintf(stderr, "cryptine: pthread_atfork failed; a child forked beside busy threads may hang\n");
}

}  // namespace

Counter::Counter() : slot_(g_next_slot.fetch_add(1, std::memory_order_relaxed)) {
  if (slot_ >= kMaxCounters) {
    std::fprintf(stderr, "cryptine: more than %u counters\n", kMaxCounters);
    std::abort();
  }
}

void Counter::add_without_block(uint64_t n) const {
  if (Block* b = take_block(); b != nullptr) return add_to(b, slot_, n);
  std::lock_guard lock(g_mu);
  add_to(&g_orphans, slot_, n);
}

uint64_t Counter::total() const {
  uint64_t sum = g_orphans.tally[slot_].load(std::memory_order_relaxed);
  for (const Block* b = g_blocks.load(std::memory_order_acquire); b != nullptr;
       b = b->next.load(std::memory_order_relaxed))
    sum += b->tally[slot_].load(std::memory_order_relaxed);
  return sum;
}

void set_timing(bool on) {
  counters_detail::g_timing.store(on, std::memory_order_relaxed);
}

size_t counter_blocks() {
  size_t n = 0;
  for (const Block* b = g_blocks.load(std::memory_order_acquire); b != nullptr;
       b = b->next.load(std::memory_order_relaxed))
    ++n;
  return n;
}

}  // namespace cryptine
