; smc.asm - self-modifying code ROM.
;
; SDM Vol.3 11.6 "Self-Modifying Code" and Vol.3 8.1.3: on P6-family and later
; processors a write to a code location that is about to be executed (even
; the very next instruction, even if it was already prefetched/decoded, and
; even if the write goes through a different linear address mapping the same
; physical page) is detected and the modified instruction is executed.  The
; ROM checks that the NEW code runs:
;   - real mode: patch the immediate of the next instruction
;   - protected mode: next-instruction immediate, a later instruction in the
;     same page, in a loop (16 different immediates), opcode flipping in a
;     loop, patch-by-REP MOVSB of the instruction just ahead, run/patch/run
;     again of a previously executed routine, an instruction straddling a
;     page boundary patched in its second page
;   - with paging: writes through a second linear alias of the code's
;     physical page (executing through either alias), in a loop.
; All code under test is copied from the ROM into RAM first (the ROM itself is
; read-only).

%define ROM_TITLE "smc: self-modifying code"
%define HAVE_RM_PRE
%include "rom.inc"
%include "desc.inc"
%include "lib16.inc"
%include "pm32.inc"

RAMCODE equ     0x10000         ; where .ram32 runs
RAMSEG16 equ    0x2000          ; real-mode snippet segment (linear 20000h)
ALIAS   equ     0x800000        ; (4 MiB aligned) second linear mapping of RAMCODE's frames
PD      equ     0x30000
PT0     equ     0x31000
PT1     equ     0x32000

; --------------------------------------------------------------- real mode
section .rm
bits 16
rm_pre:
        ; copy the 16-bit snippet to 2000:0000 and far-call it
        push    ds
        push    es
        push    cs
        pop     ds
        mov     ax, RAMSEG16
        mov     es, ax
        mov     si, 0xD000              ; ROM offset of .ram16
        xor     di, di
        mov     cx, ram16_size
        rep movsb
        pop     es
        pop     ds
        call    RAMSEG16:rm_next
        movzx   eax, al
        CHECK   'real mode: patch next insn imm (mov al,0 -> 42h)', 8, 0x42
        call    RAMSEG16:rm_loop
        movzx   eax, ax
        CHECK   'real mode: loop patching add imm 0..15, sum', 16, 120
        ret

section .ram16 start=0xD000 vstart=0
bits 16
ram16_image:
rm_next:
        mov     byte [cs:.i+1], 0x42
.i:     mov     al, 0
        retf
rm_loop:
        xor     dx, dx
        xor     cx, cx
.l:     mov     [cs:.a+2], cl
.a:     add     dx, strict byte 0       ; 83 C2 ib
        inc     cx
        cmp     cx, 16
        jb      .l
        mov     ax, dx
        retf
ram16_size equ $ - ram16_image

; --------------------------------------------------------------- 32-bit
section .pm
bits 32
pm_main:
        mov     esi, ram32_rom
        mov     edi, RAMCODE
        mov     ecx, ram32_size
        rep movsb

        call    next_insn
        CHECK32 'patch next insn imm8 (mov al,0 -> 42h)', 8, 0x42
        call    next_insn32
        CHECK32 'patch next insn imm32 (mov eax,0 -> c0ffee11h)', 32, 0xC0FFEE11
        call    later_insn
        CHECK32 'patch insn 3 insns ahead', 32, 0x5A5A5A5A
        call    imm_loop
        CHECK32 'loop: add imm8 0..15 patched each pass, sum', 32, 120
        call    opcode_loop
        CHECK32 'loop: opcode flip inc eax/inc ebx, eax*100h+ebx', 32, 0x0404
        call    movs_patch
        CHECK32 'rep movsb over the next insn', 32, 0x12345678
        ; run, patch, run again: the old translation must be discarded
        call    patchme
        CHECK32 'patchme first run', 32, 1
        mov     dword [patchme_imm], 2
        call    patchme
        CHECK32 'patchme after patch', 32, 2
        mov     byte [patchme], 0x40    ; inc eax ; (nop-ish prefix) ...
        mov     byte [patchme+1], 0xC3  ; ret  -> returns eax+1
        mov     eax, 0x99
        call    patchme
        CHECK32 'patchme opcode replaced (inc eax; ret)', 32, 0x9A
        ; instruction straddling a page boundary: B8 imm32 at 11FFDh, C3
        mov     edi, 0x11FFD
        mov     dword [edi], 0x000001B8 ; B8 01 00 00 | 00 C3
        mov     word [edi+4], 0xC300
        mov     eax, edi
        call    eax
        CHECK32 'straddling mov eax,1 first run', 32, 1
        mov     byte [0x12000], 0x77    ; imm byte 2 = first byte of page 2
        mov     eax, 0x11FFD
        call    eax
        CHECK32 'straddling insn patched in 2nd page', 32, 0x00770001

        call    paging_alias_tests
        ret

; paging: identity-map 0-4 MiB, map ALIAS.. -> RAMCODE.. (16 pages)
paging_alias_tests:
        xor     ecx, ecx
.pt:    mov     eax, ecx
        shl     eax, 12
        or      eax, 3
        mov     [PT0 + ecx*4], eax
        mov     dword [PT1 + ecx*4], 0
        inc     ecx
        cmp     ecx, 1024
        jb      .pt
        xor     ecx, ecx
.al:    mov     eax, ecx
        shl     eax, 12
        add     eax, RAMCODE | 3
        mov     [PT1 + ecx*4], eax
        inc     ecx
        cmp     ecx, 16
        jb      .al
        mov     edi, PD
        mov     ecx, 1024
        xor     eax, eax
        rep stosd
        mov     dword [PD], PT0 | 3
        mov     dword [PD + (ALIAS >> 22)*4], PT1 | 3
        mov     eax, PD
        mov     cr3, eax
        mov     eax, cr0
        or      eax, 0x80000000
        mov     cr0, eax
        jmp     .on
.on:    mov     eax, [ALIAS + (alias_probe - RAMCODE)]
        CHECK32 'paging: alias reads the same frame', 32, 0xA11A5A11
        ; execute at RAMCODE, write through ALIAS
        mov     byte [ALIAS + (via_alias.i + 1 - RAMCODE)], 0x11
        call    via_alias
        CHECK32 'write via alias, run at original (imm 11h)', 8, 0x11
        mov     byte [ALIAS + (via_alias.i + 1 - RAMCODE)], 0x22
        call    via_alias
        CHECK32 'again, imm 22h', 8, 0x22
        ; execute at ALIAS, write through the original address
        mov     byte [via_alias.i + 1], 0x33
        mov     eax, ALIAS + (via_alias - RAMCODE)
        call    eax
        CHECK32 'write at original, run via alias (imm 33h)', 8, 0x33
        ; code running at the alias patches its next instruction through
        ; the original mapping (the routine uses absolute RAMCODE addresses)
        mov     eax, ALIAS + (next_insn - RAMCODE)
        mov     byte [next_insn.i + 1], 0
        call    eax
        CHECK32 'run at alias, patch next insn via original', 8, 0x42
        ; loop, alternating aliases for the write
        mov     eax, ALIAS + (alias_loop - RAMCODE)
        call    eax
        CHECK32 'loop at alias, writes via both mappings, sum', 32, 120
        ret

; ------------------------------------------------- code copied to RAMCODE
section .ram32 start=0xE000 vstart=RAMCODE
bits 32
ram32_start:
next_insn:
        mov     byte [.i+1], 0x42
.i:     mov     al, 0
        movzx   eax, al
        ret
next_insn32:
        mov     dword [.i+1], 0xC0FFEE11
.i:     mov     eax, 0
        ret
later_insn:
        mov     dword [.i+1], 0x5A5A5A5A
        nop
        xor     ecx, ecx
        inc     ecx
.i:     mov     eax, 0
        ret
imm_loop:
        xor     edx, edx
        xor     ecx, ecx
.l:     mov     [.a+2], cl
.a:     add     edx, strict byte 0      ; 83 C2 ib
        inc     ecx
        cmp     ecx, 16
        jb      .l
        mov     eax, edx
        ret
opcode_loop:
        xor     eax, eax
        xor     ebx, ebx
        xor     ecx, ecx
.l:     mov     dl, 0x40                ; inc eax
        test    cl, 1
        jz      .w
        mov     dl, 0x43                ; inc ebx
.w:     mov     [.op], dl
.op:    nop
        inc     ecx
        cmp     ecx, 8
        jb      .l
        shl     eax, 8
        or      eax, ebx
        ret
movs_patch:
        mov     esi, .new
        mov     edi, .target
        mov     ecx, 5
        rep movsb
.target:
        mov     eax, 0
        ret
.new:   mov     eax, 0x12345678
patchme:
        mov     eax, 1
patchme_imm equ patchme + 1
        ret
via_alias:
.i:     mov     al, 0
        movzx   eax, al
        ret
alias_probe:
        dd      0xA11A5A11
alias_loop:
        xor     edx, edx
        xor     ecx, ecx
.l:     test    cl, 1
        jz      .orig
        mov     [ALIAS + (.a + 2 - RAMCODE)], cl
        jmp     .a
.orig:  mov     [.a+2], cl
.a:     add     edx, strict byte 0
        inc     ecx
        cmp     ecx, 16
        jb      .l
        mov     eax, edx
        ret
ram32_size equ $ - ram32_start

section .pm
ram32_rom equ ROMBASE + 0xE000
