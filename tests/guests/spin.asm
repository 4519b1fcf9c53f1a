; Takes its snapshot, then on the first request spins forever: the watchdog must stop it.
%include "guest_abi.inc"
bits 64
section .text
global _start
_start:
    mov dx, CRYPTINE_PORT_SNAPSHOT
    out dx, eax
.forever:
    pause
    jmp .forever
