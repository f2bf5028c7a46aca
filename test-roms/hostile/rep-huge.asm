; rep-huge.asm - REP INSB and REP MOVSB with a count of 2^32 - 1 in flat
; 32-bit protected mode (each iteration counts toward the limit).
%include "hostile.inc"
start:
        ENTER_PM pm
        bits    32
pm:
        cld
.again: mov     dx, 0x80
        mov     edi, 0x100000
        mov     ecx, 0xFFFFFFFF
        rep insb
        mov     esi, 0x100000
        mov     edi, 0x100000
        mov     ecx, 0xFFFFFFFF
        rep movsb
        jmp     .again
        bits    16
        ROM_END
