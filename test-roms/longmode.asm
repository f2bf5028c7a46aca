; longmode.asm - IA-32e mode: activation, 64-bit code, paging, interrupts,
; SYSCALL/SYSRET, FS/GS bases.
; qemu-binary: qemu-system-x86_64
; qemu-flags: -cpu qemu64
; anyx86-flags: --cpu qemu64
;
; References: Intel SDM Vol.3 9.8.5 (initializing IA-32e mode), 2.5 (CR3,
; CR8), 4.5 (4-level paging), 4.7 (#PF error codes), 6.14 (64-bit interrupt
; and exception handling, IST), 5.2.1 / 3.3.7.1 (canonical addresses), Vol.2
; SYSCALL, SYSRET, SWAPGS, IRET, MOVSXD, CDQE/CQO, LAHF/SAHF, SGDT; Vol.4
; table 2-2 (EFER, STAR/LSTAR/SFMASK, FS/GS/KERNEL_GS_BASE).
;
;  - CPUID 80000001h reports LM, NX, SYSCALL and LAHF_LM
;  - the SDM 9.8.5 sequence: CR4.PAE, CR3 = PML4, EFER.LME, CR0.PG sets
;    EFER.LMA in compatibility mode; a far JMP to an L=1 code segment enters
;    64-bit mode; #GP(0) for clearing EFER.LME while paging or CR4.PAE in
;    IA-32e mode; a far JMP to L=1,D=1 code is #GP(selector); exceptions in
;    compatibility mode go through the 64-bit IDT and IRETQ returns there
;  - 64-bit arithmetic and the 32-bit zero extension, MOVSXD, CDQE, CQO,
;    REX byte registers, PUSH/CALL 8-byte defaults, RIP-relative LEA,
;    LAHF/SAHF, SGDT with a 10-byte operand, CR8
;  - canonical checks: #GP(0) for data, #SS(0) for stack-based addresses;
;    #PF for a canonical unmapped upper-half address
;  - 4-level paging #PF error codes and CR2: not present, write to a
;    read-only page (CR0.WP=1), fetch from an NX page (I/D), a reserved
;    physical-address bit, and a user access to a supervisor page
;  - 16-byte IDT gates: the frame with SS:RSP always pushed, RSP aligned
;    down to 16, IST1 from the 64-bit TSS, RSP0 on a ring 3 -> 0 transfer
;  - IRETQ to ring 3; SYSCALL (RCX, R11, SFMASK, CS/SS from STAR) and
;    SYSRETQ (CS/SS = STAR[63:48]+16/+8, RFLAGS from R11)
;  - IRETQ to compatibility mode at CPL 0 (48h decodes as DEC EAX there)
;    and a far JMP back to 64-bit code
;  - GS_BASE / KERNEL_GS_BASE with SWAPGS (and #GP at CPL 3), FS_BASE via
;    WRMSR and reset by a selector load, #GP for a non-canonical base;
;    RDTSCP is #UD (qemu64 does not report it)
;  - SSE/SSE2/MMX in 64-bit mode: the CR4.OSFXSR, CR0.TS and CR0.EM rules,
;    XMM8-XMM15, REX.W forms, RIP-relative operands with an immediate,
;    #GP for a misaligned m128, FXSAVE64/FXRSTOR64 with XMM8-XMM15
;  - leaving IA-32e mode: back to compatibility mode, CR0.PG=0 clears LMA.
;
; -DQEMU_DIVERGENT adds checks QEMU 7.2 gets wrong (see README.md).

%define ROM_TITLE "longmode: IA-32e activation, 64-bit paging/IDT/IST, SYSCALL/SYSRET, SWAPGS"
%include "rom.inc"
%include "desc.inc"
%include "lib16.inc"

IDT64           equ 0x10000         ; 256 16-byte gates
TSS64           equ 0x11000
PML4            equ 0x20000
PDPT            equ 0x21000
PD0             equ 0x22000
PT0             equ 0x23000         ; 4 KiB pages for 0-2 MiB
IST1_TOP        equ 0x9A000
STACK3_64       equ 0x9C800         ; ring-3 stack
SGDT_BUF        equ 0x880

X_VEC           equ 0x900           ; 64-bit copies of the exception record
X_ERR           equ 0x908
X_RIP           equ 0x910
X_CS            equ 0x918
X_RFL           equ 0x920
X_RSP           equ 0x928
X_SS            equ 0x930
X_CR2           equ 0x938
X_RESUME        equ 0x940
X_CNT           equ 0x948
H_RSP           equ 0x950           ; RSP in the IST/alignment handler
R0_RSP          equ 0x958
SC_RCX          equ 0x960
SC_R11          equ 0x968
SC_RFL          equ 0x970
SC_CS           equ 0x978
SC_SS           equ 0x980
SAVE_RSP        equ 0x988
SSE_TMP         equ 0x990
SSE_FX          equ 0x30000         ; FXSAVE area (16-byte aligned)

SEL_CODE64      equ 0x40
SEL_DATA64      equ 0x48
SEL_SYSRET      equ 0x50            ; STAR[63:48]: +0 code32, +8 data, +16 code64
SEL_CODE64_3    equ 0x60|3
SEL_DATA_3      equ 0x58|3
SEL_TSS64       equ 0x68
SEL_BAD_LD      equ 0x78            ; L=1 and D=1

; test pages (identity mapped through PT0)
L_NP            equ 0x1F0000        ; not present
L_RO            equ 0x1F1000        ; read-only
L_NX            equ 0x1F2000        ; execute-disable
L_RSVD          equ 0x1F3000        ; reserved bit 45 set
L_SUP           equ 0x1F4000        ; supervisor only
L_GS            equ 0x1F5000
L_KGS           equ 0x1F6000

%macro GDT_EXTRA 0
        DESC    0, 0xFFFFF, 0x9B, 0xA                   ; 40 code64 DPL0
        DESC    0, 0xFFFFF, 0x93, FL_32                 ; 48 data DPL0
        DESC    0, 0xFFFFF, 0xFB, FL_32                 ; 50 code32 DPL3
        DESC    0, 0xFFFFF, 0xF3, FL_32                 ; 58 data DPL3
        DESC    0, 0xFFFFF, 0xFB, 0xA                   ; 60 code64 DPL3
        DESC    TSS64, 0x67, 0x89, 0                    ; 68 TSS64 (16 bytes)
        dq      0
        DESC    0, 0xFFFFF, 0x9B, 0xE                   ; 78 code, L=1 D=1
%endmacro

%include "pm32.inc"

GDT_LIMIT       equ pm32_gdt_end - pm32_gdt - 1

; PTE(lin): the PT0 entry of a low 4 KiB page
%define PTE(lin) (PT0 + ((lin) >> 12) * 8)

bits 32

pm_main:
        mov     eax, 0x80000001
        cpuid
        mov     eax, edx
        and     eax, 0x20100800
        CHECK32 'cpuid 80000001 edx lm|nx|syscall', 32, 0x20100800
        mov     eax, ecx
        and     eax, 1
        CHECK32 'cpuid 80000001 ecx lahf_lm', 8, 1
        call    build_tables

%ifdef QEMU_DIVERGENT
        ; SDM 9.8.5: setting CR0.PG with EFER.LME=1 and CR4.PAE=0 is #GP(0)
        ; (QEMU ignores the write).
        mov     ecx, 0xC0000080
        rdmsr
        or      eax, 0x100
        wrmsr
        mov     eax, PML4
        mov     cr3, eax
        EXPECT  .a1
        mov     eax, cr0
        or      eax, 0x80000000
.fa1:   mov     cr0, eax
.a1:    EXC_SHOW 'CR0.PG with LME=1, PAE=0', 13, 0, .fa1
        mov     eax, cr0
        shr     eax, 31
        CHECK32 '    cr0.pg', 8, 0
%endif

        ; --- the SDM 9.8.5 sequence
        lidt    [idt64_ptr]             ; exceptions from here on: 64-bit IDT
        mov     eax, cr4
        or      eax, 0x20               ; PAE
        mov     cr4, eax
        mov     eax, PML4
        mov     cr3, eax
        mov     ecx, 0xC0000080
        rdmsr
        or      eax, 0x901              ; LME | NXE | SCE
        wrmsr
        rdmsr
        CHECK32 'efer before cr0.pg', 32, 0x901
        mov     eax, cr0
        or      eax, 0x80010000         ; PG | WP
        mov     cr0, eax
        mov     ecx, 0xC0000080
        rdmsr
        CHECK32 'efer after cr0.pg (lma set)', 32, 0xD01

        ; --- compatibility mode: faults go through the 64-bit IDT
%ifdef QEMU_DIVERGENT
        ; SDM WRMSR / 9.8.5: #GP(0) (QEMU clears LME and goes on)
        EXPECT  .b1
        and     eax, ~0x100
.fb1:   wrmsr
.b1:    EXC_SHOW 'wrmsr efer clearing LME while paging', 13, 0, .fb1
        ; SDM MOV CR4: #GP(0) (QEMU clears PAE and the next access faults)
        EXPECT  .b2
        mov     eax, cr4
        and     eax, ~0x20
.fb2:   mov     cr4, eax
.b2:    EXC_SHOW 'clear CR4.PAE in IA-32e mode', 13, 0, .fb2
        ; SDM JMP: L=1 with D=1 is #GP(selector) (QEMU runs it as 64-bit)
        EXPECT  .b3
.fb3:   jmp     SEL_BAD_LD:0
.b3:    EXC_SHOW 'far jmp to L=1 D=1 code', 13, SEL_BAD_LD, .fb3
%endif
        EXPECT  .b4
.fb4:   ud2
.b4:    EXC_SHOW '#UD in compatibility mode', 6, -1, .fb4
        mov     eax, [EXC_CS]
        CHECK32 '    pushed cs (compatibility mode)', 16, 0x08
        mov     [SAVE_RSP], esp
        jmp     SEL_CODE64:long_entry

; build_tables: identity map 0-1 GiB (PT0 for the first 2 MiB, then 2 MiB
; pages), the 64-bit IDT and TSS.
build_tables:
        mov     edi, PML4
        mov     ecx, 0x4000 / 4
        xor     eax, eax
        rep stosd
        mov     dword [PML4], PDPT | 7
        mov     dword [PDPT], PD0 | 7
        mov     dword [PD0], PT0 | 7
        mov     ecx, 1
.pd:    mov     eax, ecx
        shl     eax, 21
        or      eax, 0x87               ; PS | U | W | P
        mov     [PD0 + ecx*8], eax
        inc     ecx
        cmp     ecx, 512
        jb      .pd
        xor     ecx, ecx
.pt:    mov     eax, ecx
        shl     eax, 12
        or      eax, 7
        mov     [PT0 + ecx*8], eax
        inc     ecx
        cmp     ecx, 512
        jb      .pt
        mov     dword [PTE(L_NP)], 0
        mov     dword [PTE(L_RO)], L_RO | 5
        mov     dword [PTE(L_NX) + 4], 0x80000000
        mov     dword [PTE(L_RSVD) + 4], 0x00002000     ; bit 45
        mov     dword [PTE(L_SUP)], L_SUP | 3
        ; IDT: vectors 0-31 -> x64 stubs, 0x41 IST1, 0x42 no IST
        mov     edi, IDT64
        mov     ecx, 256 * 4
        xor     eax, eax
        rep stosd
        xor     ecx, ecx
.idt:   imul    eax, ecx, X64_STUB_SIZE
        add     eax, x64_stub_0
        xor     edx, edx
        call    set_gate64
        inc     ecx
        cmp     ecx, 32
        jb      .idt
        mov     ecx, 0x41
        mov     eax, h_rsp
        mov     edx, 1
        call    set_gate64
        mov     ecx, 0x42
        xor     edx, edx
        call    set_gate64
        ; TSS64: RSP0, IST1; I/O map base beyond the limit
        mov     edi, TSS64
        mov     ecx, 0x68 / 4
        xor     eax, eax
        rep stosd
        mov     dword [TSS64 + 4], STACK0
        mov     dword [TSS64 + 0x24], IST1_TOP
        mov     word [TSS64 + 0x66], 0x68
        ret

; set_gate64: IDT64[ECX] <- 64-bit interrupt gate DPL0, CS 40h, offset EAX,
; IST DL
set_gate64:
        push    edi
        mov     edi, ecx
        shl     edi, 4
        add     edi, IDT64
        mov     [edi], ax
        mov     word [edi+2], SEL_CODE64
        mov     [edi+4], dl
        mov     byte [edi+5], 0x8E
        push    eax
        shr     eax, 16
        mov     [edi+6], ax
        pop     eax
        pop     edi
        ret

idt64_ptr:
        dw      256*16 - 1
        dd      IDT64

; --- IRETQ from 64-bit code lands here, in compatibility mode at CPL 0
compat_iret:
        mov     eax, cs
        CHECK32 'iretq to compatibility mode: cs', 4, SEL_CODE0
        mov     eax, 5
        db      0x48                    ; DEC EAX here (REX.W in 64-bit code)
        nop
        CHECK32 '    48h is dec eax', 8, 4
        jmp     SEL_CODE64:long_from_compat

; --- back in compatibility mode from 64-bit code: leave IA-32e mode
compat_back:
        mov     eax, cr0
        and     eax, 0x7FFFFFFF
        mov     cr0, eax
        mov     ecx, 0xC0000080
        rdmsr
        CHECK32 'efer after cr0.pg=0 (lma clear)', 32, 0x901
        lidt    [pm32_idt_ptr]
        ret

; ===========================================================================
%include "lib64.inc"
bits 64

; XSHOW 'label', vector, error (-1: none), rip (-1: not checked)
%macro XSHOW 4
        PRINT64 %1, ' ->'
        push    qword %4
        push    qword %3
        push    qword %2
        call    x_show
%endmacro

; EXPECT64 label: forget the last exception, resume at label after the next
%macro EXPECT64 1
        mov     qword [X_VEC], -1
        mov     qword [X_ERR], -1
        mov     qword [X_RIP], 0
        mov     qword [X_RESUME], %1
%endmacro

long_entry:
        mov     ax, SEL_TSS64
        ltr     ax
        sgdt    [SGDT_BUF]
        movzx   eax, word [SGDT_BUF]
        CHECK64 'sgdt limit', 4, GDT_LIMIT
        mov     rax, [SGDT_BUF + 2]
        CHECK64 'sgdt base (8 bytes)', 16, GDT_ADDR

        ; --- 64-bit operations
        mov     rax, 0x123456789ABCDEF0
        mov     rbx, 0x0FEDCBA987654321
        add     rax, rbx
        CHECK64 'add rax, rbx', 16, 0x2222222222222211
        mov     rax, -1
        mov     eax, 0x12345678
        CHECK64 'mov eax zero-extends', 16, 0x12345678
        mov     rax, -1
        add     eax, 1
        CHECK64 'add eax zero-extends', 16, 0
        mov     rax, -1
        mov     ax, 0x1234
        CHECK64 'mov ax merges', 16, 0xFFFFFFFFFFFF1234
        mov     ecx, 0x80000000
        movsxd  rax, ecx
        CHECK64 'movsxd', 16, 0xFFFFFFFF80000000
        mov     eax, 0x80000001
        cdqe
        CHECK64 'cdqe', 16, 0xFFFFFFFF80000001
        mov     rax, 0x8000000000000000
        cqo
        mov     rax, rdx
        CHECK64 'cqo: rdx', 16, -1
        mov     rsi, 0x1111111111111111
        mov     sil, 0x5A
        mov     rax, rsi
        CHECK64 'mov sil', 16, 0x111111111111115A
        mov     r8, -1
        mov     r8b, 0
        mov     rax, r8
        CHECK64 'mov r8b', 16, 0xFFFFFFFFFFFFFF00
        mov     rbx, rsp
        push    rax
        sub     rbx, rsp
        pop     rax
        mov     rax, rbx
        CHECK64 'push: rsp delta', 2, 8
        push    -2
        pop     rax
        CHECK64 'push imm8 sign-extended', 16, -2
        mov     rbx, rsp
        call    .c
.c:     sub     rbx, rsp
        pop     rax
        CHECK64 'call: return address', 16, .c
        mov     rax, rbx
        CHECK64 'call: rsp delta', 2, 8
        lea     rax, [rel .c]
        CHECK64 'lea rip-relative', 16, .c
        ; RIP-relative operands in the middle of straight-line code (each
        ; instruction's next RIP, which they add, is derived from where its
        ; block of code starts) and in CMP + Jcc pairs.
        mov     ecx, 7
        add     rcx, [rel sse_a]
        mov     rdx, [rel sse_a + 8]
        mov     rax, rcx
        CHECK64 'add rcx, [rip+a] after a mov', 16, 0x2222222211111118
        mov     rax, rdx
        CHECK64 'mov rdx, [rip+a+8] after an add', 16, 0x4444444433333333
        mov     eax, 1
        cmp     dword [rel sse_a + 4], 0x22222222
        jne     .ne
        mov     eax, 2
.ne:    CHECK64 'cmp [rip+a+4], imm32; jne not taken', 2, 2
        mov     eax, 3
        cmp     dword [rel sse_a], 0x11111111
        je      .eq
        mov     eax, 4
.eq:    CHECK64 'cmp [rip+a], imm32; je taken', 2, 3
        mov     ah, 0xD5
        sahf
        mov     ah, 0
        lahf
        movzx   eax, ah
        CHECK64 'sahf/lahf', 2, 0xD7
        mov     eax, 5
        mov     cr8, rax
        mov     rax, cr8
        CHECK64 'cr8', 2, 5
        xor     eax, eax
        mov     cr8, rax

        ; --- canonical addresses
        mov     rax, 0x0000800000000000
        EXPECT64 .k1
.fk1:   mov     rbx, [rax]
.k1:    XSHOW   'read non-canonical', 13, 0, .fk1
%ifdef QEMU_DIVERGENT
        ; SDM: #SS(0) for a non-canonical stack reference (QEMU: #GP(0))
        EXPECT64 .k2
.fk2:   mov     rbx, [rsp + rax]
.k2:    XSHOW   'read non-canonical via rsp', 12, 0, .fk2
%endif
        ; A non-canonical alias of pages the TLB holds (a page walk reads
        ; only bits 47:0): a read and a write of X_CR2's page with bit 48
        ; set, and a read from the top non-canonical page whose last bytes
        ; are the first of the upper half.
        mov     rbx, [X_CR2]
        mov     [X_CR2], rbx
        mov     rax, X_CR2 | 0x0001000000000000
        EXPECT64 .k5
.fk5:   mov     rbx, [rax]
.k5:    XSHOW   'read non-canonical alias', 13, 0, .fk5
        mov     rax, X_CR2 | 0x0001000000000000
        EXPECT64 .k6
.fk6:   mov     [rax], rbx
.k6:    XSHOW   'write non-canonical alias', 13, 0, .fk6
        mov     rax, 0xFFFF7FFFFFFFFFFC
        EXPECT64 .k7
.fk7:   mov     rbx, [rax]
.k7:    XSHOW   'read across into the upper half', 13, 0, .fk7
        mov     rax, 0xFFFF800000000000
        EXPECT64 .k3
.fk3:   mov     rbx, [rax]
.k3:    XSHOW   'read canonical unmapped ffff8000...', 14, 0, .fk3
        mov     rax, [X_CR2]
        CHECK64 '    cr2', 16, 0xFFFF800000000000
%ifdef QEMU_DIVERGENT
        ; Intel reports the #GP on the branch (QEMU on the target fetch).
        mov     rax, 0x0000800000000000
        EXPECT64 .k4
.fk4:   jmp     rax
.k4:    XSHOW   'jmp non-canonical', 13, 0, .fk4
%endif

        ; --- 4-level paging faults
        EXPECT64 .p1
.fp1:   mov     eax, [L_NP + 8]
.p1:    XSHOW   '#PF not present read', 14, 0, .fp1
        mov     rax, [X_CR2]
        CHECK64 '    cr2', 8, L_NP + 8
        EXPECT64 .p2
.fp2:   mov     dword [L_RO + 4], 1
.p2:    XSHOW   '#PF write read-only page (wp=1)', 14, 3, .fp2
        mov     rax, [X_CR2]
        CHECK64 '    cr2', 8, L_RO + 4
        mov     byte [L_NX], 0xC3
        mov     rbp, rsp
        mov     eax, L_NX
        EXPECT64 .p3
        call    rax
.p3:    mov     rsp, rbp
        XSHOW   '#PF fetch from NX page', 14, 0x11, L_NX
        mov     rax, [X_CR2]
        CHECK64 '    cr2', 8, L_NX
        EXPECT64 .p4
.fp4:   mov     eax, [L_RSVD]
.p4:
        ; As in paging.asm: SDM 4.7 makes P=1 with RSVD=1 (0009); QEMU 7.2
        ; reports 0008, so P is only compared with -DQEMU_DIVERGENT.
%ifdef QEMU_DIVERGENT
        XSHOW   '#PF reserved bit 45 (maxphyaddr 40)', 14, 9, .fp4
%else
        and     qword [X_ERR], ~1
        XSHOW   '#PF reserved bit 45 (maxphyaddr 40) (err&~1)', 14, 8, .fp4
%endif
        mov     rax, [X_CR2]
        CHECK64 '    cr2', 8, L_RSVD

        ; --- IST and stack alignment
        int     0x41
        mov     rax, [H_RSP]
        CHECK64 'int 41h (ist1): handler rsp', 8, IST1_TOP - 40
        mov     rax, [IST1_TOP - 16]
        CHECK64 '    pushed rsp', 8, STACK_TOP - 4
        mov     rbx, rsp
        mov     rsp, 0x9C008
        int     0x42
        mov     rsp, rbx
        mov     rax, [H_RSP]
        CHECK64 'int 42h at rsp 9c008: handler rsp', 8, 0x9C000 - 40
        mov     rax, [0x9C000 - 16]
        CHECK64 '    pushed rsp', 8, 0x9C008
        mov     rax, [0x9C000 - 8]
        CHECK64 '    pushed ss', 4, SEL_DATA0
        mov     rax, [0x9C000 - 32]
        CHECK64 '    pushed cs', 4, SEL_CODE64

        ; --- SYSCALL / SYSRET setup
        mov     ecx, 0xC0000081                         ; STAR
        xor     eax, eax
        mov     edx, (SEL_SYSRET << 16) | SEL_CODE64
        wrmsr
        mov     ecx, 0xC0000082                         ; LSTAR
        mov     eax, sys64_entry
        xor     edx, edx
        wrmsr
        mov     ecx, 0xC0000084                         ; SFMASK: DF, IF
        mov     eax, 0x600
        wrmsr

        ; --- ring 3 through IRETQ
        mov     rax, ring3_a
        call    r3_run
        mov     rax, [SC_RCX]
        CHECK64 'syscall: rcx', 8, ring3_a.ret
        mov     rax, [SC_R11]
        CHECK64 'syscall: r11', 8, 0x3402
        mov     rax, [SC_RFL]
        CHECK64 'syscall: rflags (sfmask applied)', 8, 0x3002
        mov     rax, [SC_CS]
        CHECK64 'syscall: cs', 4, SEL_CODE64
        mov     rax, [SC_SS]
        CHECK64 'syscall: ss', 4, SEL_DATA64

        ; --- SYSRETQ to ring 3
        mov     rax, ring3_b
        call    sysret_run
        mov     rax, [SC_RCX]
        CHECK64 'back by syscall: rcx', 8, ring3_b.ret

        ; --- IRETQ to compatibility mode at CPL 0, far JMP back
        mov     ax, SEL_DATA0
        mov     ds, ax
        mov     es, ax
        mov     rax, rsp
        push    SEL_DATA0
        push    rax
        push    0x2
        push    SEL_CODE0
        push    compat_iret
        iretq
long_from_compat:
        mov     eax, cs
        CHECK64 'far jmp back to 64-bit code: cs', 4, SEL_CODE64

        ; --- GS/FS bases
        mov     dword [L_GS], 0x55555555
        mov     dword [L_KGS], 0x66666666
        mov     dword [L_GS + 4], 0x44444444
        mov     ecx, 0xC0000101
        mov     eax, L_GS
        xor     edx, edx
        wrmsr
        mov     ecx, 0xC0000102
        mov     eax, L_KGS
        wrmsr
        mov     eax, [gs:0]
        CHECK64 'gs:[0] (gs_base)', 8, 0x55555555
        swapgs
        mov     eax, [gs:0]
        CHECK64 'gs:[0] after swapgs', 8, 0x66666666
        mov     ecx, 0xC0000102
        rdmsr
        CHECK64 'kernel_gs_base after swapgs', 8, L_GS
        swapgs
        mov     ecx, 0xC0000100
        mov     eax, L_GS
        xor     edx, edx
        wrmsr
        mov     eax, [fs:4]
        CHECK64 'fs:[4] (fs_base)', 8, 0x44444444
%ifdef QEMU_DIVERGENT
        ; SDM WRMSR: #GP(0) for a non-canonical base (QEMU stores it)
        mov     edx, 0x00008000
        xor     eax, eax
        EXPECT64 .g1
.fg1:   wrmsr
.g1:    XSHOW   'wrmsr fs_base non-canonical', 13, 0, .fg1
%endif
        mov     ax, SEL_DATA0
        mov     fs, ax
        mov     ecx, 0xC0000100
        rdmsr
        CHECK64 'fs_base after mov fs, 10h', 8, 0
        EXPECT64 .g2
.fg2:   rdtscp
.g2:    XSHOW   'rdtscp (not reported)', 6, -1, .fg2

        ; --- SSE/SSE2/MMX in 64-bit mode
        call    sse64_tests

        ; --- back to compatibility mode, then out of IA-32e mode
        mov     ax, SEL_DATA0
        mov     ds, ax
        mov     es, ax
        mov     ss, ax
        mov     esp, [SAVE_RSP]
        push    SEL_CODE0
        push    compat_back
        o64 retf

; sse64_tests: CR4.OSFXSR / CR0.TS / CR0.EM rules, XMM8-XMM15, REX.W
; forms, RIP-relative operands (with a trailing immediate), the 64-bit
; integer indefinite, #GP for a misaligned m128, FXSAVE64 with XMM8-15.
sse64_tests:
        mov     rax, cr4
        and     eax, ~0x600             ; OSFXSR, OSXMMEXCPT clear
        mov     cr4, rax
        EXPECT64 .u1
.fu1:   movaps  xmm8, xmm9
.u1:    XSHOW   'movaps xmm8, xmm9 with cr4.osfxsr=0', 6, -1, .fu1
        EXPECT64 .u2
.fu2:   paddb   mm0, mm1
.u2:    XSHOW   'paddb mm0, mm1 with cr4.osfxsr=0', -1, -1, -1
        emms
        mov     rax, cr4
        or      eax, 0x600
        mov     cr4, rax
        ; XMM8-XMM15, RIP-relative loads
        movdqa  xmm8, [rel sse_a]
        movdqa  xmm15, [rel sse_b]
        paddd   xmm8, xmm15
        movq    rax, xmm8
        CHECK64 'paddd xmm8, xmm15: low', 16, 0x4444444444444444
        psrldq  xmm8, 8
        movq    rax, xmm8
        CHECK64 '    high', 16, 0x8888888866666666
        mov     rax, 0x8000000000000001
        movq    xmm12, rax
        pshufd  xmm13, xmm12, 0x44
        psrldq  xmm13, 8
        movq    rax, xmm13
        CHECK64 'movq xmm12, rax; pshufd 44h: high', 16, 0x8000000000000001
        pshufd  xmm0, [rel sse_a], 0x1B
        movq    rax, xmm0
        CHECK64 'pshufd xmm0, [rip+a], 1Bh: low', 16, 0x3333333344444444
        mov     rax, -1
        movups  xmm1, [rel sse_f]
        cmpps   xmm1, [rel sse_g], 1
        movmskps eax, xmm1
        CHECK64 'cmpltps xmm1, [rip+g]; movmskps eax', 16, 0x5
        pinsrw  xmm10, [rel sse_a + 2], 3
        pextrw  eax, xmm10, 3
        CHECK64 'pinsrw xmm10, [rip+a+2], 3; pextrw', 8, 0x1111
        movaps  xmm11, [rel sse_f]
        shufps  xmm11, [rel sse_g], 0xE4
        movq    rax, xmm11
        CHECK64 'shufps xmm11, [rip+g], e4h: low', 16, 0x400000003F800000
        mov     rax, -3
        cvtsi2sd xmm9, rax
        cvttsd2si rax, xmm9
        CHECK64 'cvtsi2sd xmm9, rax; cvttsd2si rax', 16, -3
        cvttsd2si rax, [rel sse_big]
        CHECK64 'cvttsd2si rax, [rip+1e19] (indefinite)', 16, 0x8000000000000000
        stmxcsr [SSE_TMP]
        mov     eax, [SSE_TMP]
        CHECK64 '    mxcsr (ie)', 8, 0x1F81
        mov     rax, 0x7FFFFFFFFFFFFFFF
        cvtsi2ss xmm14, rax
        movd    eax, xmm14
        CHECK64 'cvtsi2ss xmm14, 7fff..ffh', 8, 0x5F000000
        mov     rax, -1
        pcmpeqb xmm15, xmm15
        pmovmskb eax, xmm15
        CHECK64 'pmovmskb eax, xmm15 (zero-extended)', 16, 0xFFFF
        mov     rax, 0x0123456789ABCDEF
        movq    mm3, rax
        movq    rbx, mm3
        mov     rax, rbx
        emms
        CHECK64 'movq mm3, rax; movq rbx, mm3', 16, 0x0123456789ABCDEF
        ; the exception rules
        EXPECT64 .e1
.fe1:   movdqa  xmm9, [rel sse_a + 8]
.e1:    XSHOW   'movdqa xmm9, [rip+a+8] (misaligned)', 13, 0, .fe1
        mov     rax, cr0
        or      eax, 8                  ; TS
        mov     cr0, rax
        EXPECT64 .e2
.fe2:   addps   xmm13, xmm14
.e2:    XSHOW   'addps xmm13, xmm14 with cr0.ts', 7, -1, .fe2
        EXPECT64 .e3
.fe3:   fxsave64 [SSE_FX]
.e3:    XSHOW   'fxsave64 with cr0.ts', 7, -1, .fe3
        clts
        mov     rax, cr0
        or      eax, 4                  ; EM
        mov     cr0, rax
        EXPECT64 .e4
.fe4:   movq    xmm8, rax
.e4:    XSHOW   'movq xmm8, rax with cr0.em', 6, -1, .fe4
        mov     rax, cr0
        and     eax, ~4
        mov     cr0, rax
        ; FXSAVE64 stores XMM8-XMM15 (bytes 288-415)
        movdqa  xmm15, [rel sse_b]
        fxsave64 [SSE_FX]
        mov     rax, [SSE_FX + 160 + 15 * 16 + 8]
        CHECK64 'fxsave64: xmm15 high', 16, 0x4444444433333333
        mov     eax, [SSE_FX + 24]
        CHECK64 '    mxcsr (ie, pe)', 8, 0x1FA1
        mov     dword [SSE_FX + 24], 0x1F80
        mov     qword [SSE_FX + 160 + 8 * 16], 0x1234
        fxrstor64 [SSE_FX]
        movq    rax, xmm8
        CHECK64 'fxrstor64: xmm8', 16, 0x1234
        stmxcsr [SSE_TMP]
        mov     eax, [SSE_TMP]
        CHECK64 '    mxcsr', 8, 0x1F80
        ret

        align   16
sse_a:  dd      0x11111111, 0x22222222, 0x33333333, 0x44444444
sse_b:  dd      0x33333333, 0x22222222, 0x33333333, 0x44444444
sse_f:  dd      1.0, 2.0, -1.0, 8.0
sse_g:  dd      2.0, 2.0, 0.5, 8.0
sse_big: dq     1.0e19

; r3_run: IRETQ to the 64-bit ring-3 function at RAX (IOPL 3 so it can
; print); it comes back with SYSCALL, sys64_entry returns to the caller.
r3_run:
        mov     [R0_RSP], rsp
        push    SEL_DATA_3
        push    STACK3_64
        push    0x3002
        push    SEL_CODE64_3
        push    rax
        iretq

; sysret_run: SYSRETQ to the ring-3 function at RAX with RFLAGS 3046h.
sysret_run:
        mov     [R0_RSP], rsp
        mov     rcx, rax
        mov     r11, 0x3046
        mov     rsp, STACK3_64
        o64 sysret

sys64_entry:
        mov     [SC_RCX], rcx
        mov     [SC_R11], r11
        pushfq
        pop     qword [SC_RFL]
        mov     word [SC_CS], cs
        mov     word [SC_SS], ss
        mov     ax, SEL_DATA0
        mov     ss, ax
        mov     rsp, [R0_RSP]
        ret

ring3_a:
        mov     rax, cs
        CHECK64 'ring 3 after iretq: cs', 4, SEL_CODE64_3
        mov     rax, ss
        CHECK64 'ring 3 after iretq: ss', 4, SEL_DATA_3
        EXPECT64 .u1
.fu1:   mov     eax, [L_SUP]
.u1:    XSHOW   '#PF user read of supervisor page', 14, 5, .fu1
        mov     rax, [X_CR2]
        CHECK64 '    cr2', 8, L_SUP
        mov     rax, [X_RSP]
        CHECK64 '    pushed rsp (ring 3)', 8, STACK3_64
        mov     rax, [X_SS]
        CHECK64 '    pushed ss', 4, SEL_DATA_3
        mov     rax, [X_CS]
        CHECK64 '    pushed cs', 4, SEL_CODE64_3
        EXPECT64 .u2
.fu2:   swapgs
.u2:    XSHOW   'swapgs at cpl 3', 13, 0, .fu2
        mov     rax, 0x3402
        push    rax
        popfq
        syscall
.ret:

ring3_b:
        pushfq
        pop     rax
        CHECK64 'ring 3 after sysretq: rflags', 8, 0x3046
        mov     rax, cs
        CHECK64 'ring 3 after sysretq: cs', 4, SEL_SYSRET + 16 + 3
        mov     rax, ss
        CHECK64 'ring 3 after sysretq: ss', 4, SEL_SYSRET + 8 + 3
        syscall
.ret:

; h_rsp: records RSP at entry (vectors 41h and 42h)
h_rsp:
        mov     [H_RSP], rsp
        iretq

; x_show: [rsp+8]=expected vector, [rsp+16]=error, [rsp+24]=rip
x_show:
        push    rax
        push    rbx
        push    rcx
        mov     rax, [X_VEC]
        cmp     rax, -1
        jne     .some
        PRINT64 ' none'
        mov     cl, 16
        mov     rbx, [rsp+32]
        call    q_chk
        jmp     .done
.some:  PRINT64 ' #'
        mov     cl, 2
        call    q_hex
        mov     rbx, [rsp+32]
        call    q_chk
        cmp     qword [rsp+40], -1
        je      .noerr
        PRINT64 ' err='
        mov     rax, [X_ERR]
        mov     cl, 4
        call    q_hex
        mov     rbx, [rsp+40]
        call    q_chk
.noerr: cmp     qword [rsp+48], -1
        je      .done
        PRINT64 ' rip='
        mov     rax, [X_RIP]
        mov     cl, 8
        call    q_hex
        mov     rbx, [rsp+48]
        call    q_chk
.done:  call    q_nl
        pop     rcx
        pop     rbx
        pop     rax
        ret     24

; 64-bit exception stubs: uniform size, stub i = x64_stub_0 + i*X64_STUB_SIZE
%assign v 0
%rep 32
x64_stub_ %+ v:
  %if v == 8 || (v >= 10 && v <= 14) || v == 17
        nop                             ; CPU pushed an error code
        nop
  %else
        push    byte 0
  %endif
        push    byte v
        jmp     strict near x64_common
%assign v v+1
%endrep
X64_STUB_SIZE equ x64_stub_1 - x64_stub_0

; x64_common: records the frame in X_* (and the low halves in pm32's EXC_*
; record, for compatibility-mode code), then resumes at X_RESUME or
; EXC_RESUME if set.
x64_common:
        push    rax
        mov     rax, [rsp+8]
        mov     [X_VEC], rax
        mov     [EXC_VEC], eax
        mov     rax, [rsp+16]
        mov     [X_ERR], rax
        mov     [EXC_ERR], eax
        mov     rax, [rsp+24]
        mov     [X_RIP], rax
        mov     [EXC_EIP], eax
        mov     rax, [rsp+32]
        mov     [X_CS], rax
        mov     [EXC_CS], eax
        mov     rax, [rsp+40]
        mov     [X_RFL], rax
        mov     rax, [rsp+48]
        mov     [X_RSP], rax
        mov     rax, [rsp+56]
        mov     [X_SS], rax
        mov     rax, cr2
        mov     [X_CR2], rax
        inc     qword [X_CNT]
        cmp     qword [X_CNT], 64
        jae     .runaway
        mov     rax, [X_RESUME]
        test    rax, rax
        jnz     .res
        mov     eax, [EXC_RESUME]
        test    eax, eax
        jz      .ret
        mov     dword [EXC_RESUME], 0
.res:   mov     [rsp+24], rax
        mov     qword [X_RESUME], 0
.ret:   pop     rax
        add     rsp, 16
        iretq
.runaway:
        PRINTLN64 'runaway exceptions'
        mov     al, 1
        out     0xF4, al
        cli
        hlt
