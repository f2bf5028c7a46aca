; exceptions.asm - exception vectors, error codes, saved EIP and priorities.
;
; References: Intel SDM Vol.3 chapter 6 (6.3 sources, 6.5 fault/trap/abort
; classes and the saved CS:EIP, 6.9 priority among simultaneous exceptions,
; 6.13 error code format: EXT bit 0, IDT bit 1, TI bit 2, index 15:3; 6.15
; the individual vectors, Table 6-5 double-fault conditions) and the Vol.2
; pseudo-code of MOV Sreg, JMP far, INT n, BOUND, INTO.
;
; Every line prints the vector, the error code (vectors that push one) and the
; saved EIP, and checks them: faults must save the EIP of the faulting
; instruction (including its prefixes), traps (INT3, INTO, INT n) the EIP of
; the next instruction.

%define ROM_TITLE "exceptions: vectors, error codes, saved EIP, priorities"
%include "rom.inc"
%include "desc.inc"
%include "lib16.inc"

%macro GDT_EXTRA 0
        DESC    0, 0xFFFF, 0x99, 0x4                    ; 40 code execute-only
        DESC    0, 0x003FF, 0x9B, FL_32                 ; 48 code32 limit 3FFFFFh
        DESC    0, 0xFFFF, 0x13, 0x4                    ; 50 data NOT present
        DESC    0, 0xFFFF, 0x91, 0x4                    ; 58 data read-only
        DESC    0, 0xFFFFF, 0xF3, FL_32                 ; 60 data DPL3
        DESC    0x7000, 0x40, 0x89, 0                   ; 68 TSS, limit too small
        DESC    0, 0xFFFFF, 0x9B, FL_32                 ; 70 code32 (readable)
%endmacro
SEL_XO   equ    0x40
SEL_LIM  equ    0x48
SEL_NP   equ    0x50
SEL_RO   equ    0x58
SEL_D3   equ    0x60
SEL_BTSS equ    0x68
SEL_RX   equ    0x70

%include "pm32.inc"

PD      equ     0x30000
PT0     equ     0x31000

; ESHOW 'label', vector, err, eip  (= EXC_SHOW)
%define ESHOW EXC_SHOW

pm_main:
        ; ---------------------------------------------------- #DE (fault)
        EXPECT  .de_r
        xor     edx, edx
        mov     eax, 1
        xor     ecx, ecx
.de:    div     ecx
.de_r:  ESHOW   '#DE div ecx=0', 0, -1, .de
        ; ---------------------------------------- INT3 / INT 3 (traps)
        EXPECT  0
        int3
.bp_r:  ESHOW   '#BP int3 (CC): eip after', 3, -1, .bp_r
        EXPECT  0
        int     3
.bp2_r: ESHOW   '#BP int 3 (CD 03): eip after', 3, -1, .bp2_r
        ; ------------------------------------------------ INTO (trap)
        EXPECT  0
        mov     al, 0x7F
        add     al, 1                   ; OF=1
        into
.of_r:  ESHOW   '#OF into with OF=1: eip after', 4, -1, .of_r
        EXPECT  0
        xor     eax, eax                ; OF=0
        into
        ESHOW   'into with OF=0', 0xFFFFFFFF, -1, -1
        ; ------------------------------------------------ BOUND (fault)
        mov     dword [0x900], 10
        mov     dword [0x904], 20
        EXPECT  .br_r
        mov     eax, 21
.br:    bound   eax, [0x900]
.br_r:  ESHOW   '#BR bound 21 in [10,20]', 5, -1, .br
        EXPECT  .br2_r
        mov     eax, 20
        bound   eax, [0x900]
.br2_r: ESHOW   'bound 20 in [10,20]', 0xFFFFFFFF, -1, -1
        EXPECT  .br3_r
        mov     ax, 9
.br3:   bound   ax, [0x900]             ; 16-bit form: words 10 and 0
.br3_r: ESHOW   '#BR bound16 9 in [10,0]', 5, -1, .br3
        ; -------------------------------------------------- #UD (fault)
        EXPECT  .ud_r
.ud:    ud2
.ud_r:  ESHOW   '#UD ud2', 6, -1, .ud
        EXPECT  .ud2_r
.ud2:   db      0x66, 0x0F, 0x0B        ; o16 ud2: eip at the prefix
.ud2_r: ESHOW   '#UD o16 ud2: eip at prefix', 6, -1, .ud2
        EXPECT  .ud3_r
.ud3:   db      0x8D, 0xC3              ; lea eax, ebx (register operand)
.ud3_r: ESHOW   '#UD lea with register operand', 6, -1, .ud3
        EXPECT  .ud4_r
.ud4:   db      0xF0, 0x90              ; lock nop
.ud4_r: ESHOW   '#UD lock on non-lockable insn', 6, -1, .ud4
        EXPECT  .ud5_r
.ud5:   db      0xF0, 0x01, 0xC0        ; lock add eax,eax (register dest)
.ud5_r: ESHOW   '#UD lock add reg,reg', 6, -1, .ud5
        EXPECT  .ud6_r
.ud6:   db      0x8C, 0xF8              ; mov ax, <sreg 7>
.ud6_r: ESHOW   '#UD mov r, invalid sreg', 6, -1, .ud6
        EXPECT  .ud7_r
.ud7:   db      0x8E, 0xC8              ; mov cs, ax
.ud7_r: ESHOW   '#UD mov cs, ax', 6, -1, .ud7
        ; -------------------------------------------------- #NM (fault)
        mov     eax, cr0
        or      eax, 8                  ; TS
        mov     cr0, eax
        EXPECT  .nm_r
.nm:    fnop
.nm_r:  ESHOW   '#NM fnop with CR0.TS=1', 7, -1, .nm
        clts
        EXPECT  .nm2_r
        fnop
.nm2_r: ESHOW   'fnop after clts', 0xFFFFFFFF, -1, -1

        ; ------------------------------- #GP / #NP / #SS on segment loads
        ; (SDM Vol.2 MOV: error code = selector with RPL cleared)
        EXPECT  .g1_r
        mov     ax, 0x1F8
.g1:    mov     ds, ax
.g1_r:  ESHOW   '#GP mov ds, 1f8h (beyond gdt limit)', 13, 0x01F8, .g1
        EXPECT  .g2_r
        mov     ax, SEL_XO
.g2:    mov     es, ax
.g2_r:  ESHOW   '#GP mov es, execute-only code', 13, SEL_XO, .g2
        EXPECT  .g3_r
        mov     ax, SEL_RX
        mov     fs, ax
.g3_r:  ESHOW   'mov fs, readable code: ok', 0xFFFFFFFF, -1, -1
        EXPECT  .g4_r
        mov     ax, SEL_TSS
.g4:    mov     gs, ax
.g4_r:  ESHOW   '#GP mov gs, tss descriptor', 13, SEL_TSS, .g4
        EXPECT  .g5_r
        mov     ax, SEL_NP
.g5:    mov     ds, ax
.g5_r:  ESHOW   '#NP mov ds, not-present', 11, SEL_NP, .g5
        EXPECT  .g6_r
        mov     ax, SEL_NP | 3          ; RPL3 > DPL0 and not present:
.g6:    mov     ds, ax                  ; privilege check comes first
.g6_r:  ESHOW   '#GP (not #NP) mov ds, np with rpl3>dpl', 13, SEL_NP, .g6
        EXPECT  .g7_r
        mov     ax, SEL_NP
.g7:    mov     ss, ax
.g7_r:  ESHOW   '#SS mov ss, not-present', 12, SEL_NP, .g7
        EXPECT  .g8_r
        mov     ax, SEL_RO
.g8:    mov     ss, ax
.g8_r:  ESHOW   '#GP mov ss, read-only data', 13, SEL_RO, .g8
        EXPECT  .g9_r
        mov     ax, SEL_D3
.g9:    mov     ss, ax
.g9_r:  ESHOW   '#GP mov ss, dpl3 data at cpl0', 13, SEL_D3, .g9
        EXPECT  .g10_r
        xor     eax, eax
.g10:   mov     ss, ax
.g10_r: ESHOW   '#GP mov ss, null', 13, 0, .g10
        EXPECT  .g11_r
        mov     ax, 0x000C              ; TI=1 but LDTR is null
.g11:   mov     ds, ax
.g11_r: ESHOW   '#GP mov ds, ldt selector (no ldt)', 13, 0x000C, .g11
        EXPECT  .g12_r
        xor     eax, eax
        mov     es, ax                  ; null into ES is allowed
.g12_r: ESHOW   'mov es, null: ok', 0xFFFFFFFF, -1, -1
%ifdef QEMU_DIVERGENT
        ; QEMU 7.2 does not check data accesses through a null selector
        ; (no fault); Bochs 2.7 raises #GP(0) as the SDM requires (Vol.3
        ; 3.4.2 / 5.4.1).  Only assembled with -DQEMU_DIVERGENT.
        EXPECT  .g13_r
.g13:   mov     eax, [es:0x900]         ; ... but using it faults
.g13_r: ESHOW   '#GP access through null es', 13, 0, .g13
%endif
        mov     ax, SEL_DATA0
        mov     ds, ax
        mov     es, ax
        mov     fs, ax
        mov     gs, ax
        ; far JMP to a data segment / a not-present TSS-ish target
        EXPECT  .j1_r
.j1:    jmp     SEL_DATA0:0
.j1_r:  ESHOW   '#GP jmp far to data segment', 13, SEL_DATA0, .j1
        EXPECT  .j2_r
.j2:    jmp     SEL_BTSS:0
.j2_r:  ESHOW   '#TS jmp to tss with limit < 67h', 10, SEL_BTSS, .j2
%ifdef QEMU_DIVERGENT
        ; writing through a read-only data segment: #GP(0) (SDM Vol.3 5.5).
        ; QEMU 7.2 performs the write without a fault; Bochs 2.7 faults.
        mov     ax, SEL_RO
        mov     fs, ax
        EXPECT  .w1_r
.w1:    mov     dword [fs:0x900], 1
.w1_r:  ESHOW   '#GP write via read-only segment', 13, 0, .w1
        mov     ax, SEL_DATA0
        mov     fs, ax
%endif

        ; ------------------------------------- INT n and IDT error codes
        mov     ecx, 0x40
        mov     eax, int40_stub
        call    set_gate_intr
        EXPECT  0
        int     0x40
.i1_r:  ESHOW   'int 40h: vector, eip after', 0x40, -1, .i1_r
        ; vector beyond the IDT limit: #GP(vector*8+2)
        lidt    [small_idt]
        EXPECT  .i2_r
.i2:    int     0x90
.i2_r:  ESHOW   '#GP int 90h beyond idt limit (err 482h)', 13, 0x90*8+2, .i2
        lidt    [pm32_idt_ptr]
        ; not-present gate, software INT: #NP(vector*8+2), EXT=0
        and     byte [IDT_ADDR + 0x41*8 + 5], 0x7F
        EXPECT  .i3_r
.i3:    int     0x41
.i3_r:  ESHOW   '#NP int 41h, gate not present (err 20ah)', 11, 0x41*8+2, .i3
        ; not-present gate while delivering an exception (#UD, benign):
        ; #NP with EXT=1 (SDM 6.13: EXT is set when the exception occurred
        ; during delivery of an earlier exception), err = 6*8+2+1 = 33h.
        ; QEMU 7.2 never sets EXT (reports 32h); Bochs 2.7 reports 33h.  So
        ; by default the EXT bit is masked out before the comparison; build
        ; with -DQEMU_DIVERGENT to check it.
        and     byte [IDT_ADDR + 6*8 + 5], 0x7F
        EXPECT  .i4_r
.i4:    ud2
.i4_r:
%ifdef QEMU_DIVERGENT
        ESHOW   '#NP during #UD delivery: err 33h (EXT)', 11, 6*8+3, .i4
%else
        and     dword [EXC_ERR], ~1
        ESHOW   '#NP during #UD delivery: err&~1 (EXT masked)', 11, 6*8+2, .i4
%endif
        or      byte [IDT_ADDR + 6*8 + 5], 0x80
        ; INT3 through a not-present gate: INT3 is a software interrupt,
        ; so EXT=0 and no double fault (benign)
        and     byte [IDT_ADDR + 3*8 + 5], 0x7F
        EXPECT  .i5_r
.i5:    int3
.i5_r:  ESHOW   '#NP int3, gate not present (err 1ah)', 11, 3*8+2, .i5
        or      byte [IDT_ADDR + 3*8 + 5], 0x80

        ; ------------------------------------------------- double fault
        ; #GP whose gate is not present -> #NP (contributory) while
        ; delivering #GP (contributory) -> #DF with error code 0
        ; (SDM Table 6-5).  The saved EIP of #DF is undefined: not checked.
        and     byte [IDT_ADDR + 13*8 + 5], 0x7F
        mov     dword [EXC_LOGN], 0
        EXPECT  .df_r
        mov     ax, 0x1F8
        mov     ds, ax
.df_r:  or      byte [IDT_ADDR + 13*8 + 5], 0x80
        ESHOW   '#DF: #GP with its gate not present', 8, 0, -1
        mov     eax, [EXC_LOGN]
        CHECK32 '    exceptions delivered', 32, 1
        ; #DE whose gate is not present -> #DF as well
        and     byte [IDT_ADDR + 0*8 + 5], 0x7F
        EXPECT  .df2_r
        xor     ecx, ecx
        div     ecx
.df2_r: or      byte [IDT_ADDR + 0*8 + 5], 0x80
        ESHOW   '#DF: #DE with its gate not present', 8, 0, -1

        ; ------------------------------------------------ CPL 3 checks
        mov     eax, user_part
        call    call_ring3

        ; --------------------- priority: CS limit check before page fault
        call    limit_vs_pf
        ret

int40_stub:
        push    byte 0
        push    dword 0x40
        jmp     exc_common

small_idt:
        dw      0x7F*8+7                ; vectors 0-7Fh
        dd      IDT_ADDR

user_part:
        ; INT3 through a DPL0 gate from CPL3: #GP(3*8+2) (gate DPL < CPL)
        EXPECT  .u1_r
.u1:    int3
.u1_r:  ESHOW   'cpl3 int3 via dpl0 gate: #GP err 1ah', 13, 3*8+2, .u1
        ; DPL check before the present check: DPL0 gate, not present
        and     byte [IDT_ADDR + 0x41*8 + 5], 0x7F      ; (still not present)
        EXPECT  .u2_r
.u2:    int     0x41
.u2_r:  ESHOW   'cpl3 int 41h dpl0+np: #GP (not #NP)', 13, 0x41*8+2, .u2
        ; loading SS with a DPL0 segment at CPL3
        EXPECT  .u3_r
        mov     ax, SEL_DATA0
.u3:    mov     ss, ax
.u3_r:  ESHOW   'cpl3 mov ss, dpl0 data: #GP', 13, SEL_DATA0, .u3
        ; loading DS with a DPL0 data segment at CPL3
        EXPECT  .u4_r
        mov     ax, SEL_DATA0
.u4:    mov     ds, ax
.u4_r:  ESHOW   'cpl3 mov ds, dpl0 data: #GP', 13, SEL_DATA0, .u4
        ret

; A far JMP whose target offset exceeds the CS limit, where the target page
; is also not present: the limit check (#GP(0)) happens first; the page is
; never fetched (SDM 6.9 Table 6-2 and JMP pseudo-code: "IF EIP not within
; code segment limit THEN #GP(0)").
limit_vs_pf:
        xor     ecx, ecx
.pt:    mov     eax, ecx
        shl     eax, 12
        or      eax, 7
        mov     [PT0 + ecx*4], eax
        inc     ecx
        cmp     ecx, 1024
        jb      .pt
        mov     edi, PD
        mov     ecx, 1024
        xor     eax, eax
        rep stosd
        mov     dword [PD], PT0 | 7     ; only 0-4 MiB mapped
        mov     eax, PD
        mov     cr3, eax
        mov     eax, cr0
        or      eax, 0x80000000
        mov     cr0, eax
        jmp     .on
.on:    EXPECT  .l1_r
.l1:    jmp     SEL_LIM:0x400000        ; limit 3FFFFFh, page not present
.l1_r:  ESHOW   'jmp far past cs limit into np page: #GP(0)', 13, 0, .l1
        EXPECT  .l2_r
.l2:    jmp     SEL_CODE0:0x400000      ; flat CS: now the #PF
.l2_r:  ESHOW   'jmp far (flat cs) into np page: #PF', 14, 0x0000, 0x400000
        mov     eax, [EXC_CR2]
        CHECK32 '    cr2', 32, 0x400000
        mov     eax, cr0
        and     eax, 0x7FFFFFFF
        mov     cr0, eax
        ret
