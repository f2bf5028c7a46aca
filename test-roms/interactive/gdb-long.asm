; gdb-long.asm - a long-mode fixture for the GDB stub tests (run with
; --cpu qemu64).
;
; Real mode from the reset vector, then flat 32-bit protected mode, then
; IA-32e mode: 4-level page tables at 0x1000 map the first 2 MiB twice,
; at linear 0 (identity) and at HIGH = 0xFFFF_8000_0000_0000 (PML4 entry
; 256). The 64-bit code jumps to its upper-half alias, sets RAX, RBX, R15
; to known values, stores RAX at 0x5000 and exits through port 0xF4 with
; the byte at 0x5100 (zeroed first, so a debugger that writes it changes
; the exit status) plus the low and high dwords of XMM1 (zero unless a
; debugger wrote XMM1). Before that, with CR4.OSFXSR set, the 64-bit code
; loads XMM0 = {1.5, -2.0, 3.25, 100.0} (single), XMM9 = the quadwords
; 0x1122334455667788, 0x99AABBCCDDEEFF00 and MXCSR = 0x9FA0 (FZ, PE, all
; masked). No interrupts, no device but port 0xF4. Code lives at
; fixed offsets so the tests can name its addresses:
;
;   0xF0100                pm_entry   first 32-bit instruction
;   0xF0140                lm_entry   first 64-bit instruction (low alias)
;   0xFFFF8000000F0180     hi_entry   first instruction in the upper half
;   0xFFFF8000000F01C0     hi_bp      mov rcx, ... (after RAX/R15 are set)
;
; Build: nasm -f bin -o gdb-long.bin gdb-long.asm

        bits    16
        org     0                       ; offsets within segment F000

LIN     equ     0xF0000                 ; linear address of this ROM's low alias
HIGH    equ     0xFFFF800000000000      ; the upper-half alias of physical 0
PML4    equ     0x1000
PDPT    equ     0x2000
PD      equ     0x3000
STORE   equ     0x5000
EXITVAL equ     0x5100

start:
        cli
        xor     ax, ax
        mov     ds, ax
        mov     es, ax
        mov     ss, ax
        mov     sp, 0x7000
        ; Zero the tables and the data page (0x1000-0x5FFF).
        mov     di, PML4
        xor     eax, eax
        mov     cx, 0x1400
        cld
        rep     stosd
        mov     dword [PML4], PDPT | 3              ; linear 0 ...
        mov     dword [PML4 + 256 * 8], PDPT | 3    ; ... and HIGH
        mov     dword [PDPT], PD | 3
        mov     dword [PD], 0x83                    ; 2 MiB page at 0, RW
        o32 lgdt [cs:gdt_desc]
        mov     eax, cr0
        or      al, 1
        mov     cr0, eax
        jmp     dword 0x08:(LIN + pm_entry)

        align   8
gdt:    dq      0
        dq      0x00CF9A000000FFFF      ; 0x08: flat 32-bit code
        dq      0x00CF92000000FFFF      ; 0x10: flat data
        dq      0x00AF9A000000FFFF      ; 0x18: 64-bit code
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
        mov     eax, cr4
        or      eax, 0x20               ; PAE
        mov     cr4, eax
        mov     eax, PML4
        mov     cr3, eax
        mov     ecx, 0xC0000080         ; EFER
        rdmsr
        or      eax, 0x100              ; LME
        wrmsr
        mov     eax, cr0
        or      eax, 0x80000000         ; PG: IA-32e mode
        mov     cr0, eax
        jmp     0x18:(LIN + lm_entry)

        bits    64
        times   0x140 - ($ - $$) db 0x90
lm_entry:
        mov     rax, cr4
        or      eax, 0x200              ; OSFXSR
        mov     cr4, rax
        movdqu  xmm0, [rel xmm0_val]
        movdqu  xmm9, [rel xmm9_val]
        ldmxcsr [rel mxcsr_val]
        mov     rax, HIGH + LIN + hi_entry
        jmp     rax

        times   0x180 - ($ - $$) db 0x90
hi_entry:
        mov     rsp, HIGH + 0x7000
        mov     rax, 0x1122334455667788
        mov     rbx, STORE
        mov     [rbx], rax
        mov     r15, 0xFEDCBA9876543210
        jmp     hi_bp

        times   0x1C0 - ($ - $$) db 0x90
hi_bp:
        mov     rcx, 0x0123456789ABCDEF
        mov     al, [EXITVAL]
        movd    ecx, xmm1
        add     al, cl
        psrldq  xmm1, 12
        movd    ecx, xmm1
        add     al, cl
        out     0xF4, al
        hlt

        align   16
xmm0_val:
        dd      1.5, -2.0, 3.25, 100.0
xmm9_val:
        dq      0x1122334455667788, 0x99AABBCCDDEEFF00
mxcsr_val:
        dd      0x9FA0

        bits    16
        times   0xFFF0 - ($ - $$) db 0xFF
reset:  jmp     0xF000:start
        times   0x10000 - ($ - $$) db 0xFF
