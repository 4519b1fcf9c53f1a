// copy_bulk: memcpy for the buffers a call moves in and out of guest memory, which may be
// tens of KiB (a TLS record, a 16 KiB speed block, a digest's held input).
//
// glibc's memcpy moves a copy of more than about 4 KiB with `rep movsb`, trusting the CPU's
// fast strings. Where those are emulated, as by QEMU's TCG in the KVM harness, it runs a
// byte per iteration: a 16 KiB memcpy took 32 us there against 3.7 us by quadwords, and a
// 16 KiB AEAD seal makes two (in and out), about a tenth of the call. `rep movsq` is as
// fast as `rep movsb` on hardware with fast strings, so quadwords cost nothing there.
// Not for overlapping buffers (as memcpy).
#pragma once

#include <cstddef>
#include <cstring>

namespace cryptine {

inline void copy_bulk(void* dst, const void* src, size_t n) {
#if defined(__x86_64__)
  // Below glibc's threshold its vector loop is as fast as this.
  constexpr size_t kStringMoveFrom = 2048;
  if (n >= kStringMoveFrom) {
    size_t words = n / 8;
    // The ABI has the direction flag clear at every call, so the move goes upward.
    asm volatile("rep movsq" : "+D"(dst), "+S"(src), "+c"(words) : : "memory");
    n %= 8;  // dst and src now point past the words moved
  }
#endif
  if (n != 0) std::memcpy(dst, src, n);
}

}  // namespace cryptine
