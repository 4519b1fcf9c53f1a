/* cryptine guest: hypercalls are 32-bit port writes (`out dx, eax`) to the ports of
 * abi/guest_abi.h; any other width or port ends the virtine. Guest code only. */
#ifndef CRYPTINE_GUEST_HYPERCALL_H
#define CRYPTINE_GUEST_HYPERCALL_H

#include <stddef.h>
#include <stdint.h>

#include "guest_abi.h" /* the build passes -I$(top_srcdir)/abi */

/* "memory" clobber: the monitor reads the mailbox/log page during the exit, so every
 * store before the hypercall must be done, and nothing may be cached across it (after
 * DONE/SNAPSHOT the host may have rewritten the mailbox or the boot info). */
static inline void cryptine_hypercall(uint16_t port, uint32_t value) {
  __asm__ volatile("outl %0, %1" : : "a"(value), "Nd"(port) : "memory");
}

static inline void cryptine_done(void) {
  cryptine_hypercall(CRYPTINE_PORT_DONE, 0);
}
/* SNAPSHOT, and where every request after a reset starts: it loads XCR0, the XSAVE state
 * and KERNEL_GS_BASE as they were at the snapshot (guest-libc/entry.asm). Call it once. */
void cryptine_snapshot(void);

__attribute__((noreturn)) static inline void cryptine_exit(int status) {
  cryptine_hypercall(CRYPTINE_PORT_EXIT, (uint32_t)status);
  for (;;) __asm__ volatile("hlt"); /* never resumed; a HLT also ends the virtine */
}

/* The boot info page written by the monitor (see struct cryptine_boot_info). */
static inline volatile struct cryptine_boot_info* cryptine_boot_info(void) {
  return (volatile struct cryptine_boot_info*)(uintptr_t)CRYPTINE_BOOTINFO_ADDR;
}

/* Defined in guest-libc/syscalls.c. */
void cryptine_log(const char* text, size_t len);                    /* LOG, in CRYPTINE_LOG_SIZE chunks */
__attribute__((noreturn)) void cryptine_abort(const char* message); /* ABORT with text */
extern const struct cryptine_boot_info* cryptine_boot_info_ptr;     /* rdi at entry */

#endif /* CRYPTINE_GUEST_HYPERCALL_H */
