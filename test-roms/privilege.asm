; privilege.asm - privilege levels 0-3, gates, stack switching, IOPL, I/O bitmap.
;
; References: Intel SDM Vol.3 5.5-5.9 (privilege checks, conforming segments,
; call gates, stack switching, far RET to an outer level and segment register
; nulling), 6.12.1 (interrupt procedures with a privilege change: SS:ESP from
; the TSS, frame SS, ESP, EFLAGS, CS, EIP), 7.2.1 (TSS SS0-2/ESP0-2), 16.5
; (IOPL, I/O permission bitmap, and the "I/O map base beyond the TSS limit"
; rule), Vol.2 CALL/RET/IRET/INT/POPF pseudo-code, and the "Protected Mode
; Exceptions" lists of HLT, CLI, MOV CR/DR, LGDT, LIDT, LLDT, LTR, INVLPG,
; RDMSR, WRMSR, CLTS (#GP(0) if CPL > 0).
;
; Ring 3 code runs through call_ring3 (inc/pm32.inc); it prints directly on
; port E9h, which the TSS I/O bitmap (all zero) allows at any CPL.

%define ROM_TITLE "privilege: rings 0-3, gates, stack switch, IOPL, I/O bitmap"
%include "rom.inc"
%include "desc.inc"
%include "lib16.inc"

STACK1  equ     0x9C000
STACK2  equ     0x9B000

%macro GDT_EXTRA 0
        GATE    0x08, FLAT(cg0_handler), 0xEC, 2              ; 40 call gate DPL3 -> ring 0, 2 params
        DESC    0, 0xFFFFF, 0x9F, FL_32                 ; 48 conforming code DPL0
        DESC    0, 0xFFFFF, 0xBB, FL_32                 ; 50 code32 DPL1
        DESC    0, 0xFFFFF, 0xB3, FL_32                 ; 58 data32 DPL1
        DESC    0, 0xFFFFF, 0xDB, FL_32                 ; 60 code32 DPL2
        DESC    0, 0xFFFFF, 0xD3, FL_32                 ; 68 data32 DPL2
        GATE    0x50, FLAT(cg1_handler), 0xEC, 0              ; 70 call gate DPL3 -> ring 1
        GATE    0x60, FLAT(cg2_handler), 0xEC, 1              ; 78 call gate DPL3 -> ring 2, 1 param
        GATE    0x08, FLAT(cg0_handler), 0x8C, 2              ; 80 call gate DPL0
%endmacro
SEL_CG0   equ   0x40|3
SEL_CONF  equ   0x48
SEL_CG1   equ   0x70|3
SEL_CG2   equ   0x78|3
SEL_CGD0  equ   0x80|3

%include "pm32.inc"

; records written by the ring-0/1/2 handlers (read back by ring 3)
H_ESP   equ     0xA00           ; ESP at handler entry
H_SS    equ     0xA04
H_CS    equ     0xA08           ; CS while running the handler
H_F0    equ     0xA10           ; frame dwords [esp+0], [esp+4], ...
H_F1    equ     0xA14
H_F2    equ     0xA18
H_F3    equ     0xA1C
H_F4    equ     0xA20
H_F5    equ     0xA24
U_ESP   equ     0xA30           ; ring-3 ESP just before the transfer

; SHOWM 'label', address, expected (32-bit)
%macro SHOWM 3
        mov     eax, [%2]
        CHECK32 %1, 32, %3
%endmacro

pm_main:
        mov     edi, H_ESP
        mov     ecx, 16
        xor     eax, eax
        rep stosd
        ; TSS ring 1/2 stacks
        mov     dword [TSS_ADDR + 12], STACK1
        mov     dword [TSS_ADDR + 16], 0x58|1
        mov     dword [TSS_ADDR + 20], STACK2
        mov     dword [TSS_ADDR + 24], 0x68|2
        ; INT 50h: DPL3 interrupt gate to ring 0
        mov     ecx, 0x50
        mov     eax, int50_handler
        mov     bl, 0xEE
        call    set_gate
        ; port 80h denied in the I/O bitmap (byte 10h, bit 0)
        or      byte [TSS_ADDR + 0x68 + 0x10], 1

        mov     eax, user_main
        call    call_ring3

        ; --- I/O map base beyond the TSS limit: every port is denied at
        ; CPL3 with IOPL=0 (SDM 16.5.2); results are printed back in ring 0
        mov     word [TSS_ADDR + 0x66], 0x3000
        mov     eax, user_io_nomap
        call    call_ring3
        mov     word [TSS_ADDR + 0x66], 0x68
        EXC_SHOW 'cpl3 in al,81h with io base > tss limit', 13, 0, user_io_nomap.in
        ; --- IOPL=3 (EFLAGS image for the IRET to ring 3)
        mov     dword [R3_EFLAGS], 0x3002
        mov     eax, user_iopl3
        call    call_ring3
        mov     dword [R3_EFLAGS], 0x2
        ret


; ------------------------------------------------------------ handlers
int50_handler:                          ; DPL3 interrupt gate, ring 0
        mov     [H_ESP], esp
        mov     [H_SS], ss
        mov     [H_CS], cs
        push    eax
        mov     eax, [esp+4]
        mov     [H_F0], eax             ; EIP
        mov     eax, [esp+8]
        mov     [H_F1], eax             ; CS
        mov     eax, [esp+12]
        mov     [H_F2], eax             ; EFLAGS
        mov     eax, [esp+16]
        mov     [H_F3], eax             ; ESP
        mov     eax, [esp+20]
        mov     [H_F4], eax             ; SS
        pop     eax
        iretd

; call gate to ring 0 with 2 parameters: new stack holds EIP, CS, param0,
; param1, ESP, SS.  Loads FS with a DPL0 selector: the far RET to ring 3
; must null it (SDM RET: segment registers not valid for the outer level).
cg0_handler:
        mov     [H_ESP], esp
        mov     [H_SS], ss
        mov     [H_CS], cs
        mov     eax, [esp]
        mov     [H_F0], eax
        mov     eax, [esp+4]
        mov     [H_F1], eax
        mov     eax, [esp+8]
        mov     [H_F2], eax
        mov     eax, [esp+12]
        mov     [H_F3], eax
        mov     eax, [esp+16]
        mov     [H_F4], eax
        mov     eax, [esp+20]
        mov     [H_F5], eax
        mov     ax, SEL_DATA0
        mov     fs, ax
        retf    8

cg1_handler:                            ; ring 1, no parameters
        mov     [H_ESP], esp
        mov     [H_SS], ss
        mov     [H_CS], cs
        mov     eax, [esp]
        mov     [H_F0], eax
        mov     eax, [esp+4]
        mov     [H_F1], eax
        mov     eax, [esp+8]
        mov     [H_F2], eax
        mov     eax, [esp+12]
        mov     [H_F3], eax
        ; ring 1 can print too (I/O bitmap allows E9h)
        PRINTLN32 'in ring 1'
        retf

cg2_handler:                            ; ring 2, one parameter
        mov     [H_ESP], esp
        mov     [H_SS], ss
        mov     [H_CS], cs
        mov     eax, [esp]
        mov     [H_F0], eax
        mov     eax, [esp+4]
        mov     [H_F1], eax
        mov     eax, [esp+8]
        mov     [H_F2], eax
        mov     eax, [esp+12]
        mov     [H_F3], eax
        mov     eax, [esp+16]
        mov     [H_F4], eax
        retf    4

conf_func:                              ; runs in the conforming segment
        mov     [H_CS], cs
        mov     [H_SS], ss
        retf

; ------------------------------------------------------------ ring 3
user_main:
        mov     ax, cs
        CHECK32 'ring 3: cs', 16, SEL_CODE3
        mov     ax, ss
        CHECK32 'ring 3: ss', 16, SEL_DATA3
        mov     eax, esp
        CHECK32 'ring 3: esp (from the iret frame)', 32, STACK3 - 4

        ; --- INT 50h through a DPL3 gate: stack switch to SS0:ESP0
        mov     [U_ESP], esp
        int     0x50
.i50:   SHOWM   'int 50h: handler cs', H_CS, SEL_CODE0
        SHOWM   '    handler ss (tss.ss0)', H_SS, SEL_DATA0
        SHOWM   '    handler esp = esp0-20', H_ESP, STACK0 - 20
        SHOWM   '    frame eip', H_F0, .i50
        SHOWM   '    frame cs', H_F1, SEL_CODE3
        mov     eax, [H_F2]
        and     eax, 0x3200             ; IOPL, IF
        CHECK32 '    frame eflags & 3200h', 32, 0
        mov     eax, [H_F3]
        CHECK32 '    frame esp = ring-3 esp', 32, [U_ESP]
        SHOWM   '    frame ss', H_F4, SEL_DATA3

        ; --- call gate to ring 0, 2 dword parameters copied
        push    dword 0x1111
        push    dword 0x2222
        mov     [U_ESP], esp
        call    SEL_CG0:0
.cg0:   mov     ebx, esp
        mov     ax, fs
        movzx   eax, ax
        CHECK32 'call gate ring 0: fs nulled by far ret', 16, 0
        mov     ax, SEL_DATA3
        mov     fs, ax
        SHOWM   '    handler cs', H_CS, SEL_CODE0
        SHOWM   '    handler esp = esp0-24', H_ESP, STACK0 - 24
        SHOWM   '    frame eip', H_F0, .cg0
        SHOWM   '    frame cs', H_F1, SEL_CODE3
        SHOWM   '    param 0 (last pushed)', H_F2, 0x2222
        SHOWM   '    param 1', H_F3, 0x1111
        mov     eax, [H_F4]
        CHECK32 '    frame esp = caller esp', 32, [U_ESP]
        SHOWM   '    frame ss', H_F5, SEL_DATA3
        mov     eax, ebx
        sub     eax, [U_ESP]
        CHECK32 '    retf 8 released the params (esp delta)', 32, 8

        ; --- call gate to ring 1 (SS1:ESP1) and ring 2 (1 param)
        call    SEL_CG1:0
.cg1:   SHOWM   'call gate ring 1: cs', H_CS, 0x50|1
        SHOWM   '    ss (tss.ss1)', H_SS, 0x58|1
        SHOWM   '    esp = esp1-16', H_ESP, STACK1 - 16
        SHOWM   '    frame eip', H_F0, .cg1
        SHOWM   '    frame ss', H_F3, SEL_DATA3
        push    dword 0x3333
        call    SEL_CG2:0
.cg2:   SHOWM   'call gate ring 2: cs', H_CS, 0x60|2
        SHOWM   '    ss (tss.ss2)', H_SS, 0x68|2
        SHOWM   '    esp = esp2-20', H_ESP, STACK2 - 20
        SHOWM   '    param', H_F2, 0x3333
        SHOWM   '    frame ss', H_F4, SEL_DATA3

        ; --- conforming code segment: CPL stays 3, CS.RPL = 3, no stack switch
        call    (SEL_CONF|3):conf_func
        SHOWM   'conforming dpl0 code from ring 3: cs', H_CS, SEL_CONF|3
        SHOWM   '    ss unchanged', H_SS, SEL_DATA3

        ; --- transfers that must fault (SDM 5.8)
        EXPECT  .t1_r
.t1:    call    SEL_CGD0:0
.t1_r:  EXC_SHOW 'call gate with dpl0 from ring 3', 13, 0x80, .t1
        EXPECT  .t2_r
.t2:    jmp     SEL_CODE0:.t2_r
.t2_r:  EXC_SHOW 'jmp far to dpl0 non-conforming code', 13, SEL_CODE0, .t2
        EXPECT  .t3_r
.t3:    call    SEL_CODE0:.t3_r
.t3_r:  EXC_SHOW 'call far to dpl0 non-conforming code', 13, SEL_CODE0, .t3
        EXPECT  .t4_r
.t4:    int     0x51                    ; DPL0 gate
.t4_r:  EXC_SHOW 'int 51h via dpl0 gate', 13, 0x51*8+2, .t4

        ; --- privileged instructions at CPL3: #GP(0)
%macro PRIV 2+
        EXPECT  %%r
%%i:    %2
%%r:    EXC_SHOW %1, 13, 0, %%i
%endmacro
        PRIV    'cpl3 hlt', hlt
        PRIV    'cpl3 cli (iopl 0)', cli
        PRIV    'cpl3 sti (iopl 0)', sti
        PRIV    'cpl3 mov eax,cr0', mov eax, cr0
        PRIV    'cpl3 mov cr3,eax', mov cr3, eax
        PRIV    'cpl3 mov dr7,eax', mov dr7, eax
        PRIV    'cpl3 lgdt', lgdt [0x900]
        PRIV    'cpl3 lidt', lidt [0x900]
        PRIV    'cpl3 lldt', lldt ax
        PRIV    'cpl3 ltr', ltr ax
        PRIV    'cpl3 invlpg', invlpg [0x900]
        PRIV    'cpl3 rdmsr', rdmsr
        PRIV    'cpl3 wrmsr', wrmsr
        PRIV    'cpl3 clts', clts
        ; POPF at CPL3 with IOPL 0: IF and IOPL silently unchanged (no fault)
        EXPECT  .pf_r
        push    dword 0x3202
        popfd
.pf_r:  pushfd
        pop     eax
        and     eax, 0x3200
        CHECK32 'cpl3 popf iopl/if ignored (no fault)', 32, 0
        EXC_SHOW '    no exception', 0xFFFFFFFF, -1, -1
        ; SGDT/SIDT/SMSW/STR are not privileged (no UMIP here)
        EXPECT  .s_r
        smsw    ax
        sgdt    [0x900]
.s_r:   EXC_SHOW 'cpl3 smsw/sgdt allowed', 0xFFFFFFFF, -1, -1

        ; --- I/O permission bitmap with IOPL 0 < CPL 3
        EXPECT  .io1_r
.io1:   in      al, 0x80
.io1_r: EXC_SHOW 'cpl3 in al,80h (bitmap bit set)', 13, 0, .io1
        EXPECT  .io2_r
        in      al, 0x81
.io2_r: EXC_SHOW 'cpl3 in al,81h (bit clear)', 0xFFFFFFFF, -1, -1
        EXPECT  .io3_r
.io3:   in      ax, 0x7F                ; ports 7Fh and 80h
.io3_r: EXC_SHOW 'cpl3 in ax,7fh (covers 80h)', 13, 0, .io3
        EXPECT  .io4_r
        in      eax, 0x7C               ; ports 7Ch-7Fh
.io4_r: EXC_SHOW 'cpl3 in eax,7ch (7ch-7fh clear)', 0xFFFFFFFF, -1, -1
        EXPECT  .io5_r
        mov     dx, 0x80
.io5:   out     dx, al
.io5_r: EXC_SHOW 'cpl3 out dx=80h,al', 13, 0, .io5
        ret

user_io_nomap:
        EXPECT  .r
.in:    in      al, 0x81
.r:     ret

user_iopl3:
        pushfd
        pop     eax
        and     eax, 0x3000
        CHECK32 'iopl=3: pushfd iopl', 32, 0x3000
        EXPECT  .c_r
        cli
.c_r:   EXC_SHOW 'iopl=3: cpl3 cli allowed', 0xFFFFFFFF, -1, -1
        EXPECT  .i_r
        in      al, 0x80                ; bitmap not consulted
.i_r:   EXC_SHOW 'iopl=3: in al,80h allowed (bitmap ignored)', 0xFFFFFFFF, -1, -1
        EXPECT  .h_r
.h:     hlt
.h_r:   EXC_SHOW 'iopl=3: hlt still #GP', 13, 0, .h
        ; POPF at CPL3 with IOPL 3 may change IF, but never IOPL
        push    dword 0x0002
        popfd
        pushfd
        pop     eax
        and     eax, 0x3200
        CHECK32 'iopl=3: popf cannot lower iopl', 32, 0x3000
        ret
