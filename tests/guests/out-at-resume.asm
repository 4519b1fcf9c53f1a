; A guest that can put its exit's OUT at the very address where resets resume it. KVM
; finishes a port write as the next KVM_RUN begins and skips the OUT there if RIP is still
; at its address (complete_fast_pio_out): unless the reset lets KVM finish it first, the
; next request would start one byte late. The first instruction where it resumes is STC,
; one byte; each request reports in the mailbox's first byte whether it ran (CF is clear
; at the snapshot). A request with a nonzero qword at mailbox + 8 then writes an OUT
; over that STC and exits through it.
%include "guest_abi.inc"
bits 64
section .text
global _start
_start:
    mov dx, CRYPTINE_PORT_SNAPSHOT
    xor eax, eax                        ; clears CF too: the snapshot's flags
    out dx, eax
resume:
    stc
    setc byte [CRYPTINE_MAILBOX_ADDR]
    mov dx, CRYPTINE_PORT_DONE
    cmp qword [CRYPTINE_MAILBOX_ADDR + 8], 0
    je .done
    mov byte [resume], 0xef             ; out dx, eax
    jmp resume
.done:
    out dx, eax
    jmp resume
