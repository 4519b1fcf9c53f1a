; A hostile request against the MSRs: after its snapshot, at a request with mode 1 the
; guest tries to change every MSR the host lists, KVM's paravirtual ones included, and
; records for each whether RDMSR faulted and whether any WRMSR was taken. A #GP handler
; of its own skips a faulting RDMSR/WRMSR. At mode 0 it answers DONE writing nothing
; (not even its stack), so a later write to guest memory can only be KVM's. At mode 2 it
; sets GS.base to the u64 at TABLE + 8 and runs SWAPGS.
%include "guest_abi.inc"

%define TABLE    0x800000   ; host: u32 mode, u32 count, u32 index[count] (mode 2: u64 GS.base)
%define RESULTS  0x900000   ; guest: one byte per index, bits below
%define PV_PAGES 0xa00000   ; one page per MSR (index & 0xf) for paravirtual-style values
%define IDT      0xb00000
%define READ_FAULTED 1
%define WROTE        2      ; a flipped value was taken
%define WROTE_PV     4      ; a page address with the enable bit was taken

bits 64
section .text
global _start
_start:
    mov dx, CRYPTINE_PORT_SNAPSHOT
    out dx, eax
.request:
    cmp dword [TABLE], 2
    je .swapgs
    cmp dword [TABLE], 1
    jne .done
    call write_msrs
    jmp .done
.swapgs:                                ; MSRs changed without WRMSR: GS.base <-> KERNEL_GS_BASE
    mov rax, cr4
    or rax, 1 << 16                     ; CR4.FSGSBASE
    mov cr4, rax
    mov rax, [TABLE + 8]
    wrgsbase rax
    swapgs
.done:
    mov dx, CRYPTINE_PORT_DONE
    out dx, eax
    jmp .request

write_msrs:
    ; IDT vector 13 (#GP): a present 64-bit interrupt gate to gp_handler.
    lea rax, [rel gp_handler]
    mov rdi, IDT + 13 * 16
    mov [rdi], ax
    mov bx, cs
    mov [rdi + 2], bx
    mov word [rdi + 4], 0x8e00
    shr rax, 16
    mov [rdi + 6], ax
    shr rax, 16
    mov [rdi + 8], eax
    mov dword [rdi + 12], 0
    sub rsp, 16
    mov word [rsp], 256 * 16 - 1
    mov qword [rsp + 2], IDT
    lidt [rsp]
    add rsp, 16

    mov r12d, [TABLE + 4]
    xor r13d, r13d
.next:
    cmp r13, r12
    jae .finished
    mov ecx, [TABLE + 8 + r13 * 4]
    xor r14d, r14d
    xor eax, eax
    xor edx, edx
    xor r15d, r15d
    rdmsr
    test r15d, r15d
    jz .read
    or r14b, READ_FAULTED
    xor eax, eax
    xor edx, edx
.read:
    shl rdx, 32
    or rax, rdx
    mov rbx, rax                        ; the value before
    lea rsi, [rel flips]
.flip:
    mov rax, [rsi]
    test rax, rax
    jz .pv
    xor rax, rbx
    mov r8b, WROTE
    call try_write
    add rsi, 8
    jmp .flip
.pv:
    mov eax, ecx                        ; e.g. MSR_KVM_SYSTEM_TIME_NEW = page | enable
    and eax, 0xf
    shl eax, 12
    add eax, PV_PAGES + 1
    mov r8b, WROTE_PV
    call try_write
    mov [RESULTS + r13], r14b
    inc r13
    jmp .next
.finished:
    ret

; WRMSR ecx <- rax; on success r14b |= r8b.
try_write:
    mov rdx, rax
    shr rdx, 32
    xor r15d, r15d
    wrmsr
    test r15d, r15d
    jnz .faulted
    or r14b, r8b
.faulted:
    ret

; #GP from RDMSR or WRMSR (both 2 bytes): skip the instruction, flag it in r15.
gp_handler:
    add rsp, 8                          ; the error code
    add qword [rsp], 2
    mov r15d, 1
    iretq

section .rodata
align 8
; Bits to flip, one write each: low control bits, a page-address bit, and big ones
; (TSC_ADJUST moves by 2^40). Ends with 0.
flips: dq 1, 2, 4, 8, 0x10, 0x100, 0x1000, 0x10000, 1 << 32, 1 << 40, 0
