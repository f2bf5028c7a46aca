; debug.asm - debug exceptions: single-step, INT1, DR0-DR3 breakpoints, DR6/DR7.
;
; References: Intel SDM Vol.3 chapter 17 (17.2 debug registers: DR6 bit
; layout B0-B3/BD/BS/BT and its fixed bits, DR7 L/G, R/W and LEN fields;
; 17.3.1 fault-class instruction breakpoints and trap-class data
; breakpoints and single-step; 17.3.1.1 RF: "the processor ignores
; instruction breakpoints when RF is set", typically set by the handler in the
; EFLAGS image it IRETs to; 17.2.4 GD general-detect), Vol.3 6.8.3 (MOV SS /
; POP SS suppress debug exceptions until after the next instruction), Vol.2
; INT1 (F1) / Vol.3 Table 9-1 (DR6=FFFF0FF0H, DR7=400H at reset).
;
; A #DB hook records, for each debug exception, the saved EIP and DR6, then
; clears DR6 (its status bits are sticky) and optionally sets RF, clears TF or
; clears DR7 in the frame.  Each test prints the list of (EIP, DR6&E00Fh).

%define ROM_TITLE "debug: single-step, INT1, DR0-DR3 breakpoints, RF, MOV SS shadow"
%include "rom.inc"
%include "desc.inc"
%include "lib16.inc"
%include "pm32.inc"

DB_N    equ     0xB00           ; number of #DB recorded
DB_MODE equ     0xB04           ; 1: set RF  2: clear TF  4: clear DR7
DB_EIPS equ     0xB10
DB_DR6S equ     0xB50
DATA    equ     0x3000          ; watched data (aligned)

M_RF    equ     1
M_NOTF  equ     2
M_NODR7 equ     4

; DBARM mode - reset the record list
%macro DBARM 1
        mov     dword [DB_N], 0
        mov     dword [DB_MODE], %1
        mov     dword [EXC_HOOK], db_hook
        mov     dword [EXC_RESUME], 0
%endmacro

; DBCHECK 'label', n, eip1, dr6_1, eip2, dr6_2, ...  (dr6 -1 = not checked)
%macro DBCHECK 2-*
        PRINT32 %1, ' ->'
        call    db_check
        dd      %2
  %rep (%0 - 2) / 2
    %rotate 2
        dd      %1, %2
  %endrep
%endmacro

%macro TF_ON 0
        pushfd
        or      dword [esp], 0x100
        popfd
%endmacro

pm_main:
        ; --- reset values and fixed bits (SDM Table 9-1, 17.2.3/17.2.4)
        mov     eax, dr6
        CHECK32 'dr6 at reset', 32, 0xFFFF0FF0
        mov     eax, dr7
        CHECK32 'dr7 at reset', 32, 0x00000400
        xor     eax, eax
        mov     dr6, eax
        mov     eax, dr6
        CHECK32 'mov dr6,0 reads back', 32, 0xFFFF0FF0
        xor     eax, eax
        mov     dr7, eax
        mov     eax, dr7
        CHECK32 'mov dr7,0 reads back', 32, 0x00000400
        mov     eax, 0x12345678
        mov     dr0, eax
        mov     eax, dr0
        CHECK32 'dr0 write/read', 32, 0x12345678

        ; --- single-step (trap after each instruction executed with TF=1;
        ; POPF that sets TF is not trapped, the one that clears it is)
        DBARM   0
        TF_ON
        nop
.s2:    mov     eax, 1
.s3:    jmp     .s5
        nop
.s5:    pushfd
.s6:    and     dword [esp], ~0x100
.s7:    popfd
.s8:    DBCHECK 'tf single-step: nop, mov, jmp, pushfd, and, popfd', 6, .s2, 0x4000, .s3, 0x4000, .s5, 0x4000, .s6, 0x4000, .s7, 0x4000, .s8, 0x4000

        ; --- MOV SS inhibits the single-step trap of that instruction; the
        ; next one traps.  The handler clears TF at the first trap.
        DBARM   M_NOTF
        mov     ax, ss
        TF_ON
        mov     ss, ax
.m2:    nop
.m3:    nop
        DBCHECK 'tf: mov ss,ax; nop -> first trap after the nop', 1, .m3, 0x4000
        DBARM   M_NOTF
        mov     ax, ds
        TF_ON
        mov     ds, ax
.d2:    nop
        DBCHECK 'tf: mov ds,ax; nop -> first trap after mov ds', 1, .d2, 0x4000
        DBARM   M_NOTF
        push    ss
        TF_ON
        pop     ss
.p2:    nop
.p3:    nop
        DBCHECK 'tf: pop ss; nop -> first trap after the nop', 1, .p3, 0x4000

%ifdef QEMU_DIVERGENT
        ; --- INT1 / ICEBP (F1): #DB trap, EIP after it (SDM Vol.2 "INT n/
        ; INTO/INT3/INT1").  QEMU 7.2 raises #UD for F1 here; Bochs 2.7
        ; delivers the #DB.  Only assembled with -DQEMU_DIVERGENT.
        DBARM   0
        db      0xF1
.i1:    DBCHECK 'int1 (f1): trap, eip after', 1, .i1, -1
%endif
        ; INT 1 (CD 01) is an ordinary software interrupt to vector 1
        DBARM   0
        int     1
.i2:    DBCHECK 'int 1 (cd 01): eip after', 1, .i2, -1

        ; --- instruction breakpoint DR0 (fault: EIP = the instruction, before
        ; it executes); the handler sets RF so the IRET-ed instruction runs
        DBARM   M_RF
        mov     eax, .x1
        mov     dr0, eax
        mov     eax, 0x00000001         ; L0, R/W0=00 (execute), LEN0=00
        mov     dr7, eax
        xor     ecx, ecx
        xor     ebx, ebx
.x1:    inc     ecx
        inc     ebx
        cmp     ebx, 2
        jb      .x1                     ; run .x1 twice: two breakpoints
        xor     eax, eax
        mov     dr7, eax
        DBCHECK 'dr0 exec bp, RF set by handler, loop x2', 2, .x1, 0x0001, .x1, 0x0001
        mov     eax, ecx
        CHECK32 '    instruction executed (count)', 32, 2
        ; without RF the handler must disable the breakpoint instead
        DBARM   M_NODR7
        mov     eax, .x2
        mov     dr0, eax
        mov     eax, 0x00000002         ; G0
        mov     dr7, eax
        xor     ecx, ecx
.x2:    inc     ecx
        DBCHECK 'dr0 exec bp (G0), handler clears dr7', 1, .x2, 0x0001
        mov     eax, ecx
        CHECK32 '    instruction executed once', 32, 1
        ; DR1, DR2, DR3 on three consecutive instructions
        DBARM   M_RF
        mov     eax, .y1
        mov     dr1, eax
        mov     eax, .y2
        mov     dr2, eax
        mov     eax, .y3
        mov     dr3, eax
        mov     eax, 0x04 | 0x10 | 0x40 ; L1 L2 L3, all execute/len 1
        mov     dr7, eax
.y1:    nop
.y2:    nop
.y3:    nop
        xor     eax, eax
        mov     dr7, eax
        DBCHECK 'dr1/dr2/dr3 exec bps', 3, .y1, 0x0002, .y2, 0x0004, .y3, 0x0008
        ; an enabled-looking address with L0=G0=0 does nothing
        DBARM   0
        mov     eax, .z1
        mov     dr0, eax
        mov     eax, 0x4                ; only L1 (DR1 points elsewhere)
        mov     dr7, eax
.z1:    nop
        xor     eax, eax
        mov     dr7, eax
        DBCHECK 'dr0 set but not enabled', 0

        ; --- data breakpoints (trap: EIP after the accessing instruction)
        ; DR0: write, LEN=1 at DATA+1
        DBARM   0
        mov     eax, DATA + 1
        mov     dr0, eax
        mov     eax, 0x00010001         ; L0, R/W0=01 write, LEN0=00
        mov     dr7, eax
        mov     byte [DATA + 1], 1
.w1:    mov     byte [DATA + 2], 1      ; outside: no hit
        mov     al, [DATA + 1]          ; read: no hit for R/W=01
        mov     dword [DATA], 0         ; dword covering DATA+1: hit
.w2:    xor     eax, eax
        mov     dr7, eax
        DBCHECK 'dr0 write len1: byte hit, miss, read, dword overlap', 2, .w1, 0x0001, .w2, 0x0001
        ; DR1: read/write, LEN=2 at DATA+4
        DBARM   0
        mov     eax, DATA + 4
        mov     dr1, eax
        mov     eax, 0x00700004         ; L1, R/W1=11 (rw), LEN1=01 (2 bytes)
        mov     dr7, eax
        mov     al, [DATA + 5]          ; read inside: hit
.r1:    mov     al, [DATA + 6]          ; outside
        mov     al, [DATA + 3]          ; outside
        mov     word [DATA + 3], 0      ; bytes 3-4: overlaps -> hit
.r2:    xor     eax, eax
        mov     dr7, eax
        DBCHECK 'dr1 rw len2: read hit, 2 misses, word overlap', 2, .r1, 0x0002, .r2, 0x0002
        ; DR2: read/write, LEN=4 at DATA+8
        DBARM   0
        mov     eax, DATA + 8
        mov     dr2, eax
        mov     eax, 0x0F000010         ; L2, R/W2=11, LEN2=11 (4 bytes)
        mov     dr7, eax
        mov     ax, [DATA + 10]         ; hit
.q1:    mov     eax, [DATA + 12]        ; miss
        mov     eax, [DATA + 4]         ; miss
        xor     eax, eax
        mov     dr7, eax
        DBCHECK 'dr2 rw len4: word read hit, two dword misses', 1, .q1, 0x0004
        ; DR3: write, LEN=4
        DBARM   0
        mov     eax, DATA + 16
        mov     dr3, eax
        mov     eax, 0xD0000040         ; L3, R/W3=01, LEN3=11
        mov     dr7, eax
        mov     eax, [DATA + 16]        ; read: miss
        mov     dword [DATA + 16], 5    ; hit
.v1:    xor     eax, eax
        mov     dr7, eax
        DBCHECK 'dr3 write len4: read miss, write hit', 1, .v1, 0x0008

%ifdef QEMU_DIVERGENT
        ; --- general detect: MOV DR with DR7.GD=1 faults before executing,
        ; DR6.BD=1, and GD is cleared on entry to the handler (17.2.4).
        ; QEMU 7.2 does not implement DR7.GD (no fault); Bochs 2.7 does.
        ; Only assembled with -DQEMU_DIVERGENT.
        DBARM   0
        mov     eax, 0x2400             ; GD
        mov     dr7, eax
.g1:    mov     eax, dr0                ; #DB (fault), then retried
        DBCHECK 'dr7.gd: mov eax,dr0 faults', 1, .g1, 0x2000
        mov     eax, dr7
        and     eax, 0x2000
        CHECK32 '    gd cleared by the #DB', 32, 0
%endif

        mov     dword [EXC_HOOK], 0
        ret

; #DB hook (see pm32.inc): record EIP and DR6, clear DR6
db_hook:
        cmp     dword [EXC_VEC], 1
        jne     .ret
        mov     ebx, [DB_N]
        cmp     ebx, 16
        jae     .full
        mov     eax, [EXC_EIP]
        mov     [DB_EIPS + ebx*4], eax
        mov     eax, dr6
        mov     [DB_DR6S + ebx*4], eax
        inc     dword [DB_N]
.full:  xor     eax, eax
        mov     dr6, eax
        test    byte [DB_MODE], M_RF
        jz      .n1
        or      dword [esi + F_EFL], 0x10000
.n1:    test    byte [DB_MODE], M_NOTF
        jz      .n2
        and     dword [esi + F_EFL], ~0x100
.n2:    test    byte [DB_MODE], M_NODR7
        jz      .ret
        xor     eax, eax
        mov     dr7, eax
.ret:   ret

; db_check: inline data after the CALL: dd n, then n pairs (eip, dr6|-1).
; Prints " n=<count>" and " @eip dr6=xxxx" per recorded exception; checks
; the count and every pair (DR6 compared after masking with E00Fh).
db_check:
        pushad
        mov     ebp, [esp+32]           ; -> inline data
        mov     dword [EXC_HOOK], 0
        PRINT32 ' n='
        mov     eax, [DB_N]
        mov     cl, 8
        call    p_hex8
        mov     ebx, [ebp]
        call    p_chk
        xor     edi, edi
.l:     cmp     edi, [DB_N]
        jae     .done
        cmp     edi, 16
        jae     .done
        PRINT32 ' @'
        mov     eax, [DB_EIPS + edi*4]
        mov     cl, 32
        call    p_hex32
        xor     ebx, ebx
        cmp     edi, [ebp]
        jae     .cmp1
        mov     ebx, [ebp + 4 + edi*8]
.cmp1:  call    p_chk
        cmp     edi, [ebp]
        jae     .pdr6
        cmp     dword [ebp + 8 + edi*8], -1
        je      .next
.pdr6:  PRINT32 ' dr6='
        mov     eax, [DB_DR6S + edi*4]
        and     eax, 0xE00F
        mov     cl, 16
        call    p_hex16
        xor     ebx, ebx
        cmp     edi, [ebp]
        jae     .cmp2
        mov     ebx, [ebp + 8 + edi*8]
.cmp2:  call    p_chk
.next:  inc     edi
        jmp     .l
.done:  call    p_nl
        mov     eax, [ebp]
        lea     eax, [ebp + 4 + eax*8]
        mov     [esp+32], eax           ; return past the data
        popad
        ret
