; v86.asm - virtual-8086 mode.
;
; References: Intel SDM Vol.3 chapter 20 (20.2.1 entering V86 through IRET
; with EFLAGS.VM=1 from a 32-bit CPL 0 task; 20.2.7 sensitive instructions:
; CLI, STI, PUSHF, POPF, INT n, IRET are IOPL-sensitive and raise #GP(0) when
; IOPL < 3; 20.2.8.1 IN/OUT are checked against the I/O permission bitmap
; only, whatever the IOPL; 20.3.1.1 INT n with IOPL=3 (and INT3 always) goes
; through the protected-mode IDT: the gate's DPL must be 3, the handler runs
; at CPL 0 on SS0:ESP0 with the frame GS, FS, DS, ES, SS, ESP, EFLAGS, CS,
; EIP and DS/ES/FS/GS are loaded with null selectors; IRET returns to V86),
; and Vol.2 POPF (in V86 with IOPL=3, IOPL is not changed).
;
; The V86 code is ordinary 16-bit code in the ROM (CS=F000) that prints with
; the 16-bit library (OUT E9h is allowed by the all-zero I/O bitmap, except
; port 80h which is denied).  Each V86 session ends with HLT at v86_done,
; which raises #GP(0); the #GP hook recognises it and returns to ring 0.

%define ROM_TITLE "v86: virtual-8086 mode, IOPL-sensitive instructions, INT n frames, I/O bitmap"
%include "rom.inc"
%include "desc.inc"
%include "lib16.inc"
%include "pm32.inc"

V86_SS  equ     0x8000
V86_SP  equ     0xF000
H_BASE  equ     0xA00           ; INT 60h handler records (11 dwords)
H_ESP0  equ     0xA00           ; ESP at handler entry
H_SEGS  equ     0xA04           ; DS, ES, FS, GS at handler entry (words)
H_FRAME equ     0xA10           ; EIP CS EFLAGS ESP SS ES DS FS GS

; ---------------------------------------------------------------- ring 0
pm_main:
        ; INT 60h: 32-bit interrupt gate, DPL3, to v86_int60
        mov     ecx, 0x60
        mov     eax, v86_int60
        mov     bl, 0xEE
        call    set_gate
        ; INT 61h: DPL0 gate (same handler)
        mov     ecx, 0x61
        mov     bl, 0x8E
        call    set_gate
        or      byte [TSS_ADDR + 0x68 + 0x10], 1        ; deny port 80h
        mov     dword [EXC_HOOK], v86_hook

        PRINTLN32 "entering v86 with iopl=3"
        mov     eax, 0x00023002         ; VM | IOPL=3
        mov     edx, v86_iopl3
        call    v86_call
        PRINTLN32 "back in ring 0"
        PRINTLN32 "entering v86 with iopl=0"
        mov     eax, 0x00020002         ; VM, IOPL=0
        mov     edx, v86_iopl0
        call    v86_call
        PRINTLN32 "back in ring 0"
        mov     dword [EXC_HOOK], 0
        ret

; v86_call: EAX = EFLAGS image (VM set), DX = IP in segment F000.  Enters
; V86 by IRETD (SDM 20.2.1) with SS:SP = 8000:F000, DS=ES=FS=GS=0.
v86_call:
        pushad
        mov     [R3_ESP], esp
        push    dword 0                 ; GS
        push    dword 0                 ; FS
        push    dword 0                 ; DS
        push    dword 0                 ; ES
        push    dword V86_SS            ; SS
        push    dword V86_SP            ; ESP
        push    eax                     ; EFLAGS
        push    dword 0xF000            ; CS
        movzx   edx, dx
        push    edx                     ; EIP
        iretd

; #GP hook: HLT at v86_done ends the V86 session
v86_hook:
        cmp     dword [EXC_VEC], 13
        jne     .ret
        test    dword [esi+F_EFL], 0x20000
        jz      .ret
        cmp     dword [esi+F_EIP], v86_done
        jne     .ret
        cmp     word [esi+F_CS], 0xF000
        jne     .ret
        jmp     ring3_return            ; restores the ring-0 stack/regs
.ret:   ret

; INT 60h/61h handler (ring 0).  Records ESP at entry, the segment registers
; as loaded by the CPU, and the 9-dword V86 frame; increments the frame's AX.
v86_int60:
        mov     [ss:H_ESP0], esp
        mov     [ss:H_SEGS], ds
        mov     [ss:H_SEGS+2], es
        mov     [ss:H_SEGS+4], fs
        mov     [ss:H_SEGS+6], gs
        push    eax
        push    ecx
        push    ds
        mov     ax, SEL_DATA0
        mov     ds, ax
        xor     ecx, ecx
.cp:    mov     eax, [esp + 12 + ecx*4]
        mov     [H_FRAME + ecx*4], eax
        inc     ecx
        cmp     ecx, 9
        jb      .cp
        pop     ds
        pop     ecx
        pop     eax
        inc     eax                     ; visible effect in V86
        iretd

; ---------------------------------------------------------------- V86 code
section .rm
bits 16

; VEXPECT resume - 16-bit twin of EXPECT (DS must be 0)
%macro VEXPECT 1
        mov     dword [EXC_VEC], 0xFFFFFFFF
        mov     dword [EXC_ERR], 0xFFFFFFFF
        mov     dword [EXC_EIP], 0
        mov     dword [EXC_RESUME], %1
%endmacro
; VSHOW 'label', vector, err, ip   (vector -1: none expected)
%macro VSHOW 4
        PRINT   %1, ' ->'
        push    dword %4
        push    dword %3
        push    dword %2
        call    vshow
%endmacro

vshow:
        push    bp
        mov     bp, sp
        pushad
        mov     eax, [EXC_VEC]
        cmp     eax, 0xFFFFFFFF
        jne     .some
        PRINT   ' none'
        mov     ebx, [bp+4]
        mov     cl, 32
        call    chk
        jmp     .done
.some:  PRINT   ' #'
        mov     cl, 8
        call    hex8
        mov     ebx, [bp+4]
        call    chk
        cmp     dword [bp+8], -1
        je      .noerr
        PRINT   ' err='
        mov     eax, [EXC_ERR]
        mov     cl, 16
        call    hex16
        mov     ebx, [bp+8]
        call    chk
.noerr: PRINT   ' ip='
        mov     eax, [EXC_EIP]
        mov     cl, 16
        call    hex16
        mov     ebx, [bp+12]
        call    chk
.done:  call    nl
        popad
        pop     bp
        ret     12

v86_done:
        hlt                             ; #GP -> back to ring 0

; --- IOPL = 3
v86_iopl3:
        PRINTLN "in v86 (iopl=3)"
        mov     ax, cs
        CHECK   'v86 cs', 16, 0xF000
        mov     ax, ss
        CHECK   'v86 ss', 16, V86_SS
        mov     eax, esp
        CHECK   'v86 esp', 32, V86_SP
        ; real-mode style addressing: 1234:0005 and 1000:2345 are 12345h
        mov     ax, 0x1234
        mov     es, ax
        mov     dword [es:0x0005], 0xA5A5F00D
        mov     ax, 0x1000
        mov     es, ax
        mov     eax, [es:0x2345]
        CHECK   'seg*16+off aliasing (1234:0005 = 1000:2345)', 32, 0xA5A5F00D
        xor     ax, ax
        mov     es, ax
        ; PUSHF shows IOPL=3; POPF cannot change IOPL in V86 (Vol.2 POPF)
        VEXPECT .pf_r
        pushf
        pop     ax
        and     ax, 0x3000
        CHECK   'iopl3: pushf iopl', 16, 0x3000
        push    word 0x0002
        popf
        pushf
        pop     ax
        and     ax, 0x3000
.pf_r:  CHECK   'iopl3: popf 0002 keeps iopl=3', 16, 0x3000
        VSHOW   '    no fault', -1, -1, 0
        ; CLI / STI allowed (STI immediately undone: no interrupt window)
        VEXPECT .c_r
        cli
        sti
        cli
.c_r:   VSHOW   'iopl3: cli/sti', -1, -1, 0
        ; IRET (16-bit) allowed: returns to the pushed CS:IP
        VEXPECT .ir_r
        pushf
        push    cs
        push    word .ir_t
        iret
        mov     ax, 0xDEAD              ; skipped
.ir_t:  mov     ax, 0x600D
.ir_r:  CHECK   'iopl3: iret to pushed cs:ip', 16, 0x600D
        VSHOW   '    no fault', -1, -1, 0
        ; INT 60h through the DPL3 gate: protected-mode handler at CPL 0
        mov     dword [H_BASE], 0
        mov     ax, 0x1111
        mov     bx, 0x2222
        mov     ds, bx
        mov     bx, 0x3333
        mov     es, bx
        mov     bx, 0x4444
        mov     fs, bx
        mov     bx, 0x5555
        mov     gs, bx
        int     0x60
.i60:   mov     bx, ds
        mov     cx, gs
        push    word 0
        pop     ds
        CHECK   'int 60h: ax incremented by the handler', 16, 0x1112
        movzx   eax, bx
        CHECK   '    ds restored by iret', 16, 0x2222
        movzx   eax, cx
        CHECK   '    gs restored by iret', 16, 0x5555
        mov     eax, [H_ESP0]
        CHECK   '    handler esp = esp0-36', 32, STACK0 - 36
        mov     eax, [H_SEGS]
        CHECK   '    handler ds,es (nulled)', 32, 0
        mov     eax, [H_SEGS+4]
        CHECK   '    handler fs,gs (nulled)', 32, 0
        mov     eax, [H_FRAME]
        CHECK   '    frame eip', 32, .i60
        mov     eax, [H_FRAME+4]
        CHECK   '    frame cs', 16, 0xF000
        mov     eax, [H_FRAME+8]
        and     eax, 0x00023000
        CHECK   '    frame eflags & (vm|iopl)', 32, 0x00023000
        mov     eax, [H_FRAME+12]
        CHECK   '    frame esp', 32, V86_SP
        mov     eax, [H_FRAME+16]
        CHECK   '    frame ss', 16, V86_SS
        mov     eax, [H_FRAME+20]
        CHECK   '    frame es', 16, 0x3333
        mov     eax, [H_FRAME+24]
        CHECK   '    frame ds', 16, 0x2222
        mov     eax, [H_FRAME+28]
        CHECK   '    frame fs', 16, 0x4444
        mov     eax, [H_FRAME+32]
        CHECK   '    frame gs', 16, 0x5555
        xor     ax, ax
        mov     es, ax
        mov     fs, ax
        mov     gs, ax
        ; INT 61h through a DPL0 gate: #GP(61h*8+2) even with IOPL=3
        VEXPECT .i61_r
.i61:   int     0x61
.i61_r: VSHOW   'iopl3: int 61h via dpl0 gate', 13, 0x61*8+2, .i61
        ; IN/OUT: bitmap decides even with IOPL=3
        VEXPECT .io_r
.io:    in      al, 0x80
.io_r:  VSHOW   'iopl3: in al,80h (denied in bitmap)', 13, 0, .io
        VEXPECT .io2_r
        in      al, 0x81
.io2_r: VSHOW   'iopl3: in al,81h (allowed)', -1, -1, 0
        jmp     v86_done

; --- IOPL = 0: the sensitive instructions fault with #GP(0)
%macro SENS 2+
        VEXPECT %%r
%%i:    %2
%%r:    VSHOW   %1, 13, 0, %%i
%endmacro
v86_iopl0:
        PRINTLN "in v86 (iopl=0)"
        SENS    'iopl0: cli', cli
        SENS    'iopl0: sti', sti
        SENS    'iopl0: pushf', pushf
        SENS    'iopl0: popf', popf
        SENS    'iopl0: int 60h', int 0x60
        SENS    'iopl0: iret', iret
        SENS    'iopl0: pushfd (o32)', pushfd
        mov     eax, esp
        CHECK   '    esp unchanged by the faulting pushes', 32, V86_SP
        ; INT3 is not IOPL-sensitive: it goes through the IDT, whose gate 3
        ; has DPL0 < CPL3 -> #GP(3*8+2)
        VEXPECT .b_r
.b:     int3
.b_r:   VSHOW   'iopl0: int3 via dpl0 gate', 13, 3*8+2, .b
        ; IN/OUT are not IOPL-sensitive in V86: only the bitmap matters
        VEXPECT .o_r
        mov     al, 0x2E
        out     0xE9, al
        mov     al, 10
        out     0xE9, al
.o_r:   VSHOW   'iopl0: out e9h (allowed by bitmap)', -1, -1, 0
        VEXPECT .o2_r
        mov     dx, 0x80
.o2:    out     dx, al
.o2_r:  VSHOW   'iopl0: out dx=80h (denied)', 13, 0, .o2
        ; the #GP frame came from V86: ESP/SS recorded by the handler
        mov     eax, [EXC_SS]
        CHECK   '    #GP frame ss', 16, V86_SS
        mov     eax, [EXC_ESP]
        CHECK   '    #GP frame esp', 32, V86_SP
        jmp     v86_done
