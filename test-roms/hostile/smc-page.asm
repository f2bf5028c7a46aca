; smc-page.asm - self-modifying code across a page: a loop in RAM whose
; closing JMP straddles the 4 KiB boundary at 2000h writes into the
; JMP's second page on every iteration. The store misses the decoded
; bytes, so the traces stay (they were dropped and rebuilt on every
; store while code was tracked per page); smc-patch stores into them.
%include "hostile.inc"
LOOP_AT equ     0x2000 - (smc_jmp - smc_code) - 1   ; the JMP's opcode at 1FFFh
start:
        RM_INIT
        RUN_FROM_RAM smc_code, smc_end, LOOP_AT
smc_code:
        inc     byte [0x2010]           ; a byte of the JMP's second page
        inc     ax
smc_jmp:
        jmp     near smc_code           ; E9 rel16: 1FFF-2001
smc_end:
        ROM_END
