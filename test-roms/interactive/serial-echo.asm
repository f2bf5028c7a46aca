; serial-echo.asm - an interactive fixture for the serial console tests.
;
; Prints "ECHO READY" on COM1, then echoes every byte received on COM1
; back, prefixed by nothing and with letters upper-cased, so a test can
; tell the echo from its own typing. Receiving 'Q' writes 0 to the exit
; device (port 0xF4). Polled: no interrupts. Runs in real mode from the
; ROM's low alias; needs no RAM.
;
; Build: nasm -f bin -o serial-echo.bin serial-echo.asm

        bits    16
        org     0xF0000 - 0xF0000       ; offsets within segment F000

COM1    equ     0x3F8

start:
        cli
        ; 8N1, divisor 1, FIFO on
        mov     dx, COM1 + 3
        mov     al, 0x80
        out     dx, al
        mov     dx, COM1
        mov     al, 1
        out     dx, al
        inc     dx
        xor     al, al
        out     dx, al
        mov     dx, COM1 + 3
        mov     al, 0x03
        out     dx, al
        mov     dx, COM1 + 2
        mov     al, 0x07
        out     dx, al
        mov     si, banner
.print:
        mov     al, [cs:si]
        test    al, al
        jz      .loop
        call    putc
        inc     si
        jmp     .print
.loop:
        mov     dx, COM1 + 5
.wait:
        in      al, dx
        test    al, 1
        jz      .wait
        mov     dx, COM1
        in      al, dx
        cmp     al, 'Q'
        je      .quit
        cmp     al, 'a'
        jb      .out
        cmp     al, 'z'
        ja      .out
        sub     al, 0x20
.out:
        call    putc
        jmp     .loop
.quit:
        xor     al, al
        out     0xF4, al
        hlt

putc:                                   ; AL = byte
        push    ax
        mov     dx, COM1 + 5
.t:     in      al, dx
        test    al, 0x20
        jz      .t
        pop     ax
        mov     dx, COM1
        out     dx, al
        ret

banner: db      "ECHO READY", 13, 10, 0

        times   0xFFF0 - ($ - $$) db 0xFF
reset:  jmp     0xF000:start
        times   0x10000 - ($ - $$) db 0xFF
