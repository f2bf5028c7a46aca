; taskswitch.asm - hardware task switching.
;
; References: Intel SDM Vol.3 chapter 7 (7.2 TSS layouts, 32-bit and 16-bit;
; 7.2.2 TSS descriptor busy bit; 7.2.5 task gates; 7.3 task switching steps:
; state saved in the old TSS, LDTR and CR3 (when paging is enabled) loaded
; from the new TSS, CR0.TS set; 7.4 task linking: CALL/INT/exception set NT
; and the back link and leave the old task busy, JMP clears the old busy bit,
; IRET with NT=1 returns through the back link and clears the busy bit;
; 7.5 busy tasks are not re-entrant: CALL/JMP to a busy TSS is #GP), Vol.3
; 6.11.1 / 6.15 (an exception through an IDT task gate pushes its error code
; on the new task's stack) and Vol.2 JMP/CALL/IRET task-switch pseudo-code.
;
; Tasks: main (TSS 38h, the one LTR loaded), B (32-bit TSS 40h, own LDT and
; CR3), C (16-bit TSS 48h), D (32-bit TSS 58h, reached by INT 70h through an
; IDT task gate), E (32-bit TSS 68h, #GP handler through a task gate), and a
; GDT task gate 50h -> B.  The other tasks record what they see in memory;
; the main task prints and checks it.

%define ROM_TITLE "taskswitch: JMP/CALL/INT/IRET task switches, busy bits, LDT/CR3, 16-bit TSS"
%include "rom.inc"
%include "desc.inc"
%include "lib16.inc"

TSS_B   equ     0x9000
TSS_C   equ     0x9200
TSS_D   equ     0x9400
TSS_E   equ     0x9600
LDT_B   equ     0x9800

%macro GDT_EXTRA 0
        DESC    TSS_B, 0x67, 0x89, 0            ; 40 TSS B (32-bit, available)
        DESC    TSS_C, 0x2B, 0x81, 0            ; 48 TSS C (16-bit, available)
        GATE    0x40, 0, 0x85                   ; 50 task gate -> B
        DESC    TSS_D, 0x67, 0x89, 0            ; 58 TSS D
        DESC    LDT_B, 0x0F, 0x82, 0            ; 60 LDT of task B
        DESC    TSS_E, 0x67, 0x89, 0            ; 68 TSS E
%endmacro
SEL_B   equ     0x40
SEL_C   equ     0x48
SEL_GB  equ     0x50
SEL_D   equ     0x58
SEL_LDT equ     0x60
SEL_E   equ     0x68

%include "pm32.inc"

PD_A    equ     0x20000
PT_A    equ     0x21000
PD_B    equ     0x22000
PT_B    equ     0x23000
TESTPG  equ     0x300000        ; A: -> 310000h, B: -> 320000h

; records (main task reads them)
TB_TR   equ     0xC00
TB_LDTR equ     0xC04
TB_EFL  equ     0xC08
TB_LINK equ     0xC0C
TB_L38  equ     0xC10
TB_L40  equ     0xC14
TB_PAGE equ     0xC18
TB_LDTD equ     0xC1C
TB_RUNS equ     0xC20
TB_MODE equ     0xC24           ; 0: return by JMP 38h, 1: by IRET
TC_TR   equ     0xC40
TC_FL   equ     0xC44
TC_LINK equ     0xC48
TC_RUNS equ     0xC4C
TD_TR   equ     0xC60
TD_EFL  equ     0xC64
TD_LINK equ     0xC68
TD_RUNS equ     0xC6C
TE_ERR  equ     0xC80
TE_LINK equ     0xC84
TE_EIP  equ     0xC88
TE_RUNS equ     0xC8C

; SHOWM 'label', address, width, expected
%macro SHOWM 4
        mov     eax, [%2]
        CHECK32 %1, %3, %4
%endmacro
; LARX reg32 <- access rights of selector (masked 00F0FF00)
%macro LARX 2
        mov     dx, %2
        lar     %1, dx
        and     %1, 0x00F0FF00
%endmacro

pm_main:
        call    setup
        ; ------------------------------------------------ JMP to a TSS
        mov     dword [TB_MODE], 0
        mov     ebx, 0x1234ABCD
        mov     esi, 0x5151A1A1
        jmp     SEL_B:0
.back1: PRINTLN32 "jmp 40h (tss b) and back by jmp 38h"
        mov     eax, ebx
        CHECK32 '    main ebx restored from its tss', 32, 0x1234ABCD
        mov     eax, esi
        CHECK32 '    main esi restored', 32, 0x5151A1A1
        SHOWM   '    b: str', TB_TR, 16, SEL_B
        SHOWM   '    b: sldt (from its tss)', TB_LDTR, 16, SEL_LDT
        SHOWM   '    b: [fs:0] via ldt selector 04h', TB_LDTD, 32, 0x1D7B1D7B
        SHOWM   '    b: [300000h] with b cr3', TB_PAGE, 32, 0xBBBB0320
        mov     eax, [TB_EFL]
        and     eax, 0x4000
        CHECK32 '    b: eflags.nt (jmp: 0)', 32, 0
        SHOWM   '    b: lar 38h (jmp: old task not busy)', TB_L38, 32, 0x00008900
        SHOWM   '    b: lar 40h (busy)', TB_L40, 32, 0x00008B00
        str     ax
        CHECK32 '    main: str', 16, SEL_TSS
        sldt    ax
        CHECK32 '    main: sldt back to 0', 16, 0
        mov     eax, [TESTPG]
        CHECK32 '    main: [300000h] with main cr3', 32, 0xAAAA0310
        mov     eax, cr3
        CHECK32 '    main: cr3 from its tss', 32, PD_A
        LARX    eax, SEL_B
        CHECK32 '    main: lar 40h (available again)', 32, 0x00008900
        LARX    eax, SEL_TSS
        CHECK32 '    main: lar 38h (busy)', 32, 0x00008B00
        mov     eax, cr0
        and     eax, 8
        CHECK32 '    cr0.ts set by the task switch', 32, 8
        clts
        mov     eax, [TSS_ADDR + 0x20]
        CHECK32 '    main tss: saved eip = after the jmp', 32, .back1
        mov     eax, [TSS_ADDR + 0x34]
        CHECK32 '    main tss: saved ebx', 32, 0x1234ABCD

        ; ------------------------------------------------ CALL to a TSS
        mov     dword [TB_MODE], 1
        call    SEL_B:0
        PRINTLN32 "call 40h (tss b), back by iret (nt=1)"
        SHOWM   '    b: runs', TB_RUNS, 32, 2
        mov     eax, [TB_EFL]
        and     eax, 0x4000
        CHECK32 '    b: eflags.nt (call: 1)', 32, 0x4000
        SHOWM   '    b: back link', TB_LINK, 16, SEL_TSS
        SHOWM   '    b: lar 38h (call: old task stays busy)', TB_L38, 32, 0x00008B00
        LARX    eax, SEL_B
        CHECK32 '    main: lar 40h after iret (available)', 32, 0x00008900
        pushfd
        pop     eax
        and     eax, 0x4000
        CHECK32 '    main: eflags.nt', 32, 0
        clts

        ; ------------------------------------------- through a task gate
        call    SEL_GB:0
        PRINTLN32 "call 50h (gdt task gate -> b)"
        SHOWM   '    b: runs', TB_RUNS, 32, 3
        SHOWM   '    b: str', TB_TR, 16, SEL_B
        SHOWM   '    b: back link', TB_LINK, 16, SEL_TSS
        clts

        ; --------------------------------------------- 16-bit TSS (CALL)
        call    SEL_C:0
        PRINTLN32 "call 48h (16-bit tss c), back by 16-bit iret"
        SHOWM   '    c: runs', TC_RUNS, 16, 1
        SHOWM   '    c: str', TC_TR, 16, SEL_C
        mov     eax, [TC_FL]
        and     eax, 0x4000
        CHECK32 '    c: flags.nt', 16, 0x4000
        SHOWM   '    c: back link', TC_LINK, 16, SEL_TSS
        LARX    eax, SEL_C
        CHECK32 '    main: lar 48h after iret (available 286 tss)', 32, 0x00008100
        movzx   eax, word [TSS_C + 0x0E]
        CHECK32 '    c tss: saved ip (after its iret)', 16, taskC.after
        clts

        ; ------------------------------------------- IDT task gate INT 70h
        int     0x70
.back4: PRINTLN32 "int 70h (idt task gate -> d), back by iret"
        SHOWM   '    d: runs', TD_RUNS, 32, 1
        SHOWM   '    d: str', TD_TR, 16, SEL_D
        mov     eax, [TD_EFL]
        and     eax, 0x4000
        CHECK32 '    d: eflags.nt', 32, 0x4000
        SHOWM   '    d: back link', TD_LINK, 16, SEL_TSS
        mov     eax, [TSS_ADDR + 0x20]
        CHECK32 '    main tss: saved eip = after int 70h', 32, .back4
        clts

        ; --------------------------------- exception through a task gate
        ; #GP -> task E; the error code is pushed on E's stack; E skips
        ; the faulting 2-byte MOV by editing the main TSS's saved EIP
        mov     dword [IDT_ADDR + 13*8], SEL_E << 16
        mov     dword [IDT_ADDR + 13*8 + 4], 0x8500
        mov     ax, 0x1F8
.gp:    mov     ds, ax
        mov     ecx, 13
        mov     eax, exc_stub_13
        call    set_gate_intr
        PRINTLN32 "#GP through an idt task gate (task e)"
        SHOWM   '    e: runs', TE_RUNS, 32, 1
        SHOWM   '    e: error code on its stack', TE_ERR, 32, 0x1F8
        SHOWM   '    e: back link', TE_LINK, 16, SEL_TSS
        SHOWM   '    e: faulting eip in main tss', TE_EIP, 32, .gp
        clts

        ; ------------------------------------ busy tasks are not re-entrant
        EXPECT  .b1_r
.b1:    call    SEL_TSS:0
.b1_r:  EXC_SHOW 'call 38h (own busy tss)', 13, SEL_TSS, .b1
        EXPECT  .b2_r
.b2:    jmp     SEL_TSS:0
.b2_r:  EXC_SHOW 'jmp 38h (own busy tss)', 13, SEL_TSS, .b2
        ret

; ----------------------------------------------------------------- setup
setup:
        ; paging: identity 0-4M; TESTPG -> 310000h (A) / 320000h (B)
        xor     ecx, ecx
.pt:    mov     eax, ecx
        shl     eax, 12
        or      eax, 3
        mov     [PT_A + ecx*4], eax
        mov     [PT_B + ecx*4], eax
        inc     ecx
        cmp     ecx, 1024
        jb      .pt
        mov     dword [PT_A + (TESTPG >> 12)*4], 0x310000 | 3
        mov     dword [PT_B + (TESTPG >> 12)*4], 0x320000 | 3
        mov     edi, 0xC00              ; task records
        mov     ecx, 0x100 / 4
        xor     eax, eax
        rep stosd
        mov     edi, PD_A
        mov     ecx, 1024
        rep stosd
        mov     edi, PD_B
        mov     ecx, 1024
        rep stosd
        mov     dword [PD_A], PT_A | 3
        mov     dword [PD_B], PT_B | 3
        mov     dword [0x310000], 0xAAAA0310
        mov     dword [0x320000], 0xBBBB0320
        ; LDT of task B: one data descriptor, base 0x12000
        mov     dword [LDT_B], 0x0000FFFF | (0x2000 << 16)
        mov     dword [LDT_B + 4], 0x00409301
        mov     dword [LDT_B + 8], 0
        mov     dword [LDT_B + 12], 0
        mov     dword [0x12000], 0x1D7B1D7B
        ; TSS B
        mov     edi, TSS_B
        mov     ebx, taskB
        mov     edx, 0x70000
        call    init_tss32
        mov     dword [TSS_B + 0x1C], PD_B      ; CR3
        mov     word [TSS_B + 0x60], SEL_LDT    ; LDT
        ; TSS D, E
        mov     edi, TSS_D
        mov     ebx, taskD
        mov     edx, 0x6E000
        call    init_tss32
        mov     edi, TSS_E
        mov     ebx, taskE
        mov     edx, 0x6D000
        call    init_tss32
        ; TSS C (16-bit, SDM Figure 7-11)
        mov     edi, TSS_C
        mov     ecx, 0x2C / 4
        xor     eax, eax
        rep stosd
        mov     word [TSS_C + 0x0E], taskC      ; IP
        mov     word [TSS_C + 0x10], 0x0002     ; FLAGS
        mov     word [TSS_C + 0x1A], 0xE000     ; SP
        mov     word [TSS_C + 0x22], SEL_DATA16 ; ES
        mov     word [TSS_C + 0x24], SEL_CODE16 ; CS
        mov     word [TSS_C + 0x26], SEL_DATA16 ; SS
        mov     word [TSS_C + 0x28], SEL_DATA16 ; DS
        ; the main TSS's CR3 field is what a switch back to main loads
        mov     dword [TSS_ADDR + 0x1C], PD_A
        ; IDT 70h: task gate -> D
        mov     dword [IDT_ADDR + 0x70*8], SEL_D << 16
        mov     dword [IDT_ADDR + 0x70*8 + 4], 0x8500
        ; paging on
        mov     eax, PD_A
        mov     cr3, eax
        mov     eax, cr0
        or      eax, 0x80000000
        mov     cr0, eax
        jmp     .on
.on:    xor     eax, eax
        mov     [TB_RUNS], eax
        mov     [TC_RUNS], eax
        mov     [TD_RUNS], eax
        mov     [TE_RUNS], eax
        ret

; init_tss32: EDI = TSS, EBX = EIP, EDX = ESP; flat ring-0 segments
init_tss32:
        push    edi
        mov     ecx, 0x68 / 4
        xor     eax, eax
        rep stosd
        pop     edi
        mov     dword [edi + 0x04], edx         ; ESP0
        mov     dword [edi + 0x08], SEL_DATA0   ; SS0
        mov     dword [edi + 0x1C], PD_A        ; CR3
        mov     [edi + 0x20], ebx               ; EIP
        mov     dword [edi + 0x24], 0x2         ; EFLAGS
        mov     [edi + 0x38], edx               ; ESP
        mov     dword [edi + 0x48], SEL_DATA0   ; ES
        mov     dword [edi + 0x4C], SEL_CODE0   ; CS
        mov     dword [edi + 0x50], SEL_DATA0   ; SS
        mov     dword [edi + 0x54], SEL_DATA0   ; DS
        mov     dword [edi + 0x58], SEL_DATA0   ; FS
        mov     dword [edi + 0x5C], SEL_DATA0   ; GS
        mov     word [edi + 0x66], 0x68         ; no I/O bitmap
        ret

; ----------------------------------------------------------------- tasks
taskB:
        str     ax
        movzx   eax, ax
        mov     [TB_TR], eax
        sldt    ax
        movzx   eax, ax
        mov     [TB_LDTR], eax
        pushfd
        pop     eax
        mov     [TB_EFL], eax
        movzx   eax, word [TSS_B]
        mov     [TB_LINK], eax
        LARX    eax, SEL_TSS
        mov     [TB_L38], eax
        LARX    eax, SEL_B
        mov     [TB_L40], eax
        mov     eax, [TESTPG]
        mov     [TB_PAGE], eax
        mov     ax, 0x04                ; LDT index 0
        mov     fs, ax
        mov     eax, [fs:0]
        mov     [TB_LDTD], eax
        inc     dword [TB_RUNS]
        mov     ebx, 0xBBBBBBBB         ; clobber: main's EBX comes from its TSS
        mov     esi, 0
        cmp     dword [TB_MODE], 0
        jne     .iret
        jmp     SEL_TSS:0
        jmp     taskB
.iret:  iretd
        jmp     taskB

taskD:
        str     ax
        movzx   eax, ax
        mov     [TD_TR], eax
        pushfd
        pop     eax
        mov     [TD_EFL], eax
        movzx   eax, word [TSS_D]
        mov     [TD_LINK], eax
        inc     dword [TD_RUNS]
        iretd
        jmp     taskD

taskE:
        pop     eax                     ; error code
        mov     [TE_ERR], eax
        movzx   eax, word [TSS_E]
        mov     [TE_LINK], eax
        mov     eax, [TSS_ADDR + 0x20]
        mov     [TE_EIP], eax
        add     dword [TSS_ADDR + 0x20], 2
        inc     dword [TE_RUNS]
        iretd
        jmp     taskE

; 16-bit task C: runs in the 16-bit code segment 18h (base F0000)
section .rm
bits 16
taskC:
        str     ax
        mov     [TC_TR], ax
        pushf
        pop     ax
        mov     [TC_FL], ax
        mov     ax, [TSS_C]
        mov     [TC_LINK], ax
        inc     word [TC_RUNS]
        iret
.after: jmp     taskC
