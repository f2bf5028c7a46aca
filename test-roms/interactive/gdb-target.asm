; gdb-target.asm - a fixture for the debugger tests (GDB stub, debug --batch,
; the TUI).
;
; Real mode from the reset vector: prints "DEBUG TARGET READY" on COM1,
; then enters flat 32-bit protected mode, calls a small function, stores
; EAX to 0x2000 (a watchpoint target) and exits through port 0xF4 with the
; byte at 0x2100 (zeroed first, so a debugger that writes it changes the
; exit status). Polled, no interrupts, no paging. Code lives at fixed
; offsets so the tests can name its addresses:
;
;   F000:0040  rm_mark    real mode, after the banner (linear 0xF0040)
;   0xF0100    pm_entry   first 32-bit instruction (CS base 0)
;   0xF0140    pm_bp      mov eax, 0x12345678
;   0xF0180    func       inc ebx / ret
;
; Build: nasm -f bin -o gdb-target.bin gdb-target.asm

        bits    16
        org     0                       ; offsets within segment F000

COM1    equ     0x3F8
LIN     equ     0xF0000                 ; linear address of this ROM's low alias
WATCHED equ     0x2000
EXITVAL equ     0x2100

start:
        cli
        xor     ax, ax
        mov     ds, ax
        mov     ss, ax
        mov     sp, 0x7000
        mov     si, banner
.print:
        mov     al, [cs:si]
        test    al, al
        jz      .done
        call    putc
        inc     si
        jmp     .print
.done:
        jmp     rm_mark

        times   0x40 - ($ - $$) db 0x90
rm_mark:
        mov     word [0x600], 0x1234
        o32 lgdt [cs:gdt_desc]
        mov     eax, cr0
        or      al, 1
        mov     cr0, eax
        jmp     dword 0x08:(LIN + pm_entry)

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

banner: db      "DEBUG TARGET READY", 13, 10, 0

        align   8
gdt:    dq      0
        dq      0x00CF9A000000FFFF      ; 0x08: flat 32-bit code
        dq      0x00CF92000000FFFF      ; 0x10: flat data
gdt_desc:
        dw      gdt_desc - gdt - 1
        dd      LIN + gdt

        bits    32
        times   0x100 - ($ - $$) db 0x90
pm_entry:
        mov     ax, 0x10
        mov     ds, ax
        mov     es, ax
        mov     ss, ax
        mov     esp, 0x7000
        mov     dword [WATCHED], 0
        mov     byte [EXITVAL], 0
        jmp     pm_bp

        times   0x140 - ($ - $$) db 0x90
pm_bp:
        mov     eax, 0x12345678
        mov     ebx, 1
        call    func
        mov     [WATCHED], eax
        add     ebx, 2
        mov     al, [EXITVAL]
        out     0xF4, al
        hlt

        times   0x180 - ($ - $$) db 0x90
func:
        inc     ebx
        ret

        bits    16
        times   0xFFF0 - ($ - $$) db 0xFF
reset:  jmp     0xF000:start
        times   0x10000 - ($ - $$) db 0xFF
