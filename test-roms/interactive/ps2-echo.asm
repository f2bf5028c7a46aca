; ps2-echo.asm - an interactive fixture for the display front ends' input
; tests: what the keyboard and the mouse send, as text on COM1.
;
; Programs the i8042 directly (no BIOS): command byte 0x44 (system flag,
; set 2 to set 1 translation, both IRQs off), the auxiliary (mouse) port
; enabled (0xA8), data reporting on for the keyboard and the mouse (0xF4,
; the mouse's through 0xD4). Prints "PS2 READY", then every byte the
; controller delivers, one a line: "K1E" for a keyboard byte (set 1 after
; translation), "M09" for a mouse byte (status register bit 5, AUX, tells
; which device sent it). Polled: no interrupts. Runs in real mode from the
; ROM's low alias with its stack at the top of segment 0.
;
; Build: nasm -f bin -o ps2-echo.bin ps2-echo.asm

        bits    16
        org     0                       ; offsets within segment F000

COM1    equ     0x3F8
KBC_DATA equ    0x60
KBC_STATUS equ  0x64                    ; read: status; write: command
ST_OBF  equ     0x01                    ; output buffer full
ST_IBF  equ     0x02                    ; input buffer full
ST_AUX  equ     0x20                    ; the output byte is the mouse's
CMD_WRITE_RAM equ 0x60                  ; next data byte: command byte
CMD_AUX_ENABLE equ 0xA8
CMD_WRITE_AUX equ 0xD4                  ; next data byte: to the mouse
CMDBYTE equ     0x44                    ; SYS | XLAT, IRQs off, clocks on
DEV_ENABLE equ  0xF4                    ; device command: enable reporting

start:
        cli
        xor     ax, ax
        mov     ss, ax
        xor     sp, sp
        mov     ax, cs
        mov     ds, ax
        ; COM1: 8N1, divisor 1, FIFO on
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
        ; The controller.
        mov     al, CMD_WRITE_RAM
        call    kbc_cmd
        mov     al, CMDBYTE
        call    kbc_data
        mov     al, CMD_AUX_ENABLE
        call    kbc_cmd
        mov     al, DEV_ENABLE          ; keyboard: enable (acks 0xFA)
        call    kbc_data
        call    drain
        mov     al, CMD_WRITE_AUX
        call    kbc_cmd
        mov     al, DEV_ENABLE          ; mouse: enable reporting (acks 0xFA)
        call    kbc_data
        call    drain
        mov     si, banner
        call    puts
.loop:
        in      al, KBC_STATUS
        test    al, ST_OBF
        jz      .loop
        mov     ah, al
        in      al, KBC_DATA
        mov     bl, 'K'
        test    ah, ST_AUX
        jz      .print
        mov     bl, 'M'
.print:
        xchg    al, bl
        call    putc
        mov     al, bl
        call    hex
        mov     al, 13
        call    putc
        mov     al, 10
        call    putc
        jmp     .loop

; Waits until the controller can take a byte.
kbc_wait:
        push    ax
.w:     in      al, KBC_STATUS
        test    al, ST_IBF
        jnz     .w
        pop     ax
        ret

kbc_cmd:                                ; AL = controller command
        call    kbc_wait
        out     KBC_STATUS, al
        ret

kbc_data:                               ; AL = data byte
        call    kbc_wait
        out     KBC_DATA, al
        ret

; Reads the one byte a device command answers (its ACK) and drops it.
drain:
        in      al, KBC_STATUS
        test    al, ST_OBF
        jz      drain
        in      al, KBC_DATA
        ret

hex:                                    ; AL = byte, printed as 2 hex digits
        push    ax
        shr     al, 4
        call    nibble
        pop     ax
        and     al, 0x0F
nibble:
        add     al, '0'
        cmp     al, '9'
        jbe     putc
        add     al, 'A' - '0' - 10
putc:                                   ; AL = byte
        push    dx
        push    ax
        mov     dx, COM1 + 5
.t:     in      al, dx
        test    al, 0x20
        jz      .t
        pop     ax
        mov     dx, COM1
        out     dx, al
        pop     dx
        ret

puts:                                   ; DS:SI = zero-terminated string
        lodsb
        test    al, al
        jz      .e
        call    putc
        jmp     puts
.e:     ret

banner: db      "PS2 READY", 13, 10, 0

        times   0xFFF0 - ($ - $$) db 0xFF
reset:  jmp     0xF000:start
        times   0x10000 - ($ - $$) db 0xFF
