; sse.asm - MMX/SSE/SSE2: the operating-system side and a few results.
;
; References: Intel SDM Vol.3 13.1-13.4 (CR4.OSFXSR, CR4.OSXMMEXCPT, CR0.EM,
; CR0.TS and the #UD/#NM rules, Table 13-2/13-3 action of CR0/CR4 bits),
; Vol.1 9.5-9.6 (MMX registers aliasing the x87 registers: TOP = 0 and all
; tags valid after an MMX instruction, EMMS emptying the tags, pending x87
; exceptions reported before an MMX instruction), Vol.1 10.2.3 (MXCSR,
; reset value 1F80h), 11.5 (SIMD exceptions: unmasked -> #XM with
; OSXMMEXCPT, #UD without; destination unchanged), Vol.2 FXSAVE (Table
; 3-43 layout, MXCSR_MASK), LDMXCSR (#GP on reserved bits), MOVAPS/MOVDQA
; (#GP(0) on a misaligned 16-byte operand), CLFLUSH (#UD unless CPUID
; reports CLFSH: qemu32 does not).
;
; Every line prints what was observed and checks it against the SDM.

%define ROM_TITLE "sse: MMX/SSE/SSE2 controls, exceptions, FXSAVE, aliasing"
%include "rom.inc"
%include "desc.inc"
%include "lib16.inc"
%include "pm32.inc"

BUF     equ     0x20000                 ; 16-byte aligned scratch
FXA     equ     0x21000                 ; FXSAVE area

CR0_EM  equ     1 << 2
CR0_TS  equ     1 << 3
CR0_NE  equ     1 << 5
CR4_OSFXSR      equ 1 << 9
CR4_OSXMMEXCPT  equ 1 << 10

; NONE 'label': no exception expected since the last EXPECT
%macro NONE 1
        EXC_SHOW %1, 0xFFFFFFFF, -1, -1
%endmacro

pm_main:
        ; ------------------------------------------------------------ CPUID
        mov     eax, 1
        cpuid
        mov     eax, edx
        and     eax, (1 << 23) | (1 << 24) | (1 << 25) | (1 << 26) | (1 << 19)
        CHECK32 'cpuid.1 edx MMX FXSR SSE SSE2 (no CLFSH)', 32, 0x07800000
        mov     eax, cr0
        and     eax, ~(CR0_EM | CR0_TS)
        or      eax, CR0_NE | 2
        mov     cr0, eax
        fninit
        ; ------------------------------------------- CR4.OSFXSR = 0: #UD
        mov     eax, cr4
        CHECK32 'cr4 at reset', 32, 0
        EXPECT  .u1r
.u1:    movaps  xmm0, xmm1
.u1r:   EXC_SHOW 'movaps, OSFXSR=0', 6, -1, .u1
        EXPECT  .u2r
.u2:    stmxcsr [BUF]
.u2r:   EXC_SHOW 'stmxcsr, OSFXSR=0', 6, -1, .u2
        EXPECT  .u3r
        paddb   mm0, mm1
        emms
.u3r:   NONE    'paddb mm, emms, OSFXSR=0'
        ; --------------------------------------------------- OSFXSR = 1
        mov     eax, cr4
        or      eax, CR4_OSFXSR
        mov     cr4, eax
        stmxcsr [BUF]
        mov     eax, [BUF]
        CHECK32 'mxcsr at reset', 32, 0x1F80
%ifdef QEMU_DIVERGENT
        ; QEMU 7.2 loads reserved MXCSR bits without a fault.
        mov     dword [BUF], 0x10000
        EXPECT  .g1r
.g1:    ldmxcsr [BUF]
.g1r:   EXC_SHOW 'ldmxcsr 10000h', 13, 0, .g1
%endif
        mov     dword [BUF], 0xFFFF
        ldmxcsr [BUF]
        stmxcsr [BUF+4]
        mov     eax, [BUF+4]
        CHECK32 'ldmxcsr ffffh (DAZ writable)', 32, 0xFFFF
        mov     dword [BUF], 0x1F80
        ldmxcsr [BUF]
        ; --------------------------------------------------- CR0.TS, EM
        mov     eax, cr0
        or      eax, CR0_TS
        mov     cr0, eax
        EXPECT  .n1r
.n1:    movaps  xmm0, xmm1
.n1r:   EXC_SHOW 'movaps, TS=1', 7, -1, .n1
        EXPECT  .n2r
.n2:    paddb   mm0, mm1
.n2r:   EXC_SHOW 'paddb mm, TS=1', 7, -1, .n2
        EXPECT  .n3r
.n3:    ldmxcsr [BUF]
.n3r:   EXC_SHOW 'ldmxcsr, TS=1', 7, -1, .n3
        clts
        mov     eax, cr0
        or      eax, CR0_EM
        mov     cr0, eax
        EXPECT  .e1r
.e1:    movaps  xmm0, xmm1
.e1r:   EXC_SHOW 'movaps, EM=1', 6, -1, .e1
        EXPECT  .e2r
.e2:    paddb   mm0, mm1
.e2r:   EXC_SHOW 'paddb mm, EM=1', 6, -1, .e2
        EXPECT  .e3r
.e3:    fld1
.e3r:   EXC_SHOW 'fld1, EM=1', 7, -1, .e3
        mov     eax, cr0
        and     eax, ~CR0_EM
        mov     cr0, eax
        ; ------------------------------------------------- alignment
        mov     edi, BUF
        xor     eax, eax
.fill:  mov     [edi], al
        inc     edi
        inc     eax
        cmp     eax, 64
        jb      .fill
        EXPECT  .a1r
.a1:    movaps  xmm0, [BUF+8]
.a1r:   EXC_SHOW 'movaps xmm, [buf+8]', 13, 0, .a1
        EXPECT  .a2r
.a2:    movdqa  [BUF+4], xmm0
.a2r:   EXC_SHOW 'movdqa [buf+4], xmm', 13, 0, .a2
        EXPECT  .a3r
.a3:    paddd   xmm0, [BUF+1]
.a3r:   EXC_SHOW 'paddd xmm, [buf+1]', 13, 0, .a3
        EXPECT  .a4r
        movups  xmm0, [BUF+9]
        movdqu  [BUF+33], xmm0
        addss   xmm1, [BUF+3]
        movq    mm0, [BUF+5]
.a4r:   NONE    'movups/movdqu/addss/movq unaligned'
        mov     eax, [BUF+33]
        CHECK32 'movdqu copy, first dword', 32, 0x0C0B0A09
        mov     eax, [BUF+45]
        CHECK32 'movdqu copy, last dword', 32, 0x18171615
        movd    eax, mm0
        CHECK32 'movq mm0, [buf+5] low', 32, 0x08070605
        emms
        ; ------------------------------------ unmasked SIMD exception
        mov     dword [BUF], 0x3F800000         ; 1.0, 0, 0, 0
        mov     dword [BUF+4], 0
        mov     dword [BUF+8], 0
        mov     dword [BUF+12], 0
        movaps  xmm1, [BUF]
        mov     dword [BUF], 0x40000000         ; 2.0 x4
        mov     dword [BUF+4], 0x40000000
        mov     dword [BUF+8], 0x40000000
        mov     dword [BUF+12], 0x40000000
        movaps  xmm0, [BUF]
%ifdef QEMU_DIVERGENT
        ; QEMU 7.2 raises no SIMD exception (it stores the masked result).
        mov     dword [BUF+16], 0x1D80          ; ZM clear
        ldmxcsr [BUF+16]
        EXPECT  .x1r
.x1:    divps   xmm0, xmm1
.x1r:   EXC_SHOW 'divps x/0, ZM=0, OSXMMEXCPT=0', 6, -1, .x1
        stmxcsr [BUF+20]
        mov     eax, [BUF+20]
        CHECK32 '  mxcsr (ZE set)', 32, 0x1D84
        pshufd  xmm2, xmm0, 0xFF
        movd    eax, xmm2
        CHECK32 '  xmm0 lane 3 unchanged', 32, 0x40000000
        mov     eax, cr4
        or      eax, CR4_OSXMMEXCPT
        mov     cr4, eax
        EXPECT  .x2r
.x2:    divps   xmm0, xmm1
.x2r:   EXC_SHOW 'divps x/0, ZM=0, OSXMMEXCPT=1', 19, -1, .x2
        EXPECT  .x3r
.x3:    divss   xmm0, xmm1
.x3r:   NONE    'divss 2/1: no exception (flag ZE already set)'
        movd    eax, xmm0
        CHECK32 '  divss result', 32, 0x40000000
%endif
        mov     eax, cr4
        or      eax, CR4_OSXMMEXCPT
        mov     cr4, eax
        mov     dword [BUF+16], 0x1F80
        ldmxcsr [BUF+16]
        divps   xmm0, xmm1
        pshufd  xmm2, xmm0, 0xFF
        movd    eax, xmm2
        CHECK32 'divps masked: lane 3 = +inf', 32, 0x7F800000
        stmxcsr [BUF+20]
        mov     eax, [BUF+20]
        CHECK32 '  mxcsr', 32, 0x1F84
        ; ------------------------------------------------------ FXSAVE
        mov     edi, FXA
        mov     ecx, 512 / 4
        mov     eax, 0xA5A5A5A5
        rep stosd
        mov     dword [BUF], 0x11111111
        mov     dword [BUF+4], 0x22222222
        mov     dword [BUF+8], 0x33333333
        mov     dword [BUF+12], 0x44444444
        movdqa  xmm0, [BUF]
        pshufd  xmm7, xmm0, 0x1B
        mov     dword [BUF+16], 0x9FC0          ; FZ DAZ RN, all masked
        ldmxcsr [BUF+16]
        fninit
        fld1
        fxsave  [FXA]
        mov     eax, [FXA+24]
        CHECK32 'fxsave MXCSR', 32, 0x9FC0
        mov     eax, [FXA+28]
        CHECK32 'fxsave MXCSR_MASK', 32, 0xFFFF
        movzx   eax, byte [FXA+4]
        CHECK32 'fxsave FTW (ST0 in use)', 8, 0x80
        mov     eax, [FXA+160]
        CHECK32 'fxsave XMM0 dword 0', 32, 0x11111111
        mov     eax, [FXA+160+12]
        CHECK32 'fxsave XMM0 dword 3', 32, 0x44444444
        mov     eax, [FXA+160+7*16]
        CHECK32 'fxsave XMM7 dword 0', 32, 0x44444444
        mov     eax, [FXA+288]
        CHECK32 'fxsave byte 288 (XMM8) untouched', 32, 0xA5A5A5A5
        mov     eax, [FXA+508]
        CHECK32 'fxsave byte 508 untouched', 32, 0xA5A5A5A5
        pxor    xmm7, xmm7
        mov     dword [BUF+16], 0x1F80
        ldmxcsr [BUF+16]
        fxrstor [FXA]
        movd    eax, xmm7
        CHECK32 'fxrstor XMM7 dword 0', 32, 0x44444444
        stmxcsr [BUF+20]
        mov     eax, [BUF+20]
        CHECK32 'fxrstor MXCSR', 32, 0x9FC0
%ifdef QEMU_DIVERGENT
        ; QEMU 7.2 loads reserved MXCSR bits without a fault.
        mov     dword [FXA+24], 0x20000
        EXPECT  .f1r
.f1:    fxrstor [FXA]
.f1r:   EXC_SHOW 'fxrstor, MXCSR image 20000h', 13, 0, .f1
%endif
        EXPECT  .f2r
.f2:    fxsave  [FXA+8]
.f2r:   EXC_SHOW 'fxsave misaligned', 13, 0, .f2
        mov     dword [BUF+16], 0x1F80
        ldmxcsr [BUF+16]
        ; -------------------------------------------- MMX / x87 aliasing
        fninit
        fld1                                    ; TOP = 7, R7 = 1.0
        fnstsw  ax
        and     eax, 0x3800
        CHECK32 'fld1: TOP', 16, 0x3800
        movq    mm0, [BUF]                      ; 22222222_11111111
        fnstsw  ax
        and     eax, 0x3800
        CHECK32 'after movq mm0: TOP', 16, 0
        fxsave  [FXA]
        movzx   eax, byte [FXA+4]
        CHECK32 '  FTW (all valid)', 8, 0xFF
%ifdef QEMU_DIVERGENT
        ; QEMU 7.2 leaves the exponent bits alone (SDM: all ones).
        movzx   eax, word [FXA+32+8]
        CHECK32 '  ST0 = R0 exponent+sign', 16, 0xFFFF
%endif
        mov     eax, [FXA+32+4]
        CHECK32 '  ST0 = R0 significand high', 32, 0x22222222
        movq    mm1, mm7                        ; R7 = 1.0: 8000...0
        psrlq   mm1, 32
        movd    eax, mm1
        CHECK32 'mm7 = significand of 1.0 (high)', 32, 0x80000000
        emms
        fxsave  [FXA]
        movzx   eax, byte [FXA+4]
        CHECK32 'emms: FTW', 8, 0
        ; a pending unmasked x87 exception: #MF before an MMX instruction
        fninit
        mov     word [BUF+16], 0x037B           ; ZM clear
        fldcw   [BUF+16]
        fldz
        fld1
        fdiv    st0, st1                        ; 1/0: ZE pending
%ifdef QEMU_DIVERGENT
        ; QEMU 7.2 does not report a pending x87 exception before an MMX
        ; instruction.
        EXPECT  .m1r
.m1:    paddb   mm0, mm1
.m1r:   EXC_SHOW 'paddb mm with ZE pending', 16, -1, .m1
%endif
        EXPECT  .m2r
        movaps  xmm0, xmm1
.m2r:   NONE    'movaps with ZE pending'
        fnclex
        EXPECT  .m3r
        paddb   mm0, mm1
        emms
.m3r:   NONE    'paddb mm after fnclex'
        fninit
        ; ------------------------------------------------- CLFLUSH
        EXPECT  .c1r
.c1:    clflush [BUF]
.c1r:   EXC_SHOW 'clflush (no CLFSH)', 6, -1, .c1
        EXPECT  .c2r
        sfence
        lfence
        mfence
        movntdq [BUF], xmm0
        movnti  [BUF], eax
.c2r:   NONE    'fences, movntdq, movnti'
        ; ------------------------------------------- a few results
        ; strlen-style: pcmpeqb against zero + pmovmskb
        mov     dword [BUF], 'abcd'
        mov     dword [BUF+4], 'efgh'
        mov     dword [BUF+8], 0x006A6900       ; "\0ij\0"
        mov     dword [BUF+12], 'klmn'
        pxor    xmm1, xmm1
        movdqa  xmm0, [BUF]
        pcmpeqb xmm0, xmm1
        pmovmskb eax, xmm0
        CHECK32 'pcmpeqb/pmovmskb zero bytes', 16, 0x0900
        mov     eax, 1000000
        cvtsi2sd xmm0, eax
        sqrtsd  xmm0, xmm0
        cvttsd2si eax, xmm0
        CHECK32 'cvttsd2si(sqrt(1e6))', 32, 1000
        mov     dword [BUF], 0x4F000000         ; 2^31
        cvtss2si eax, [BUF]
        CHECK32 'cvtss2si 2^31: indefinite', 32, 0x80000000
        stmxcsr [BUF+20]
        mov     eax, [BUF+20]
        and     eax, 0x3F
        CHECK32 '  flags (IE)', 8, 0x01
        movdqa  xmm0, [BUF]
        psadbw  xmm0, xmm1
        movd    eax, xmm0
        CHECK32 'psadbw vs zero', 16, 0x01E9
        mov     eax, 0x7FFF8000
        movd    mm0, eax
        packsswb mm0, mm0
        movd    eax, mm0
        CHECK32 'packsswb 7fff,8000 (mmx)', 32, 0x00007F80
        emms
        ret
