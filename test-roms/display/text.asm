; text.asm - mode 3 (80x25, 9-dot 8x16 font from the VGA BIOS): every
; CP437 character in 16 attributes, box drawing (line-graphics columns),
; cursor off, blink off (bright backgrounds instead).
%include "boot.inc"
stage:
        mov     ax, 0x0003
        int     0x10
        mov     ax, 0x1003          ; attribute bit 7: intensity, no blink
        xor     bx, bx
        int     0x10
        mov     ah, 0x01            ; cursor off
        mov     cx, 0x2000
        int     0x10
        mov     ax, 0xB800
        mov     es, ax
        ; Rows 1-16: characters 0-255, 16 per row, each in attribute
        ; (row * 16 + col) ^ 0x5A, two cells apart.
        xor     bx, bx              ; character
.char:  mov     ax, bx
        shr     ax, 4               ; row - 1
        inc     ax
        mov     cx, 160
        mul     cx
        mov     di, ax
        mov     ax, bx
        and     ax, 15
        shl     ax, 2               ; column * 2 cells * 2 bytes
        add     di, ax
        mov     al, bl
        mov     ah, bl
        xor     ah, 0x5A
        stosw
        inc     bx
        cmp     bx, 256
        jb      .char
        ; Row 18: a box of line-drawing characters over 40 columns.
        mov     di, 18 * 160 + 80
        mov     ax, 0x1EC9          ; ╔, yellow on blue
        stosw
        mov     cx, 38
        mov     ax, 0x1ECD          ; ═
        rep stosw
        mov     ax, 0x1EBB          ; ╗
        stosw
        mov     di, 19 * 160 + 80
        mov     ax, 0x1EBA          ; ║
        stosw
        mov     si, msg
        mov     ah, 0x1F
.msg:   lodsb
        test    al, al
        jz      .msgend
        stosw
        jmp     .msg
.msgend:
        mov     di, 19 * 160 + 80 + 78
        mov     ax, 0x1EBA
        stosw
        mov     di, 20 * 160 + 80
        mov     ax, 0x1EC8          ; ╚
        stosw
        mov     cx, 38
        mov     ax, 0x1EC4          ; ─ (single: the 9th column repeats)
        rep stosw
        mov     ax, 0x1EBC          ; ╝
        stosw
        ; Row 22: bright backgrounds (attribute bit 7 with blink off).
        mov     di, 22 * 160
        mov     cx, 16
        mov     ax, 0x80DB
.bright:
        stosw
        add     ah, 0x10
        loop    .bright
        jmp     ready
msg:    db ' anyx86 text mode 80x25, 9-dot font    ', 0
%include "end.inc"
