// Entropy for the guests' boot info, from a per-thread buffer refilled in bulk: a reset
// needs 56 bytes, and two getrandom calls per reset were about 8% of its time in the KVM
// harness; one call now serves about 70 resets.
#pragma once

#include <cstdint>
#include <span>

#include "vmm/result.h"

namespace cryptine {

// Fills `out` with bytes from the kernel's random source. Each byte is handed out once:
// it is erased from the buffer as it is taken, and the buffer is wiped in a child of
// fork() (MADV_WIPEONFORK), so parent and child never give a guest the same bytes.
Status fill_entropy(std::span<uint8_t> out);

}  // namespace cryptine
