; storm-long.asm - an exception storm in 64-bit mode through an IST gate:
; the #UD gate switches to the IST1 stack and leads to a UD2, so every
; delivery starts again at the same stack and RSP never runs out.
%include "hostile.inc"
start:
        ENTER_PM pm
        bits    32
pm:
        ENTER_LONG lm
        bits    64
lm:
        mov     qword [TSS_RAM + 0x24], IST1    ; IST1
        mov     ax, 0x20
        ltr     ax
        mov     rax, LIN(ud_handler)
        mov     rdi, IDT_RAM + 6 * 16
        mov     word [rdi], ax
        mov     word [rdi + 2], 0x18
        mov     word [rdi + 4], 0x8E01          ; present, interrupt gate, IST1
        shr     rax, 16
        mov     word [rdi + 6], ax
        mov     qword [rdi + 8], 0
        lidt    [LIN(idtr)]
        ud2
ud_handler:
        ud2
idtr:   dw      256 * 16 - 1
        dq      IDT_RAM
        bits    16
        ROM_END
