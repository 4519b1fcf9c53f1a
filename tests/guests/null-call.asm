; The cheapest possible virtine: after its snapshot, every request is answered at once
; with DONE, echoing a counter into the mailbox. Used for exit round-trip measures.
%include "guest_abi.inc"
bits 64
section .text
global _start
_start:
    xor ebx, ebx
    mov dx, CRYPTINE_PORT_SNAPSHOT
    out dx, eax
.serve:
    inc rbx
    mov [CRYPTINE_MAILBOX_ADDR], rbx
    mov dx, CRYPTINE_PORT_DONE
    out dx, eax
    jmp .serve
