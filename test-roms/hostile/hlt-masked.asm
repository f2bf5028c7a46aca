; hlt-masked.asm - HLT with interrupts enabled while the PIT runs
; periodically (mode 2, about 1 kHz) and IRQ 0 is masked at the 8259: the
; CPU wakes at every PIT deadline and nothing is ever delivered.
%include "hostile.inc"
start:
        RM_INIT
        call    pic_init
        mov     al, 0xFF                ; mask every IRQ of the master
        out     0x21, al
        call    pit_1khz
        sti
.idle:  hlt
        jmp     .idle

pic_init:                               ; master at vector 8, slave at 0x70
        mov     al, 0x11
        out     0x20, al
        out     0xA0, al
        mov     al, 0x08
        out     0x21, al
        mov     al, 0x70
        out     0xA1, al
        mov     al, 0x04
        out     0x21, al
        mov     al, 0x02
        out     0xA1, al
        mov     al, 0x01
        out     0x21, al
        out     0xA1, al
        ret

pit_1khz:                               ; channel 0, mode 2, count 1193
        mov     al, 0x34
        out     0x43, al
        mov     ax, 1193
        out     0x40, al
        mov     al, ah
        out     0x40, al
        ret
        ROM_END
