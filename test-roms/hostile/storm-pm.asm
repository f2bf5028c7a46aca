; storm-pm.asm - an exception storm in 32-bit protected mode: the #UD gate
; leads to a UD2.
%include "hostile.inc"
start:
        ENTER_PM pm
        bits    32
pm:
        GATE32  6, ud_handler
        lidt    [LIN(idtr)]
        ud2
ud_handler:
        ud2
idtr:   dw      256 * 8 - 1
        dd      IDT_RAM
        bits    16
        ROM_END
