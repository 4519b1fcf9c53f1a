// What the monitor's memory does across fork(): a child process inherits none of it.
//
// Every mapping the monitor makes (guest memory, the snapshot's image, each vCPU's
// kvm_run area) is marked MADV_DONTFORK and MADV_DONTDUMP: a child gets no copy of any
// virtine's memory (keys included), the parent takes no copy-on-write faults after a
// fork, and a core dump holds no guest memory. In the child those ranges are simply not
// mapped, and later mmaps of the child may reuse them, so a Mapping made before the fork
// must never be unmapped there: fork_generation() tells a Mapping whose it is.
#pragma once

#include <cstddef>
#include <cstdint>

#include "vmm/result.h"

namespace cryptine {

// 0 in the process that loaded the monitor, one more in each child after each fork().
uint64_t fork_generation();

// Marks [addr, addr+size) MADV_DONTFORK and MADV_DONTDUMP; `what` names the mapping in
// the error.
Status keep_from_children(void* addr, size_t size, const char* what);

}  // namespace cryptine
