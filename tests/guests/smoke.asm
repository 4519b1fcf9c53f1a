; Smoke virtine: proves the monitor's long-mode set-up, the boot info, the stack, the
; mailbox and the EXIT hypercall. Variants built with -D let the test show that it
; notices a guest that writes the wrong value or leaves the wrong way.
%include "guest_abi.inc"

%ifndef SMOKE_VALUE
%define SMOKE_VALUE 0x5eed0000c0ffee42
%endif
%define SMOKE_STATUS 42

bits 64
section .text
global _start
_start:
    mov rax, SMOKE_VALUE
    push rax                                   ; the stack at CRYPTINE_STACK_TOP works
    pop rbx
    mov [CRYPTINE_MAILBOX_ADDR], rbx
    mov rax, [rdi]                             ; rdi = boot info; echo its magic
    mov [CRYPTINE_MAILBOX_ADDR + 8], rax
%ifdef SMOKE_LEAVE_BY_HLT
    hlt
%else
    mov dx, CRYPTINE_PORT_EXIT
    mov eax, SMOKE_STATUS
    out dx, eax
%endif
    hlt                                        ; never resumed after EXIT
