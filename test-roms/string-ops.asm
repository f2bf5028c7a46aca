; string-ops.asm - real-mode string instruction conformance ROM.
;
; Covers MOVS/STOS/LODS/CMPS/SCAS in byte/word/dword sizes, DF=0 and DF=1,
; REP/REPE/REPNE including ECX=0 and early termination on (mis)match, 16- vs
; 32-bit address size (a32 prefix: ESI/EDI/ECX instead of SI/DI/CX), 16-bit
; offset wrap-around, segment overrides of the source, overlapping REP MOVSB
; and that data-movement string instructions leave the flags alone.
; References: Intel SDM Vol.2 MOVS/STOS/LODS/CMPS/SCAS and REP/REPE/REPNE.
;
; Memory: source buffer at DS=0x0100 (linear 0x1000), destination at
; ES=0x0200 (linear 0x2000).  Each check prints "label -> value" and compares
; it with the value the SDM requires.

%define PM_START 0xF000
%include "rom.inc"
%include "lib16.inc"

SRCSEG  equ     0x0100
DSTSEG  equ     0x0200

; CKR 'label', reg32, width, expected  (clobbers EAX)
%macro CKR 4
        mov     eax, %2
        CHECK   %1, %3, %4
%endmacro
; CKM 'label', size-keyword [es:off], width, expected
%macro CKM 3
        movzx   eax, byte %2
        CHECK   %1, 8, %3
%endmacro
%macro CKMW 3
        movzx   eax, word %2
        CHECK   %1, 16, %3
%endmacro
%macro CKMD 3
        mov     eax, dword %2
        CHECK   %1, 32, %3
%endmacro
; CKF 'label', expected arithmetic flags
%macro CKF 2
        pushfd
        pop     eax
        and     eax, 0x8D5
        CHECK   %1, 16, %2
%endmacro
%macro SETFL 1
        push    dword (%1) | 2
        popfd
%endmacro

start16:
        INIT16
        PRINTLN "string-ops: MOVS/STOS/LODS/CMPS/SCAS, REP prefixes, address size"
        call    movs_tests
        call    stos_lods_tests
        call    cmps_tests
        call    scas_tests
        call    addrsize_tests
        jmp     finish16

; init_bufs: src[i] = i+1 for i in 0..63, dst[0..63] = 0xEE, with plain MOVs
; (not string instructions), DS=SRCSEG, ES=DSTSEG, all index regs 0, DF=0.
init_bufs:
        mov     ax, SRCSEG
        mov     ds, ax
        mov     ax, DSTSEG
        mov     es, ax
        xor     bx, bx
.l:     lea     ax, [bx+1]
        mov     [bx], al
        mov     byte [es:bx], 0xEE
        inc     bx
        cmp     bx, 64
        jb      .l
        xor     esi, esi
        xor     edi, edi
        xor     ecx, ecx
        xor     eax, eax
        cld
        ret

movs_tests:
        ; single MOVS, DF=0: copy one element, both pointers advance by size
        call    init_bufs
        movsb
        CKR     'movsb df0 si', esi, 16, 1
        CKR     'movsb df0 di', edi, 16, 1
        CKM     'movsb df0 es:[0]', [es:0], 0x01
        CKM     'movsb df0 es:[1] untouched', [es:1], 0xEE
        call    init_bufs
        movsw
        CKR     'movsw df0 si', esi, 16, 2
        CKMD    'movsw df0 es:[0]', [es:0], 0xEEEE0201
        call    init_bufs
        movsd
        CKR     'movsd df0 di', edi, 16, 4
        CKMD    'movsd df0 es:[0]', [es:0], 0x04030201
        CKM     'movsd df0 es:[4] untouched', [es:4], 0xEE
        ; DF=1: pointers decrement by the element size (SDM: "the (E)SI and
        ; (E)DI registers are decremented")
        call    init_bufs
        mov     si, 10
        mov     di, 10
        std
        movsb
        CKR     'movsb df1 si', esi, 16, 9
        CKM     'movsb df1 es:[10]', [es:10], 0x0B
        mov     si, 10
        mov     di, 10
        movsw
        CKR     'movsw df1 di', edi, 16, 8
        CKMW    'movsw df1 es:[10]', [es:10], 0x0C0B
        mov     si, 8
        mov     di, 8
        movsd
        CKR     'movsd df1 si', esi, 16, 4
        CKMD    'movsd df1 es:[8]', [es:8], 0x0C0B0A09
        cld
        ; REP MOVS: CX elements, CX ends at 0
        call    init_bufs
        mov     cx, 5
        rep movsb
        CKR     'rep movsb x5 cx', ecx, 16, 0
        CKR     'rep movsb x5 si', esi, 16, 5
        CKR     'rep movsb x5 di', edi, 16, 5
        CKMD    'rep movsb x5 es:[0]', [es:0], 0x04030201
        CKMW    'rep movsb x5 es:[4]', [es:4], 0xEE05
        call    init_bufs
        mov     cx, 3
        rep movsw
        CKR     'rep movsw x3 di', edi, 16, 6
        CKMD    'rep movsw x3 es:[4]', [es:4], 0xEEEE0605
        call    init_bufs
        mov     si, 8
        mov     di, 8
        mov     cx, 2
        std
        rep movsd
        cld
        CKR     'rep movsd x2 df1 si', esi, 16, 0
        CKR     'rep movsd x2 df1 di', edi, 16, 0
        CKMD    'rep movsd x2 df1 es:[0]', [es:0], 0xEEEEEEEE
        CKMD    'rep movsd x2 df1 es:[4]', [es:4], 0x08070605
        CKMD    'rep movsd x2 df1 es:[8]', [es:8], 0x0C0B0A09
        CKMD    'rep movsd x2 df1 es:[12]', [es:12], 0xEEEEEEEE
        ; REP with CX=0 does nothing at all (SDM REP: "If the count is zero,
        ; the instruction is not executed")
        call    init_bufs
        mov     si, 3
        mov     di, 3
        rep movsb
        CKR     'rep movsb cx=0 si', esi, 16, 3
        CKR     'rep movsb cx=0 di', edi, 16, 3
        CKM     'rep movsb cx=0 es:[3]', [es:3], 0xEE
        ; a16: the count is CX, the upper half of ECX is left alone
        call    init_bufs
        mov     ecx, 0x00010002
        rep movsb
        CKR     'a16 rep movsb ecx=10002 ecx', ecx, 32, 0x00010000
        CKMD    'a16 rep movsb ecx=10002 es:[0]', [es:0], 0xEEEE0201
        ; string moves do not change the arithmetic flags
        call    init_bufs
        mov     cx, 4
        SETFL   0x8D5
        rep movsb
        CKF     'rep movsb flags kept (all set)', 0x8D5
        SETFL   0
        movsd
        CKF     'movsd flags kept (clear)', 0
        ; overlapping forward copy must behave element by element (propagates
        ; the first byte), whatever "fast string" optimisations exist
        call    init_bufs
        push    es
        pop     ds
        mov     byte [es:0], 0xA5
        mov     si, 0
        mov     di, 1
        mov     cx, 7
        rep movsb
        CKMD    'rep movsb overlap di=si+1 [0]', [es:0], 0xA5A5A5A5
        CKMD    'rep movsb overlap di=si+1 [4]', [es:4], 0xA5A5A5A5
        CKM     'rep movsb overlap di=si+1 [8]', [es:8], 0xEE
        ; segment override applies to the source (DS:SI -> FS:SI); the
        ; destination is always ES:DI
        call    init_bufs
        mov     ax, 0x0300              ; FS -> linear 0x3000
        mov     fs, ax
        mov     dword [fs:0], 0x5A5B5C5D
        fs movsd
        CKMD    'fs movsd (source FS:SI)', [es:0], 0x5A5B5C5D
        ret

stos_lods_tests:
        call    init_bufs
        mov     al, 0x77
        stosb
        CKR     'stosb di', edi, 16, 1
        CKMW    'stosb es:[0]', [es:0], 0xEE77
        call    init_bufs
        mov     ax, 0x1234
        mov     cx, 3
        rep stosw
        CKR     'rep stosw x3 di', edi, 16, 6
        CKR     'rep stosw x3 cx', ecx, 16, 0
        CKMD    'rep stosw x3 es:[0]', [es:0], 0x12341234
        CKMD    'rep stosw x3 es:[4]', [es:4], 0xEEEE1234
        call    init_bufs
        mov     eax, 0xCAFEF00D
        mov     di, 8
        mov     cx, 2
        std
        rep stosd
        cld
        CKR     'rep stosd x2 df1 di', edi, 16, 0
        CKMD    'rep stosd x2 df1 es:[4]', [es:4], 0xCAFEF00D
        CKMD    'rep stosd x2 df1 es:[8]', [es:8], 0xCAFEF00D
        CKMD    'rep stosd x2 df1 es:[0]', [es:0], 0xEEEEEEEE
        ; 16-bit DI wraps from FFFF to 0000 within the segment
        call    init_bufs
        mov     di, 0xFFFE
        mov     cx, 4
        mov     al, 0x99
        rep stosb
        CKR     'rep stosb di=fffe x4 wraps: di', edi, 32, 2
        CKMW    'rep stosb wrap es:[0]', [es:0], 0x9999
        CKMW    'rep stosb wrap es:[fffe]', [es:0xFFFE], 0x9999
        ; LODS: load, advance SI; DI untouched
        call    init_bufs
        mov     eax, 0xFFFFFFFF
        lodsb
        CKR     'lodsb eax', eax, 32, 0xFFFFFF01
        CKR     'lodsb si', esi, 16, 1
        mov     eax, 0xFFFFFFFF
        lodsw
        CKR     'lodsw ax', eax, 32, 0xFFFF0302
        lodsd
        CKR     'lodsd eax', eax, 32, 0x07060504
        CKR     'lodsd si', esi, 16, 7
        std
        lodsw
        cld
        CKR     'lodsw df1 ax', eax, 16, 0x0908
        CKR     'lodsw df1 si', esi, 16, 5
        mov     si, 0
        mov     cx, 3
        rep lodsb
        CKR     'rep lodsb x3 al (last)', eax, 8, 3
        CKR     'rep lodsb x3 si', esi, 16, 3
        ; ES override on LODS source
        mov     si, 0
        es lodsb
        CKR     'es lodsb', eax, 8, 0xEE
        ret

cmps_tests:
        ; CMPS computes [DS:SI] - [ES:DI] (SDM CMPS: "SRC1 - SRC2", SRC1 is
        ; the DS:(E)SI operand): 01 - 02 = FF -> SF AF PF CF
        call    init_bufs
        mov     byte [es:0], 0x02
        cmpsb
        CKF     'cmpsb 01-02 flags', 0x095
        CKR     'cmpsb si', esi, 16, 1
        CKR     'cmpsb di', edi, 16, 1
        ; make dst a copy of src for the REPE/REPNE tests (with MOVs)
        call    copy_src_to_dst
        mov     byte [es:3], 0x55       ; mismatch at index 3
        mov     cx, 8
        repe cmpsb
        CKF     'repe cmpsb stop at mismatch: flags (04-55)', 0x0095
        CKR     'repe cmpsb stop: cx (8-4)', ecx, 16, 4
        CKR     'repe cmpsb stop: si', esi, 16, 4
        CKR     'repe cmpsb stop: di', edi, 16, 4
        call    copy_src_to_dst
        mov     cx, 4
        repe cmpsw
        CKF     'repe cmpsw all equal: flags', 0x0044
        CKR     'repe cmpsw all equal: cx', ecx, 16, 0
        CKR     'repe cmpsw all equal: si', esi, 16, 8
        ; REPNE: stop at the first equal element
        call    init_bufs
        mov     byte [es:2], 0x03       ; src[2] = 3
        mov     cx, 8
        repne cmpsb
        CKF     'repne cmpsb stop at match: flags', 0x0044
        CKR     'repne cmpsb stop: cx (8-3)', ecx, 16, 5
        CKR     'repne cmpsb stop: di', edi, 16, 3
        ; REPE with CX=0: no comparison, flags unchanged
        call    init_bufs
        SETFL   0x0801
        repe cmpsb
        CKF     'repe cmpsb cx=0 flags unchanged', 0x0801
        CKR     'repe cmpsb cx=0 si', esi, 16, 0
        ; CMPSD with DF=1
        call    copy_src_to_dst
        mov     si, 8
        mov     di, 8
        std
        mov     cx, 3
        repe cmpsd
        cld
        CKF     'repe cmpsd df1 equal flags', 0x0044
        CKR     'repe cmpsd df1 si', esi, 32, 0xFFFC
        ret

copy_src_to_dst:
        call    init_bufs
        xor     bx, bx
.l:     mov     al, [bx]
        mov     [es:bx], al
        inc     bx
        cmp     bx, 64
        jb      .l
        xor     eax, eax
        ret

scas_tests:
        ; SCAS computes AL/AX/EAX - [ES:DI]
        call    copy_src_to_dst
        mov     al, 0x05
        mov     cx, 10
        repne scasb
        CKF     'repne scasb found 05: flags', 0x0044
        CKR     'repne scasb found: di (after match)', edi, 16, 5
        CKR     'repne scasb found: cx', ecx, 16, 5
        call    copy_src_to_dst
        mov     al, 0x80
        mov     cx, 4
        repne scasb
        CKF     'repne scasb not found: flags (80-04)', 0x0810
        CKR     'repne scasb not found: cx', ecx, 16, 0
        CKR     'repne scasb not found: di', edi, 16, 4
        call    init_bufs
        mov     dword [es:6], 0x12340000 ; words: [6]=0000 [8]=1234
        mov     ax, 0xEEEE
        mov     cx, 10
        repe scasw
        CKF     'repe scasw stop at 0000: flags (eeee-0000)', 0x0084
        CKR     'repe scasw stop: di', edi, 16, 8
        CKR     'repe scasw stop: cx', ecx, 16, 6
        call    init_bufs
        mov     eax, 0xEEEEEEEE
        mov     di, 8
        std
        scasd
        cld
        CKF     'scasd df1 equal: flags', 0x0044
        CKR     'scasd df1 di', edi, 16, 4
        mov     al, 0x01
        mov     di, 0
        scasb                           ; 01 - EE
        CKF     'scasb 01-ee flags', 0x0011 ; CF AF (13h: PF odd)
        ret

addrsize_tests:
        ; 16-bit address size: only SI is incremented, wrapping at 64 KiB;
        ; ESI[31:16] is preserved (SDM Vol.1 3.7.5 / Vol.2 LODS)
        call    init_bufs
        mov     esi, 0x1234FFFF
        lodsb
        CKR     'a16 lodsb esi=1234ffff -> esi', esi, 32, 0x12340000
        ; 32-bit address size (0x67 prefix): ESI increments past FFFF
        mov     esi, 0x0000FFFF
        a32 lodsb
        CKR     'a32 lodsb esi=ffff -> esi', esi, 32, 0x00010000
        ; a32 REP uses ECX as the count and EDI as the pointer
        call    init_bufs
        mov     ecx, 3
        mov     edi, 0x10
        mov     al, 0x42
        a32 rep stosb
        CKR     'a32 rep stosb ecx', ecx, 32, 0
        CKR     'a32 rep stosb edi', edi, 32, 0x13
        CKMD    'a32 rep stosb es:[10]', [es:0x10], 0xEE424242
        ; a32 with DF=1 from EDI=0: EDI becomes FFFFFFFF (no 16-bit wrap)
        mov     edi, 0
        std
        a32 stosb
        cld
        CKR     'a32 stosb df1 edi=0 -> edi', edi, 32, 0xFFFFFFFF
        ; a16 with DF=1 from DI=0 and EDI upper bits set: DI wraps to FFFF
        mov     edi, 0xABCD0000
        std
        stosb
        cld
        CKR     'a16 stosb df1 edi=abcd0000 -> edi', edi, 32, 0xABCDFFFF
        ; a32 REPE CMPSB: ECX counts, termination as with a16
        call    copy_src_to_dst
        mov     byte [es:1], 0
        mov     ecx, 5
        a32 repe cmpsb
        CKR     'a32 repe cmpsb stop: ecx', ecx, 32, 3
        CKR     'a32 repe cmpsb stop: esi', esi, 32, 2
        ; a32 MOVSD: full ESI/EDI
        call    init_bufs
        mov     esi, 4
        mov     edi, 0x20
        mov     ecx, 2
        a32 rep movsd
        CKR     'a32 rep movsd esi', esi, 32, 12
        CKR     'a32 rep movsd edi', edi, 32, 0x28
        CKMD    'a32 rep movsd es:[24]', [es:0x24], 0x0C0B0A09
        ret
