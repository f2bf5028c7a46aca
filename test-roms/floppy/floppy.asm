; floppy.asm - a 1.44 MB boot floppy that tests the BIOS's floppy services
; (INT 13h through the 82077AA and the 8237) and reports on COM1 through
; INT 14h. It assembles to the whole image (nasm -f bin): the boot sector,
; a 2 KiB second stage, then every other sector filled with its own LBA as
; 16-bit words, so a misplaced sector shows which one it is.
;
; Each result line starts with "FD " (the harness compares those lines
; with QEMU's; anything else on COM1, such as the BIOS's own serial
; console, is not part of the test). The last line is "FD PASS" or
; "FD FAIL n"; then the image writes n to isa-debug-exit (port 0xF4):
; exit status 1 means pass.
;
; Run on QEMU: qemu-system-i386 -M pc -m 32 -display none -serial stdio \
;   -device isa-debug-exit,iobase=0xf4,iosize=0x04 -no-reboot \
;   -drive file=floppy.img,if=floppy,format=raw[,readonly=on] -boot a
; (test-roms/floppy/run-qemu.sh). With readonly=on the write is refused
; with status 03h (write protected) and the image prints that instead.

        bits 16
        org 0x7C00

SECTORS     equ 18                  ; per track (1.44 MB)
HEADS       equ 2
CYLINDERS   equ 80
STAGE2      equ 0x7E00
STAGE2_LEN  equ 4                   ; sectors
BUF         equ 0x1000              ; segment of the 64 KiB read buffer

boot:
        jmp     short .start
        nop
        ; A BIOS parameter block, so that the image is also a plausible
        ; DOS floppy (nothing here reads it).
        db      'ANYX86  '
        dw      512                 ; bytes per sector
        db      1                   ; sectors per cluster
        dw      1                   ; reserved sectors
        db      2                   ; FATs
        dw      224                 ; root entries
        dw      2880                ; sectors
        db      0xF0                ; media descriptor
        dw      9                   ; sectors per FAT
        dw      SECTORS
        dw      HEADS
        dd      0
        dd      0
.start:
        cli
        xor     ax, ax
        mov     ds, ax
        mov     es, ax
        mov     ss, ax
        mov     sp, 0x7C00
        sti
        mov     [drive], dl
        ; Stage 2: sectors 2-5 (C0 H0 S2) to 0:7E00.
        mov     ax, 0x0200 | STAGE2_LEN
        mov     cx, 0x0002
        xor     dh, dh
        mov     bx, STAGE2
        int     0x13
        jc      .fail
        jmp     0:stage2
.fail:
        mov     al, 0xEE
        out     0xF4, al
        hlt
        jmp     .fail

drive:  db      0

        times 510 - ($ - $$) db 0
        dw      0xAA55

; ---------------------------------------------------------------------------
stage2:
        call    crlf                ; start on a line of our own
        mov     si, msg_hello
        call    puts
        mov     al, [drive]
        call    hex8
        call    crlf

        ; INT 13h AH=08h: drive parameters.
        mov     si, msg_params
        call    puts
        mov     ah, 0x08
        mov     dl, [drive]
        xor     di, di
        mov     es, di
        int     0x13
        push    dx
        push    cx
        push    bx
        call    status              ; CF and AH
        pop     bx
        mov     si, msg_type
        call    puts
        mov     al, bl
        call    hex8
        cmp     bl, 4
        call    check
        pop     cx
        mov     si, msg_cyl
        call    puts
        mov     al, ch
        call    hex8
        cmp     ch, CYLINDERS - 1
        call    check
        mov     si, msg_spt
        call    puts
        mov     al, cl
        call    hex8
        cmp     cl, SECTORS
        call    check
        pop     dx
        mov     si, msg_heads
        call    puts
        mov     al, dh
        call    hex8
        cmp     dh, HEADS - 1
        call    check
        mov     si, msg_drives
        call    puts
        mov     al, dl
        call    hex8
        cmp     dl, 1
        call    check
        call    crlf

        ; INT 13h AH=15h: disk type (01h: floppy without change line,
        ; 02h: with).
        mov     si, msg_dtype
        call    puts
        mov     ah, 0x15
        mov     dl, [drive]
        int     0x13
        mov     al, ah
        call    hex8
        call    crlf

        ; A whole track (C1 H1, 18 sectors: LBA 54-71) into BUF:0.
        mov     si, msg_track
        call    puts
        mov     ax, 0x0200 | SECTORS
        mov     cx, 0x0101
        mov     dh, 1
        call    read_buf
        mov     ax, 54
        mov     cx, SECTORS
        call    verify

        ; The last sector of the disk (C79 H1 S18: LBA 2879).
        mov     si, msg_last
        call    puts
        mov     ax, 0x0201
        mov     cx, (CYLINDERS - 1) << 8 | SECTORS
        mov     dh, 1
        call    read_buf
        mov     ax, 2879
        mov     cx, 1
        call    verify

        ; Sectors 1-9 of C40 H0 into a buffer that crosses a 64 KiB
        ; boundary (the 8237 cannot: the BIOS must split or refuse).
        mov     si, msg_cross
        call    puts
        mov     ax, 0x0209
        mov     cx, 40 << 8 | 1
        xor     dh, dh
        push    es
        mov     bx, 0x1F00
        mov     es, bx
        mov     bx, 0x0800          ; 1F00:0800 = 0x1F800: crosses 0x20000
        int     0x13
        pop     es
        call    status
        call    crlf

        ; Reset (AH=00h), then a read of sector 19 of an 18-sector track.
        mov     si, msg_reset
        call    puts
        xor     ah, ah
        mov     dl, [drive]
        int     0x13
        call    status
        mov     si, msg_bad
        call    puts
        mov     ax, 0x0201
        mov     cx, 0x0013
        xor     dh, dh
        call    read_buf_raw
        call    status
        call    crlf

        ; Write LBA 100 (C2 H1 S11) with A5h, read it back.
        mov     si, msg_write
        call    puts
        push    es
        mov     ax, BUF
        mov     es, ax
        xor     di, di
        mov     al, 0xA5
        mov     cx, 512
        rep stosb
        pop     es
        mov     ax, 0x0301
        mov     cx, 2 << 8 | 11
        mov     dh, 1
        call    read_buf_raw        ; AH=03h: same registers as a read
        pushf
        push    ax
        call    status
        pop     ax
        popf
        jc      .write_refused
        mov     si, msg_readback
        call    puts
        push    es
        mov     ax, BUF
        mov     es, ax
        xor     di, di
        mov     cx, 256
        xor     ax, ax
        rep stosw                   ; clear the buffer first
        pop     es
        mov     ax, 0x0201
        mov     cx, 2 << 8 | 11
        mov     dh, 1
        call    read_buf
        push    ds
        mov     ax, BUF
        mov     ds, ax
        xor     si, si
        mov     cx, 512
.rb:    lodsb
        cmp     al, 0xA5
        jne     .rb_end
        loop    .rb
.rb_end:
        pop     ds
        mov     si, msg_left
        call    puts
        mov     ax, cx
        call    hex16               ; bytes left unmatched: 0000
        cmp     cx, 0
        call    check
        call    crlf
        jmp     .done
.write_refused:
        mov     si, msg_wp
        call    puts
        call    crlf

.done:
        mov     si, msg_checks
        call    puts
        mov     ax, [checks]
        call    hex16
        call    crlf
        mov     al, [fails]
        test    al, al
        jnz     .failed
        mov     si, msg_pass
        call    puts
        call    crlf
        xor     al, al
        out     0xF4, al
        jmp     halt
.failed:
        mov     si, msg_fail
        call    puts
        mov     al, [fails]
        call    hex8
        call    crlf
        mov     al, [fails]
        out     0xF4, al
halt:   cli
        hlt
        jmp     halt

; Reads with AX/CX/DH set, into BUF:0, and prints the status.
read_buf:
        call    read_buf_raw
        jmp     status

; INT 13h with AX/CX/DH set, DL = the boot drive, ES:BX = BUF:0.
read_buf_raw:
        push    es
        push    ax
        mov     ax, BUF
        mov     es, ax
        pop     ax
        xor     bx, bx
        mov     dl, [drive]
        int     0x13
        pop     es
        ret

; Prints " st=AH" and "CF" when the carry is set (AH and CF kept).
status:
        pushf
        push    ax
        mov     si, msg_status
        call    puts
        mov     al, ah
        call    hex8
        pop     ax
        popf
        jnc     .ok
        push    ax
        mov     si, msg_cf
        call    puts
        pop     ax
        stc
.ok:    ret

; Checks that CX sectors at BUF:0 hold words equal to their LBA, from AX.
verify:
        push    ds
        mov     bx, BUF
        mov     ds, bx
        xor     si, si
        mov     dx, ax
.sector:
        push    cx
        mov     cx, 256
.word:  lodsw
        cmp     ax, dx
        jne     .bad
        loop    .word
        pop     cx
        inc     dx
        loop    .sector
        pop     ds
        mov     si, msg_data_ok
        call    puts
        cmp     ax, ax              ; ZF=1: pass
        call    check
        jmp     crlf
.bad:   pop     cx
        pop     ds
        push    ax
        mov     si, msg_data_bad
        call    puts
        pop     ax
        call    hex16               ; the word found
        or      ax, 1               ; ZF=0 (AX != 0 here)
        call    check
        jmp     crlf

; Counts a check; ZF=0 means it failed (prints "<-FAIL").
check:
        pushf
        inc     word [checks]
        popf
        je      .ok
        inc     byte [fails]
        push    si
        mov     si, msg_failmark
        call    puts
        pop     si
.ok:    ret

; Output through INT 14h (COM1).
putc:
        push    ax
        push    dx
        mov     ah, 0x01
        xor     dx, dx
        int     0x14
        pop     dx
        pop     ax
        ret

puts:   push    ax
.next:  lodsb
        test    al, al
        jz      .end
        call    putc
        jmp     .next
.end:   pop     ax
        ret

crlf:   push    si
        mov     si, msg_crlf
        call    puts
        pop     si
        ret

hex16:  push    ax
        mov     al, ah
        call    hex8
        pop     ax
hex8:   push    ax
        shr     al, 4
        call    .digit
        pop     ax
        push    ax
        and     al, 0x0F
        call    .digit
        pop     ax
        ret
.digit: add     al, '0'
        cmp     al, '9'
        jbe     .out
        add     al, 'A' - '0' - 10
.out:   jmp     putc

checks:     dw 0
fails:      db 0

msg_hello:    db 'FD floppy boot test, boot drive ', 0
msg_params:   db 'FD AH=08h', 0
msg_type:     db ' type=', 0
msg_cyl:      db ' maxcyl=', 0
msg_spt:      db ' spt=', 0
msg_heads:    db ' maxhead=', 0
msg_drives:   db ' drives=', 0
msg_dtype:    db 'FD AH=15h type=', 0
msg_track:    db 'FD read C1 H1 S1-18', 0
msg_last:     db 'FD read C79 H1 S18', 0
msg_cross:    db 'FD read 9 sectors across a 64K boundary', 0
msg_reset:    db 'FD AH=00h', 0
msg_bad:      db ' read S19', 0
msg_write:    db 'FD write C2 H1 S11', 0
msg_readback: db ' readback', 0
msg_left:     db ' unmatched=', 0
msg_wp:       db ' (write refused)', 0
msg_status:   db ' st=', 0
msg_cf:       db ' CF', 0
msg_data_ok:  db ' data ok', 0
msg_data_bad: db ' data BAD word=', 0
msg_failmark: db ' <-FAIL', 0
msg_checks:   db 'FD checks: ', 0
msg_pass:     db 'FD PASS', 0
msg_fail:     db 'FD FAIL ', 0
msg_crlf:     db 13, 10, 0

        times 512 * (1 + STAGE2_LEN) - ($ - $$) db 0

; Every other sector: its LBA in each word.
%assign lba 1 + STAGE2_LEN
%rep 2880 - 1 - STAGE2_LEN
        times 256 dw lba
%assign lba lba + 1
%endrep
