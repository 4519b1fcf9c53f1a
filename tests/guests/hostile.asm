; One guest per forbidden exit, chosen with -DCASE_<name>. Each must end only its own
; virtine, with the reason reported; log_flood must be throttled, not fatal.
; With -DAFTER_SNAPSHOT the guest first boots well (makes SNAPSHOT) and turns hostile
; at its first request: what the shim sees when a crypto guest goes bad under a program.
%include "guest_abi.inc"
; REPLY magic, status, out.offset, out.length: a forged reply to whatever request is in
; the mailbox (OUT_OFFSET/OUT_END: the output window the request granted), then DONE.
%define REQ(field) CRYPTINE_MAILBOX_ADDR + CRYPTINE_REQUEST_OFFSET + field
%define REP(field) CRYPTINE_MAILBOX_ADDR + CRYPTINE_REPLY_OFFSET + field
%define OUT_OFFSET r8d
%define OUT_END r9d
%macro REPLY 4
    mov r8d, [REQ(CRYPTINE_REQUEST_OUT_OFFSET)]
    mov r9d, [REQ(CRYPTINE_REQUEST_OUT_CAPACITY)]
    add r9d, r8d
    mov dword [REP(0)], %1
    mov dword [REP(CRYPTINE_REPLY_STATUS)], %2
    lea eax, [%3]                                    ; lea: `mov eax, r8d - 1` would drop the - 1
    mov dword [REP(CRYPTINE_REPLY_OUT)], eax         ; out.offset
    mov dword [REP(CRYPTINE_REPLY_OUT + 4)], %4      ; out.length
    mov dx, CRYPTINE_PORT_DONE
    out dx, eax
%endmacro
; Answers every request with OK, handle 1, values[0] = %1 and an output of %1 bytes at the
; window's start: a guest lying about how much it wrote.
%macro LIE 1
    mov r8d, [REQ(CRYPTINE_REQUEST_OUT_OFFSET)]
    mov r9d, [REQ(CRYPTINE_REQUEST_OUT_CAPACITY)]
    mov eax, %1
    mov dword [REP(0)], CRYPTINE_REPLY_MAGIC
    mov dword [REP(CRYPTINE_REPLY_STATUS)], CRYPTINE_STATUS_OK
    mov dword [REP(CRYPTINE_REPLY_HANDLE)], 1
    mov [REP(CRYPTINE_REPLY_OUT)], r8d
    mov [REP(CRYPTINE_REPLY_OUT + 4)], eax
    mov [REP(CRYPTINE_REPLY_VALUES)], rax
    mov dx, CRYPTINE_PORT_DONE
    out dx, eax
%endmacro

bits 64
section .text
global _start
_start:
%ifdef AFTER_SNAPSHOT
    mov dx, CRYPTINE_PORT_SNAPSHOT
    out dx, eax
%endif
%ifdef CASE_unknown_port
    mov dx, 0x3f8                       ; a serial port: not a hypercall
    out dx, eax
%elifdef CASE_port_read
    mov dx, CRYPTINE_PORT_DONE          ; reading a hypercall port
    in eax, dx
%elifdef CASE_narrow_out
    mov dx, CRYPTINE_PORT_EXIT          ; a hypercall with a one-byte write
    out dx, al
%elifdef CASE_mmio
    ; Map guest-virtual 1 GiB - 2 MiB to the same guest-physical range, which has no
    ; memory behind it, through its own page table, and write there.
    mov rax, 0x3fe00000 | 0x83          ; present, writable, 2 MiB
    mov [CRYPTINE_PD_ADDR + 8 * 511], rax
    mov dword [0x3fe00000], 0x1234
%elifdef CASE_null_deref
    mov rax, [0]                        ; page 0 is absent: #PF, no IDT, triple fault
%elifdef CASE_log_too_long
    mov dx, CRYPTINE_PORT_LOG
    mov eax, CRYPTINE_LOG_SIZE + 1
    out dx, eax
%elifdef CASE_abort
    mov rdi, CRYPTINE_LOG_ADDR
    mov rax, 0x0a1b6f6f6f6f6f62         ; "booooo", then ESC and a newline
    mov [rdi], rax
    mov dx, CRYPTINE_PORT_ABORT
    mov eax, 8
    out dx, eax
%elifdef CASE_log_flood
    mov dword [CRYPTINE_LOG_ADDR], 0x21796873  ; "shy!"
    mov ecx, 1000
.flood:
    mov dx, CRYPTINE_PORT_LOG
    mov eax, 4
    out dx, eax
    dec ecx
    jnz .flood
    mov dx, CRYPTINE_PORT_EXIT
    xor eax, eax
    out dx, eax
%elifdef CASE_reply_bad_magic
    REPLY 0, CRYPTINE_STATUS_OK, OUT_OFFSET, 0
%elifdef CASE_reply_bad_status
    REPLY CRYPTINE_REPLY_MAGIC, 99, OUT_OFFSET, 0
%elifdef CASE_reply_past_window
    REPLY CRYPTINE_REPLY_MAGIC, CRYPTINE_STATUS_OK, OUT_END - 1, 2
%elifdef CASE_reply_before_window
    REPLY CRYPTINE_REPLY_MAGIC, CRYPTINE_STATUS_OK, OUT_OFFSET - 1, 1
%elifdef CASE_reply_overflow
    REPLY CRYPTINE_REPLY_MAGIC, CRYPTINE_STATUS_OK, -1, 2       ; offset 0xffffffff: + 2 overflows
%elifdef CASE_reply_failed_with_output
    REPLY CRYPTINE_REPLY_MAGIC, CRYPTINE_STATUS_CRYPTO_ERROR, OUT_OFFSET, 4
%elifdef CASE_page_tables
    mov qword [CRYPTINE_PML4_ADDR], 0   ; unmap all memory, and make the CPU see it:
    mov rax, cr3                        ; the next fetch faults, with no IDT a triple fault
    mov cr3, rax
%elifdef CASE_spin
.spin:
    pause
    jmp .spin
%elifdef CASE_exit_at_boot
    mov dx, CRYPTINE_PORT_EXIT          ; never makes SNAPSHOT
    xor eax, eax
    out dx, eax
%elifdef CASE_lie_whole_window
.serve:
    LIE r9d
    jmp .serve
%elifdef CASE_lie_no_output
.serve:
    LIE 0
    jmp .serve
%else
%error "choose a case with -DCASE_<name>"
%endif
    hlt
