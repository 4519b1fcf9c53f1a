; Dirties everything a guest can after its snapshot, so the reset test can show the
; reset puts back all of it: memory (data, page tables, GDT, mailbox, stack), general
; registers and flags, x87/SSE/AVX state, MXCSR, control and debug registers,
; descriptor tables and MSRs. Each DONE follows one round of dirtying.
%include "guest_abi.inc"

%define SCRATCH_A 0x800000          ; a page of data
%define SCRATCH_B 0x900ffc          ; an 8-byte write that straddles two pages

bits 64
section .text
global _start
_start:
    mov dword [CRYPTINE_MAILBOX_ADDR], 0x534e4150   ; "PANS": state before the snapshot
    mov r15, 0x0123456789abcdef
    mov dx, CRYPTINE_PORT_SNAPSHOT
    out dx, eax

.round:
    ; memory
    mov rax, 0xdeadbeefcafef00d
    mov [SCRATCH_A], rax
    mov [SCRATCH_B], rax                            ; bytes in 0x900000 and 0x901000
    mov [CRYPTINE_MAILBOX_ADDR], rax
    mov [CRYPTINE_GDT_ADDR + 0x100], rax            ; past the live descriptors
    mov qword [CRYPTINE_PD_ADDR + 8 * 300], rax      ; a page-table entry (never walked)
    push rax                                        ; the stack page below STACK_TOP
    pop rax
    ; general registers and flags
    mov rbx, rax
    mov rcx, rax
    mov rsi, rax
    mov rdi, rax
    mov rbp, rax
    mov r8, rax
    mov r9, rax
    mov r10, rax
    mov r11, rax
    mov r12, rax
    mov r13, rax
    mov r14, rax
    mov r15, rax
    std                                             ; DF in rflags
    ; x87, SSE, AVX, MXCSR
    fldpi
    fldpi
    movq xmm0, rax
    pinsrq xmm7, rax, 1
    vpbroadcastq ymm3, xmm0
    sub rsp, 8
    mov dword [rsp], 0x1fc0                          ; MXCSR with DAZ set
    ldmxcsr [rsp]
    add rsp, 8
    ; XCR0 is not changed here: under the KVM harness (QEMU's emulated SVM) XSETBV in
    ; a nested guest never reaches KVM, so the test could not see it. The reset restores
    ; XCR0 with KVM_SET_XCRS all the same.
    ; control, debug and descriptor-table registers
    mov rax, cr4
    and rax, ~(1 << 10)                             ; clear OSXMMEXCPT
    mov cr4, rax
    mov rax, 0x12345000
    mov dr0, rax
    mov rax, 0x401
    mov dr7, rax
    sub rsp, 16
    mov word [rsp], 0xfff
    mov qword [rsp + 2], 0x5000
    lidt [rsp]
    add rsp, 16
    ; MSRs: FS/GS base, KERNEL_GS_BASE, STAR, LSTAR, SFMASK, SYSENTER_EIP, PAT
    mov edx, 0x1
    mov eax, 0x2000
    mov ecx, 0xc0000100
    wrmsr
    mov ecx, 0xc0000101
    wrmsr
    mov ecx, 0xc0000102
    wrmsr
    mov ecx, 0xc0000081
    wrmsr
    mov ecx, 0xc0000082
    wrmsr
    mov ecx, 0xc0000084
    wrmsr
    mov ecx, 0x176
    wrmsr
    mov ecx, 0x277
    mov eax, 0x00070406
    mov edx, 0x00070406
    wrmsr

    mov dx, CRYPTINE_PORT_DONE
    out dx, eax
    jmp .round
