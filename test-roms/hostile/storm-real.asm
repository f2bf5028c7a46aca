; storm-real.asm - an exception storm in real mode: the #UD vector points
; at a UD2, so the handler's first instruction faults again and nothing
; ever retires.
%include "hostile.inc"
start:
        RM_INIT
        mov     word [6 * 4], ud_handler
        mov     word [6 * 4 + 2], 0xF000
        ud2
ud_handler:
        ud2
        ROM_END
