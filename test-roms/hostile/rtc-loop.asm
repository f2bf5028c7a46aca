; rtc-loop.asm - toggles the RTC's periodic interrupt and its rate in a
; tight loop (each change moves the RTC's deadline).
%include "hostile.inc"
start:
        RM_INIT
.again: mov     al, 0x0A                ; register A: rate 3 (8 kHz)
        out     0x70, al
        mov     al, 0x23
        out     0x71, al
        mov     al, 0x0B                ; register B: PIE on
        out     0x70, al
        mov     al, 0x42
        out     0x71, al
        mov     al, 0x0B                ; PIE off
        out     0x70, al
        mov     al, 0x02
        out     0x71, al
        mov     al, 0x0C                ; read C (acknowledge)
        out     0x70, al
        in      al, 0x71
        jmp     .again
        ROM_END
