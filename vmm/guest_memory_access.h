// GuestMemoryAccess: while one lives, the calling thread may read and write guest memory.
//
// Every mapping of guest RAM (a virtine's memory, a snapshot's image; see guest_mapping.h)
// carries one memory protection key, and the key's access is disabled in PKRU, the
// per-thread register that governs it: program code that loads from guest memory (a
// buffer over-read, an attacker's read primitive) faults with SEGV_PKUERR instead of
// reading keys. The monitor opens the key for exactly its own accesses (the copy in, the
// copy out, the reset, the snapshot, the boot's load, KVM_RUN) inside a GuestMemoryAccess
// scope: the first scope of a thread writes PKRU to allow the key, the last one to end
// writes it to deny it again, and scopes in between cost a counter. No system call:
// RDPKRU and WRPKRU are unprivileged instructions.
//
// What it does not stop: code that executes WRPKRU itself (any code in the process can),
// or another thread's code acting through a scope that is open (a scope opens the key
// for its own thread only). A thread inherits PKRU from the thread that created it, so
// the monitor never creates threads inside a scope.
//
// Protection keys are used where the CPU and kernel have them (pku and ospke) unless
// CRYPTINE_PKU=0; otherwise guest memory carries no key, scopes do nothing, and guest
// memory is only fenced by guard pages.
#pragma once

#include <cstdint>

#include "vmm/pkru_x86_64.h"

namespace cryptine {

// Allocates the key (access disabled), or returns -1: guest_memory_pkey() calls it once.
int allocate_guest_memory_pkey();

// The protection key on guest memory, allocated at the first call; -1 when guest memory
// carries none. Decided once per process; a child keeps it. Inline, with the scopes'
// open and close: a virtine call asks six times (see Counter::add for why that matters).
inline int guest_memory_pkey() {
  static const int key = allocate_guest_memory_pkey();
  return key;
}

namespace guest_memory_access_detail {
extern constinit thread_local unsigned t_depth;  // scopes open in this thread
// PKRU holds two bits per key: access-disable, then write-disable.
inline uint32_t deny_bits(int key) {
  return uint32_t{3} << (2 * key);
}
}  // namespace guest_memory_access_detail

class GuestMemoryAccess {
 public:
  GuestMemoryAccess() {
    if (guest_memory_pkey() >= 0) open();
  }
  // A copy is one more scope: guest memory stays open until the last one ends, in
  // whatever order they end.
  GuestMemoryAccess(const GuestMemoryAccess&) : GuestMemoryAccess() {}
  // A move hands the scope on (a reply passed up from the call that opened it): the one
  // moved from ends nothing, and no count changes on the way.
  GuestMemoryAccess(GuestMemoryAccess&& other) noexcept : open_(other.open_) { other.open_ = false; }
  GuestMemoryAccess& operator=(const GuestMemoryAccess&) { return *this; }
  ~GuestMemoryAccess() {
    if (open_ && guest_memory_pkey() >= 0) close();
  }

  // Whether the calling thread may access guest memory now (always true without a key).
  static bool is_open();

 private:
  static void open() {
    using namespace guest_memory_access_detail;
    if (t_depth++ == 0) write_pkru(read_pkru() & ~deny_bits(guest_memory_pkey()));
  }
  static void close() {
    using namespace guest_memory_access_detail;
    if (--t_depth == 0) write_pkru(read_pkru() | deny_bits(guest_memory_pkey()));
  }

  bool open_ = true;  // false once moved from
};

}  // namespace cryptine
