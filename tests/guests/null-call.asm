; The cheapest possible virtine: after its snapshot, every request is answered at once
; with DONE, echoing a counter into the mailbox. Used for exit round-trip measures. Its
; SNAPSHOT is the crypto guest's (snapshot_state.inc): a reset leaves XCR0, the XSAVE
; state and KERNEL_GS_BASE to it, so a pool hit here costs what a reset of the crypto guest does.
%include "guest_abi.inc"
%include "snapshot_state.inc"
bits 64
section .text
global _start
_start:
    SNAPSHOT_LOADING_STATE xstate, xcr0, kernel_gs_base
.serve:
    inc rbx
    mov [CRYPTINE_MAILBOX_ADDR], rbx
    mov dx, CRYPTINE_PORT_DONE
    out dx, eax
    jmp .serve

section .bss nobits alloc noexec write align=64
xstate: resb XSTATE_IMAGE_SIZE
xcr0: resq 1
kernel_gs_base: resq 1
