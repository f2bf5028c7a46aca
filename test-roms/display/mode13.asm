; mode13.asm - mode 13h (320x200, 256 colours, chain-4): a diagonal colour
; ramp over the default palette, and the DAC reprogrammed for colours
; 240-255 (a grey ramp) through INT 10h AX=1012h.
%include "boot.inc"
stage:
        mov     ax, 0x0013
        int     0x10
        ; DAC 240-255: grey ramp (6-bit values 0, 4, ... 60).
        push    ds
        pop     es
        mov     di, dac
        xor     al, al
        mov     cx, 16
.dac:   stosb
        stosb
        stosb
        add     al, 4
        loop    .dac
        mov     ax, 0x1012
        mov     bx, 240
        mov     cx, 16
        mov     dx, dac
        int     0x10
        mov     ax, 0xA000
        mov     es, ax
        xor     di, di
        xor     dx, dx              ; y
.row:   xor     cx, cx              ; x
.px:    mov     ax, cx
        add     ax, dx
        stosb                       ; colour (x + y) & 0xFF
        inc     cx
        cmp     cx, 320
        jb      .px
        inc     dx
        cmp     dx, 200
        jb      .row
        ; A 16x16 block of the grey ramp at (8, 8).
        mov     dx, 8
.grow:  mov     ax, dx
        mov     bx, 320
        push    dx
        mul     bx
        pop     dx
        add     ax, 8
        mov     di, ax
        mov     cx, 16
        mov     al, 240
.gpx:   stosb
        inc     al
        loop    .gpx
        inc     dx
        cmp     dx, 24
        jb      .grow
        jmp     ready
dac:    times 48 db 0
%include "end.inc"
