; planar.asm - mode 12h (640x480, 16 colours, planar): 16 horizontal
; bands drawn with write mode 2, then a diagonal pattern drawn with the
; bit mask register and write mode 0 with set/reset.
%include "boot.inc"
stage:
        mov     ax, 0x0012
        int     0x10
        mov     ax, 0xA000
        mov     es, ax
        mov     dx, 0x3CE
        mov     ax, 0x0205          ; GR5: write mode 2
        out     dx, ax
        mov     ax, 0xFF08          ; GR8: bit mask all
        out     dx, ax
        xor     di, di
        xor     bl, bl              ; colour
.band:  mov     cx, 30 * 80         ; 30 rows of 80 bytes
.fill:  mov     al, [es:di]         ; load the latches
        mov     al, bl
        stosb
        loop    .fill
        inc     bl
        cmp     bl, 16
        jb      .band
        ; Write mode 0 with set/reset = colour 15 on all planes, one pixel
        ; per row through the bit mask: a diagonal over the first 256 rows.
        mov     ax, 0x0005          ; write mode 0
        out     dx, ax
        mov     ax, 0x0F00          ; GR0 set/reset = 15
        out     dx, ax
        mov     ax, 0x0F01          ; GR1 enable set/reset, all planes
        out     dx, ax
        xor     si, si              ; row = x
.diag:  mov     ax, si
        mov     bx, 80
        mul     bx
        mov     di, ax
        mov     ax, si
        shr     ax, 3
        add     di, ax              ; byte of pixel (x = row)
        mov     cx, si
        and     cl, 7
        mov     ah, 0x80
        shr     ah, cl
        mov     al, 0x08            ; GR8 bit mask
        out     dx, ax
        mov     al, [es:di]
        mov     [es:di], al
        inc     si
        cmp     si, 256
        jb      .diag
        mov     ax, 0xFF08
        out     dx, ax
        mov     ax, 0x0001
        out     dx, ax
        jmp     ready
%include "end.inc"
