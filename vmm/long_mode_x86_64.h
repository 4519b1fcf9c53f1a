// 64-bit long mode, set up by the monitor: the guest starts in it, with no real-mode trip.
#pragma once

#include <linux/kvm.h>

#include <cstdint>

#include "vmm/guest_memory.h"
#include "vmm/result.h"

namespace cryptine {

// Writes the GDT and identity-mapping page tables of hypercall_abi.h into guest memory:
// 2 MiB pages for all of guest RAM, 4 KiB pages for the first 2 MiB with page 0 absent.
// Guest RAM must be a multiple of 2 MiB and at most CRYPTINE_MEM_MAX.
Status write_long_mode_tables(GuestMemory& memory);

// Special registers for long mode: paging on, PAE, long mode active, flat 64-bit code
// and data segments from the GDT above, no IDT (any exception ends the virtine).
// `xsave` sets CR4.OSXSAVE so the guest may use AVX state; `fsgsbase` sets CR4.FSGSBASE
// so it may read and write the FS and GS bases without WRMSR (see snapshot_state.inc).
void set_long_mode_sregs(kvm_sregs& sregs, bool xsave, bool fsgsbase);

// CR4.FSGSBASE.
inline constexpr uint64_t kCr4Fsgsbase = uint64_t{1} << 16;

// General registers at entry: rip = entry, rsp and rdi as hypercall_abi.h says, the rest 0.
kvm_regs initial_regs(uint64_t entry);

// x87/SSE state at power-on (FCW 0x37f, MXCSR 0x1f80).
kvm_fpu initial_fpu();

}  // namespace cryptine
