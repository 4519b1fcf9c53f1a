; Takes its snapshot, then serves requests by the mailbox's first quadword:
;   1: spin forever (the watchdog must stop it)
;   2: count down the second quadword to zero, store 0x600d in the third, then DONE
;   anything else: DONE at once
%include "guest_abi.inc"
bits 64
section .text
global _start
_start:
    mov dx, CRYPTINE_PORT_SNAPSHOT
    out dx, eax
.serve:
    mov rax, [CRYPTINE_MAILBOX_ADDR]
    cmp rax, 1
    je .forever
    cmp rax, 2
    jne .done
    mov rcx, [CRYPTINE_MAILBOX_ADDR + 8]
.count:
    dec rcx
    jnz .count
    mov qword [CRYPTINE_MAILBOX_ADDR + 16], 0x600d
.done:
    mov dx, CRYPTINE_PORT_DONE
    out dx, eax
    jmp .serve
.forever:
    pause
    jmp .forever
