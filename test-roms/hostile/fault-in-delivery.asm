; fault-in-delivery.asm - a fault during delivery, forever: the #UD gate
; is not present (#NP), the #NP gate neither, so each #UD becomes a double
; fault whose handler executes UD2 again (#UD, #NP, #DF, #UD, ...).
%include "hostile.inc"
start:
        ENTER_PM pm
        bits    32
pm:
        GATE32  8, df_handler
        lidt    [LIN(idtr)]
        ud2
df_handler:
        ud2
idtr:   dw      256 * 8 - 1
        dd      IDT_RAM
        bits    16
        ROM_END
