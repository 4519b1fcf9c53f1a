; cryptine guest entry: from the monitor's register state (abi/guest_abi.h) to main().
;   rip = _start, rsp = CRYPTINE_STACK_TOP (16-byte aligned), rdi = boot info pointer,
;   every other register zero, interrupts off, long mode, SSE/XSAVE enabled by the monitor.
; guest_abi.inc is generated from abi/guest_abi.h by the build (%define CRYPTINE_...).
%include "guest_abi.inc"
%include "snapshot_state.inc"

bits 64
default rel

extern main, exit, atexit, cryptine_environment_from_boot
extern __libc_init_array, __libc_fini_array
extern __bss_start, __bss_end
extern cryptine_boot_info_ptr

; guest.ld puts .text._start first in the image.
section .text._start progbits alloc exec nowrite align=16
global _start:function
_start:
    mov r12, rdi                      ; keep the boot info pointer (callee-saved register)
    ; rsp is left as the monitor set it: the stack grows down towards the mailbox.

    ; Zero .bss: the ELF loader zeroes p_memsz past p_filesz too, but a guest must not
    ; rely on it (and a snapshot restores it anyway).
    cld
    lea rdi, [__bss_start]
    lea rcx, [__bss_end]
    sub rcx, rdi
    xor eax, eax
    rep stosb

    mov [cryptine_boot_info_ptr], r12 ; after the bss clear: the variable is in .bss
    xor ebp, ebp                      ; end of the frame-pointer chain

    ; C runtime start-up as a crt0 does it: destructors at exit, then .preinit_array,
    ; _init (.init, where OpenSSL's x86_64cpuid puts `call OPENSSL_cpuid_setup`),
    ; .init_array. rsp is 16-byte aligned before each call, as the SysV ABI wants.
    call cryptine_environment_from_boot ; before any initialiser reads it (boot_env.c)
    lea rdi, [__libc_fini_array]
    call atexit
    call __libc_init_array

    xor edi, edi                      ; argc = 0
    lea rsi, [empty_vector]           ; argv = { NULL }
    lea rdx, [empty_vector]           ; envp = { NULL }
    call main

    ; exit(): atexit handlers, stdio flush, then _exit() = EXIT hypercall with the status.
    mov edi, eax
    call exit

    ; exit() never returns; if it does, say so with an empty ABORT and stop.
.unreachable:
    mov dx, CRYPTINE_PORT_ABORT
    xor eax, eax
    out dx, eax
    hlt
    jmp .unreachable

; void cryptine_snapshot(void): the SNAPSHOT hypercall, and where every request after a
; reset starts. A reset (vmm/virtine.h) puts back guest memory and every vCPU register but
; XCR0, the XSAVE state and KERNEL_GS_BASE, which this guest loads itself right after the
; port write (snapshot_state.inc): three ioctls fewer per reset. Only rax, rcx, rdx and r8
; change, which a call may clobber anyway.
section .text
global cryptine_snapshot:function
cryptine_snapshot:
    SNAPSHOT_LOADING_STATE snapshot_xstate, snapshot_xcr0, snapshot_kernel_gs_base
    ret

; _init/_fini in crti/crtn style: guest.ld places .init.prologue, every object's .init,
; then .init.epilogue, so code that objects put in .init runs inside _init.
section .init.prologue progbits alloc exec nowrite align=1
global _init:function
_init:
    sub rsp, 8                        ; realign to 16 for the calls placed in .init

section .init.epilogue progbits alloc exec nowrite align=1
    add rsp, 8
    ret

section .fini.prologue progbits alloc exec nowrite align=1
global _fini:function
_fini:
    sub rsp, 8

section .fini.epilogue progbits alloc exec nowrite align=1
    add rsp, 8
    ret

section .rodata
align 8
empty_vector: dq 0

section .bss nobits alloc noexec write align=64
snapshot_xstate: resb XSTATE_IMAGE_SIZE
snapshot_xcr0: resq 1
snapshot_kernel_gs_base: resq 1

; No executable stack wanted (keeps ld from warning about this object).
section .note.GNU-stack noalloc noexec nowrite progbits
