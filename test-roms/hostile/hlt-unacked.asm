; hlt-unacked.asm - HLT while IRQ 0 stays in service: the timer handler
; returns without EOI, so the PIT's periodic interrupt is never delivered
; again and the CPU wakes at every deadline for nothing.
%include "hostile.inc"
start:
        RM_INIT
        mov     word [8 * 4], irq0
        mov     word [8 * 4 + 2], 0xF000
        mov     al, 0x11                ; 8259: vector 8, edge, 8086 mode
        out     0x20, al
        mov     al, 0x08
        out     0x21, al
        mov     al, 0x04
        out     0x21, al
        mov     al, 0x01
        out     0x21, al
        mov     al, 0xFE                ; only IRQ 0
        out     0x21, al
        mov     al, 0x34                ; PIT channel 0, mode 2, ~1 kHz
        out     0x43, al
        mov     ax, 1193
        out     0x40, al
        mov     al, ah
        out     0x40, al
        sti
.idle:  hlt
        jmp     .idle
irq0:   iret                            ; no EOI
        ROM_END
