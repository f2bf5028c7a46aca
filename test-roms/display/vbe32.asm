; vbe32.asm - a VBE 640x480 32-bpp mode found through the VBE mode list
; (INT 10h 4F00h/4F01h), set with 4F02h (banked, no LFB), and drawn
; through 64 KiB bank windows (4F05h): red rises left to right, green top
; to bottom, blue is (x xor y).
%include "boot.inc"
stage:
        push    ds
        pop     es
        mov     ax, 0x4F00
        mov     di, info
        mov     dword [info], 'VBE2'
        int     0x10
        cmp     ax, 0x004F
        jne     fail
        ; Walk the mode list (far pointer at info+14).
        les     si, [info + 14]
.next:  mov     cx, [es:si]
        cmp     cx, 0xFFFF
        je      fail
        add     si, 2
        push    es
        push    si
        push    ds
        pop     es
        mov     ax, 0x4F01
        mov     di, mode
        int     0x10
        pop     si
        pop     es
        cmp     word [mode + 18], 640
        jne     .next
        cmp     word [mode + 20], 480
        jne     .next
        cmp     byte [mode + 25], 32
        jne     .next
        mov     bx, cx              ; the mode, banked
        mov     ax, 0x4F02
        int     0x10
        cmp     ax, 0x004F
        jne     fail
        ; Draw: pixel offset = (y * 640 + x) * 4 (bytes per line from the
        ; mode info must be 2560 for this to hold).
        cmp     word [mode + 16], 2560
        jne     fail
        mov     ax, 0xA000
        mov     es, ax
        xor     bp, bp              ; bank
        xor     di, di
        xor     dx, dx              ; y
        call    set_bank
.row:   xor     cx, cx              ; x
.px:    mov     ax, cx
        xor     ax, dx
        mov     [pix], al           ; blue
        mov     ax, dx
        shr     ax, 1
        mov     [pix + 1], al       ; green = y / 2 (0..239)
        mov     ax, cx
        shr     ax, 2
        mov     [pix + 2], al       ; red = x / 4 (0..159)
        mov     byte [pix + 3], 0
        mov     eax, [pix]
        stosd
        test    di, di
        jnz     .same
        inc     bp
        call    set_bank
.same:  inc     cx
        cmp     cx, 640
        jb      .px
        inc     dx
        cmp     dx, 480
        jb      .row
        jmp     ready

set_bank:
        push    bx
        push    dx
        mov     ax, 0x4F05
        xor     bx, bx
        mov     dx, bp
        int     0x10
        pop     dx
        pop     bx
        ret

fail:   mov     si, msg_fail
        call    serial_puts
        mov     al, 1
        out     0xF4, al
        jmp     ready
msg_fail: db 'VBE FAIL', 13, 10, 0
pix:    dd 0
info:   times 512 db 0
mode:   times 256 db 0
%include "end.inc"
