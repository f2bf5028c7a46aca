; pmode-entry.asm - protected-mode entry/exit and descriptor-cache ROM.
;
; 1. Checks the architectural reset state visible from real mode (SDM Vol.3
;    Table 9-1: EFLAGS=2, CR0=60000010H, GDTR/IDTR base 0 limit FFFFH,
;    segment selectors).
; 2. Enters 32-bit protected mode the way the SDM describes (Vol.3 9.9.1:
;    LGDT, set CR0.PE, far JMP to flush, load data segments).
; 3. Checks SGDT/SIDT/SLDT/STR/SMSW, LLDT/LTR (TSS becomes busy), LAR/LSL/
;    VERR/VERW on a table of descriptors (Vol.2 LAR, LSL, VERR/VERW pseudo-
;    code: type, DPL/RPL and limit-granularity rules), the accessed bit set in
;    memory when a data selector is loaded (Vol.3 3.4.5.1), and that a loaded
;    segment register keeps its cached base when the GDT entry is rewritten
;    (Vol.3 3.4.3 "hidden part").
; 4. Returns to real mode through a 16-bit code segment (Vol.3 9.9.2) with FS
;    still holding a 4 GiB limit and checks that 32-bit offsets above 1 MiB work
;    through FS afterwards ("unreal mode"), also after reloading FS in real
;    mode (real-mode segment loads change only selector and base).

%include "rom.inc"
%include "desc.inc"
%include "lib16.inc"

GDT_ADDR equ    0x1000
TSS_ADDR equ    0x3000
LDT_ADDR equ    0x3800
IDT_ADDR equ    0x5000
BIG_ADDR equ    0x200000        ; above 1 MiB, for the unreal-mode check

start16:
        ; --- reset state, before anything changes it (MOV leaves flags alone)
        mov     ax, 0
        mov     ss, ax
        mov     esp, 0x7C00
        pushfd
        pop     ebp                     ; EFLAGS at reset
        mov     ebx, cr0                ; CR0 at reset
        mov     cx, ds
        mov     dx, es
        INIT16
        PRINTLN "pmode-entry: protected mode entry/exit, descriptor caches"
        mov     eax, ebp
        CHECK   'reset eflags', 32, 0x00000002
        mov     eax, ebx
        CHECK   'reset cr0', 32, 0x60000010
        movzx   eax, cx
        CHECK   'reset ds', 16, 0
        movzx   eax, dx
        CHECK   'reset es', 16, 0
        mov     ax, cs
        CHECK   'cs after far jmp from reset vector', 16, 0xF000
        sgdt    [0x900]
        movzx   eax, word [0x900]
        CHECK   'reset gdtr.limit', 16, 0xFFFF
        mov     eax, [0x902]
        CHECK   'reset gdtr.base', 32, 0
        sidt    [0x900]
        movzx   eax, word [0x900]
        CHECK   'reset idtr.limit', 16, 0xFFFF
        mov     eax, [0x902]
        CHECK   'reset idtr.base', 32, 0
        smsw    ax
        CHECK   'reset smsw', 16, 0x0010

        ; --- build GDT, TSS, LDT in RAM
        push    ds
        push    cs
        pop     ds
        mov     si, gdt_rom
        mov     di, GDT_ADDR
        mov     cx, gdt_rom_end - gdt_rom
        rep movsb
        mov     si, ldt_rom
        mov     di, LDT_ADDR
        mov     cx, ldt_rom_end - ldt_rom
        rep movsb
        pop     ds
        mov     di, TSS_ADDR
        mov     cx, 0x68
        xor     al, al
        rep stosb
        mov     dword [0x4000], 0x1D71D7AA      ; marker at the LDT segment base
        mov     ax, 0x1000
        mov     es, ax
        mov     dword [es:0x2345], 0xCAC4E001   ; marker at sel 0x28 base 12345h
        mov     ax, 0x2000
        mov     es, ax
        mov     dword [es:0], 0x0BA5E002        ; marker at the rewritten base
        xor     ax, ax
        mov     es, ax

        ; --- enter protected mode (SDM Vol.3 9.9.1)
        o32 lgdt [cs:gdt_ptr]
        mov     eax, cr0
        or      al, 1
        mov     cr0, eax
        jmp     dword 0x08:pm_entry

gdt_ptr:
        dw      gdt_rom_end - gdt_rom - 1
        dd      GDT_ADDR

; GDT (copied to GDT_ADDR).  Code descriptors have the accessed bit preset so
; that LAR results do not depend on whether a far JMP sets it.
gdt_rom:
        dq      0                                       ; 00 null
        DESC    0, 0xFFFFF, 0x9B, FL_32                 ; 08 code32 flat
        DESC    0, 0xFFFFF, 0x93, FL_32                 ; 10 data32 flat 4G
        DESC    0xF0000, 0xFFFF, 0x9B, FL_16            ; 18 code16 base F0000
        DESC    0, 0xFFFF, 0x93, FL_16                  ; 20 data16 64K
        DESC    0x12345, 0xABCDE, 0x90, 0x4             ; 28 data RO, not accessed
        DESC    0, 0x0FFF, 0x97, FL_16                  ; 30 data expand-down RW
        DESC    0, 0xFFFF, 0x99, 0x4                    ; 38 code execute-only
        DESC    0, 0xFFFF, 0xF3, FL_16                  ; 40 data DPL3
        DESC    TSS_ADDR, 0x67, 0x89, 0                 ; 48 TSS32 available
        DESC    LDT_ADDR, 0x17, 0x82, 0                 ; 50 LDT
        DESC    0, 0xFFFF, 0x13, FL_16                  ; 58 data, NOT present
        DESC    0, 0xFFFFF, 0x9F, FL_32                 ; 60 code conforming RX
        DESC    0, 0x00001, 0x93, 0x8                   ; 68 data G=1 limit 1
        GATE    0x08, 0, 0x8C                           ; 70 call gate
gdt_rom_end:

ldt_rom:
        DESC    0x4000, 0x0FFF, 0x93, 0x4               ; LDT[0] -> sel 0x04
        dq      0
        dq      0
ldt_rom_end:

; --- back from protected mode: executing in the 16-bit code segment 0x18
; (base F0000, limit FFFF) with 16-bit data selectors loaded.
back16:
        mov     eax, cr0
        and     al, 0xFE
        mov     cr0, eax
        jmp     0xF000:real_again
real_again:
        xor     ax, ax
        mov     ds, ax
        mov     es, ax
        mov     ss, ax
        mov     gs, ax                  ; FS is left alone here
        lidt    [cs:real_idt]
        PRINTLN "back in real mode"
        mov     eax, cr0
        and     eax, 1
        CHECK   'cr0.pe after clearing', 32, 0
        mov     ax, cs
        CHECK   'cs', 16, 0xF000
        mov     ax, fs
        CHECK   'fs selector (still 0x10 from pmode)', 16, 0x10
        ; FS still has base 0 and the 4 GiB limit: a 32-bit offset above
        ; 1 MiB reaches the value written in protected mode
        mov     eax, [fs:dword BIG_ADDR]
        CHECK   'unreal: [fs:200000h]', 32, 0x600DF00D
        ; a real-mode load changes base/selector only: FS=1000h gives base
        ; 10000h and keeps the 4 GiB limit
        mov     ax, 0x1000
        mov     fs, ax
        mov     eax, [fs:dword BIG_ADDR - 0x10000]
        CHECK   'unreal after mov fs,1000h: [fs:1f0000h]', 32, 0x600DF00D
        mov     dword [fs:dword BIG_ADDR - 0x10000 + 4], 0x12345678
        xor     ax, ax
        mov     fs, ax
        mov     eax, [fs:dword BIG_ADDR + 4]
        CHECK   'unreal write/read via two bases', 32, 0x12345678
        sidt    [0x900]
        movzx   eax, word [0x900]
        CHECK   'idtr.limit restored for real mode', 16, 0x3FF
        jmp     finish16

real_idt:
        dw      0x3FF
        dd      0

; ===========================================================================
section .pm
bits 32
%include "lib32.inc"

; LARCASE sel, lar_zf, lar, lsl_zf, lsl, verr, verw
%macro LARCASE 7
        dw      %1
        db      %2, %4, %6, %7
        dd      %3, %5
%endmacro

pm_entry:
        mov     ax, 0x10
        mov     ds, ax
        mov     es, ax
        mov     ss, ax
        mov     esp, 0x7C00
        PRINTLN32 "in 32-bit protected mode"
        mov     ax, cs
        CHECK32 'cs', 16, 0x08
        smsw    ax
        CHECK32 'smsw (PE|ET)', 16, 0x0011
        mov     eax, cr0
        CHECK32 'cr0', 32, 0x60000011
        sgdt    [0x900]
        movzx   eax, word [0x900]
        CHECK32 'sgdt limit', 16, gdt_rom_end - gdt_rom - 1
        mov     eax, [0x902]
        CHECK32 'sgdt base', 32, GDT_ADDR
        lidt    [idt_ptr]
        sidt    [0x900]
        movzx   eax, word [0x900]
        CHECK32 'sidt limit after lidt', 16, 0x7FF
        mov     eax, [0x902]
        CHECK32 'sidt base after lidt', 32, IDT_ADDR
        sldt    ax
        CHECK32 'sldt initially', 16, 0
        str     ax
        CHECK32 'str initially', 16, 0

        ; --- the accessed bit is written back to the descriptor on a load
        movzx   eax, byte [GDT_ADDR + 0x28 + 5]
        CHECK32 'gdt[28].access before load', 8, 0x90
        mov     ax, 0x28
        mov     fs, ax
        movzx   eax, byte [GDT_ADDR + 0x28 + 5]
        CHECK32 'gdt[28].access after mov fs (A set)', 8, 0x91

        ; --- descriptor cache: FS keeps base 12345h even after the GDT
        ; entry's base is rewritten; a reload picks up the new base
        mov     eax, [fs:0]
        CHECK32 '[fs:0] base 12345h', 32, 0xCAC4E001
        mov     word [GDT_ADDR + 0x28 + 2], 0x0000      ; base -> 20000h
        mov     byte [GDT_ADDR + 0x28 + 4], 0x02
        mov     eax, [fs:0]
        CHECK32 '[fs:0] after GDT rewrite (cached)', 32, 0xCAC4E001
        mov     ax, 0x28
        mov     fs, ax
        mov     eax, [fs:0]
        CHECK32 '[fs:0] after reload (new base)', 32, 0x0BA5E002
        mov     word [GDT_ADDR + 0x28 + 2], 0x2345      ; restore
        mov     byte [GDT_ADDR + 0x28 + 4], 0x01

        ; --- LAR/LSL/VERR/VERW
        mov     esi, lar_table
.lar:   cmp     esi, lar_table_end
        jae     .lar_done
        call    lar_case
        add     esi, 14
        jmp     .lar
.lar_done:

        ; --- LLDT / SLDT and a segment from the LDT
        mov     ax, 0x50
        lldt    ax
        sldt    ax
        CHECK32 'sldt after lldt 50h', 16, 0x50
        mov     ax, 0x04                ; LDT index 0, TI=1, RPL 0
        mov     gs, ax
        mov     eax, [gs:0]
        CHECK32 '[gs:0] via LDT selector 04h', 32, 0x1D71D7AA
        mov     bx, 0x04
        lar     eax, bx
        and     eax, 0x00F0FF00
        CHECK32 'lar 04h (LDT descriptor)', 32, 0x00409300
        ; --- LTR / STR: LTR marks the TSS descriptor busy (SDM Vol.2 LTR)
        mov     ax, 0x48
        ltr     ax
        str     ax
        CHECK32 'str after ltr 48h', 16, 0x48
        mov     bx, 0x48
        lar     eax, bx
        and     eax, 0x00F0FF00
        CHECK32 'lar 48h after ltr (busy TSS)', 32, 0x00008B00
        movzx   eax, byte [GDT_ADDR + 0x48 + 5]
        CHECK32 'gdt[48].access after ltr', 8, 0x8B

        ; --- prepare the return to real mode (SDM Vol.3 9.9.2): 16-bit data
        ; selectors with 64 KiB limits, except FS = 4 GiB flat (unreal mode)
        mov     dword [BIG_ADDR], 0x600DF00D
        PRINTLN32 "returning to real mode"
        mov     ax, 0x20
        mov     ds, ax
        mov     es, ax
        mov     ss, ax
        mov     gs, ax
        mov     ax, 0x10
        mov     fs, ax
        jmp     0x18:back16

idt_ptr:
        dw      0x7FF
        dd      IDT_ADDR

; lar_case: ESI -> LARCASE record.  Prints one line with all four results.
lar_case:
        pushad
        PRINT32 'sel '
        movzx   ebx, word [esi]
        mov     eax, ebx
        call    p_hex16
        ; LAR
        PRINT32 ': lar'
        mov     eax, 0xEEEEEEEE
        lar     eax, bx
        setz    cl
        and     eax, 0x00F0FF00         ; bits 16-19 undefined (SDM LAR)
        push    eax
        movzx   eax, cl
        call    p_space
        call    p_hex4
        movzx   ebx, byte [esi+2]
        mov     cl, 8
        call    p_chk
        pop     eax
        cmp     byte [esi+2], 0
        je      .nolar
        call    p_space
        mov     cl, 32
        call    p_hex32
        mov     ebx, [esi+6]
        call    p_chk
.nolar: ; LSL
        PRINT32 ' lsl'
        movzx   ebx, word [esi]
        mov     eax, 0xEEEEEEEE
        lsl     eax, bx
        setz    cl
        push    eax
        movzx   eax, cl
        call    p_space
        call    p_hex4
        movzx   ebx, byte [esi+3]
        mov     cl, 8
        call    p_chk
        pop     eax
        cmp     byte [esi+3], 0
        je      .nolsl
        call    p_space
        mov     cl, 32
        call    p_hex32
        mov     ebx, [esi+10]
        call    p_chk
.nolsl: ; VERR / VERW
        movzx   edx, word [esi]
        verr    dx
        setz    al
        PRINT32 ' verr '
        call    p_hex4
        movzx   eax, al
        movzx   ebx, byte [esi+4]
        mov     cl, 8
        call    p_chk
        verw    dx
        setz    al
        PRINT32 ' verw '
        call    p_hex4
        movzx   eax, al
        movzx   ebx, byte [esi+5]
        call    p_chk
        call    p_nl
        popad
        ret

; sel, lar_zf, lar&00F0FF00, lsl_zf, lsl, verr, verw   (CPL 0)
lar_table:
        LARCASE 0x00, 0, 0,          0, 0,          0, 0  ; null selector
        LARCASE 0x08, 1, 0x00C09B00, 1, 0xFFFFFFFF, 1, 0  ; code32 readable, G=1
        LARCASE 0x10, 1, 0x00C09300, 1, 0xFFFFFFFF, 1, 1  ; data32 RW, G=1
        LARCASE 0x18, 1, 0x00009B00, 1, 0x0000FFFF, 1, 0  ; code16
        LARCASE 0x20, 1, 0x00009300, 1, 0x0000FFFF, 1, 1  ; data16
        LARCASE 0x28, 1, 0x00409100, 1, 0x000ABCDE, 1, 0  ; data RO (A set by load)
        LARCASE 0x30, 1, 0x00009700, 1, 0x00000FFF, 1, 1  ; expand-down: raw limit
        LARCASE 0x38, 1, 0x00409900, 1, 0x0000FFFF, 0, 0  ; execute-only code
        LARCASE 0x40, 1, 0x0000F300, 1, 0x0000FFFF, 1, 1  ; DPL3 data from CPL0
        LARCASE 0x43, 1, 0x0000F300, 1, 0x0000FFFF, 1, 1  ; ... with RPL3
        LARCASE 0x48, 1, 0x00008900, 1, 0x00000067, 0, 0  ; TSS: LAR/LSL ok, not VERR
        LARCASE 0x4B, 0, 0,          0, 0,          0, 0  ; TSS with RPL3 > DPL0
        LARCASE 0x50, 1, 0x00008200, 1, 0x00000017, 0, 0  ; LDT
        LARCASE 0x58, 1, 0x00001300, 1, 0x0000FFFF, 1, 1  ; not present: no P check
        LARCASE 0x60, 1, 0x00C09F00, 1, 0xFFFFFFFF, 1, 0  ; conforming code
        LARCASE 0x63, 1, 0x00C09F00, 1, 0xFFFFFFFF, 1, 0  ; conforming, RPL3: allowed
        LARCASE 0x0B, 0, 0,          0, 0,          0, 0  ; code DPL0 with RPL3
        LARCASE 0x68, 1, 0x00809300, 1, 0x00001FFF, 1, 1  ; G=1 limit 1 -> 1FFFh
        LARCASE 0x70, 1, 0x00008C00, 0, 0,          0, 0  ; call gate: LAR only
        LARCASE 0x78, 0, 0,          0, 0,          0, 0  ; beyond GDT limit
lar_table_end:
