/* cryptine hypercall ABI: how a guest leaves its VM, where things are in its memory, and
 * what the monitor hands it at entry. All the monitor (vmm/) knows of a guest: what the
 * mailbox carries is crypto_protocol.h's, between the guest and the shim.
 *
 * Compiled by vmm/ (C++), guest-libc/ and crypto-guest/ (C); the build turns its
 * CRYPTINE_* macros into guest_abi.inc for the guest's NASM code. Keep it to plain
 * #defines and fixed-layout structs so every consumer reads the same bytes. */
#ifndef CRYPTINE_HYPERCALL_ABI_H
#define CRYPTINE_HYPERCALL_ABI_H

#define CRYPTINE_ABI_VERSION 5

/* ---- Hypercalls ------------------------------------------------------------------
 * A hypercall is `out dx, eax` with dx one of these ports. Any other exit (other
 * ports, other widths, port reads, MMIO, HLT, shutdown) ends the virtine. */
#define CRYPTINE_PORT_DONE     0x0c00 /* reply is in the mailbox; eax ignored */
#define CRYPTINE_PORT_SNAPSHOT 0x0c01 /* guest initialised: record the snapshot; eax = flags below */
#define CRYPTINE_PORT_EXIT     0x0c02 /* eax = exit status; the virtine is finished */
#define CRYPTINE_PORT_LOG      0x0c03 /* eax = length of text at CRYPTINE_LOG_ADDR */
#define CRYPTINE_PORT_ABORT    0x0c04 /* eax = length of message at CRYPTINE_LOG_ADDR */

/* SNAPSHOT's flags (eax; 0 for none). The snapshot is taken before any request, so what the
 * guest says here is trusted as its memory is.
 * LOADS_XSTATE: the instructions right after this port write (where a reset resumes the
 * guest) set XCR0 and load every XSAVE state component back to what they were at the
 * snapshot, before anything else runs. A reset then leaves both to the guest (two ioctls
 * fewer), if XCR0 at the snapshot enables every component the guest could enable. */
#define CRYPTINE_SNAPSHOT_LOADS_XSTATE 0x1
/* LOADS_KERNEL_GS_BASE: those instructions also put KERNEL_GS_BASE back to its value at the
 * snapshot (by WRGSBASE and SWAPGS, leaving GS.base as the reset restored it). A reset whose
 * guest cannot write MSRs then restores none (SWAPGS is the one way it changes an MSR), if
 * CR4.FSGSBASE is set at the snapshot. */
#define CRYPTINE_SNAPSHOT_LOADS_KERNEL_GS_BASE 0x2

/* ---- Guest-physical layout ---------------------------------------------------------
 * The monitor builds identity-mapped page tables: guest virtual == guest physical.
 * Page 0 is left unmapped so a NULL dereference in the guest faults (and, with no
 * IDT, ends the virtine) instead of reading memory. */
#define CRYPTINE_PAGE_SIZE     0x1000
#define CRYPTINE_GDT_ADDR      0x1000
#define CRYPTINE_BOOTINFO_ADDR 0x2000 /* struct cryptine_boot_info, written by the host */
#define CRYPTINE_LOG_ADDR      0x3000 /* text for LOG and ABORT */
#define CRYPTINE_LOG_SIZE      0x1000
#define CRYPTINE_PML4_ADDR     0x8000
#define CRYPTINE_PDPT_ADDR     0x9000
#define CRYPTINE_PD_ADDR       0xa000 /* one PD: 512 x 2 MiB covers 1 GiB */
#define CRYPTINE_PT0_ADDR      0xb000 /* 4 KiB pages for the first 2 MiB (page 0 absent) */
#define CRYPTINE_MAILBOX_ADDR  0x100000
#define CRYPTINE_MAILBOX_SIZE  0x100000
#define CRYPTINE_STACK_TOP     0x400000   /* initial rsp; the stack grows down to the mailbox */
#define CRYPTINE_IMAGE_BASE    0x400000   /* lowest address an image segment may occupy */
#define CRYPTINE_MEM_MAX       0x40000000 /* 1 GiB: what one PD maps */

/* Segment selectors in the monitor's GDT. */
#define CRYPTINE_GDT_CODE64 0x08
#define CRYPTINE_GDT_DATA   0x10

/* At entry: rip = the image's entry point, rsp = CRYPTINE_STACK_TOP,
 * rdi = CRYPTINE_BOOTINFO_ADDR, every other general register zero, interrupts off. */

#define CRYPTINE_BOOT_MAGIC   0x656e697470797263ULL /* "cryptine" little-endian */

/* At a cold boot the mailbox holds the guest's environment, read before its C runtime
 * runs any initialiser (OpenSSL reads OPENSSL_ia32cap in .init): NAME=VALUE strings,
 * each NUL-terminated, ended by an empty one, within CRYPTINE_BOOT_ENV_MAX bytes. */
#define CRYPTINE_BOOT_ENV_MAX 1024
#define CRYPTINE_ENTROPY_SIZE 48

#ifndef __ASSEMBLER__
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#define CRYPTINE_STATIC_ASSERT static_assert
#else
#define CRYPTINE_STATIC_ASSERT _Static_assert
#endif

/* Written by the host before the first entry and rewritten after every start from the
 * snapshot or reset. The guest reseeds its random generator whenever entropy_seq
 * differs from the value it last used: a snapshot holds the DRBG state, so without a
 * reseed two virtines from one snapshot would produce the same random bytes. */
struct cryptine_boot_info {
  uint64_t magic;       /* CRYPTINE_BOOT_MAGIC */
  uint32_t abi_version; /* CRYPTINE_ABI_VERSION */
  uint32_t reserved;
  uint64_t mem_size;    /* bytes of guest RAM, from guest-physical 0 */
  uint64_t entropy_seq; /* changes whenever entropy[] is fresh; never 0 */
  uint8_t entropy[CRYPTINE_ENTROPY_SIZE];
};

CRYPTINE_STATIC_ASSERT(sizeof(struct cryptine_boot_info) == 32 + CRYPTINE_ENTROPY_SIZE, "boot info layout");
#endif /* !__ASSEMBLER__ */

#endif /* CRYPTINE_HYPERCALL_ABI_H */
