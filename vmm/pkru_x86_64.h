// RDPKRU and WRPKRU: the calling thread's protection-key rights. Only to be executed once
// the kernel has CR4.PKE set (a key was allocated, or the CPU reports ospke), without
// which both instructions fault (#UD).
#pragma once

#include <cstdint>

namespace cryptine {

inline uint32_t read_pkru() {
  uint32_t pkru;
  asm volatile("rdpkru" : "=a"(pkru) : "c"(0) : "rdx");
  return pkru;
}

// "memory": no load or store of guest memory may be moved across the switch.
inline void write_pkru(uint32_t pkru) {
  asm volatile("wrpkru" : : "a"(pkru), "c"(0), "d"(0) : "memory");
}

}  // namespace cryptine
