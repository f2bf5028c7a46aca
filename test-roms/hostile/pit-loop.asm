; pit-loop.asm - reprograms PIT channel 0 in a tight loop (each reload
; moves the timer's deadline).
%include "hostile.inc"
start:
        RM_INIT
        mov     bx, 2
.again: mov     al, 0x34
        out     0x43, al
        mov     ax, bx
        out     0x40, al
        mov     al, ah
        out     0x40, al
        inc     bx
        or      bx, 2                   ; counts of 2 and up
        jmp     .again
        ROM_END
