; smc-patch.asm - true self-modifying code: a loop in RAM that rewrites the
; immediate of its own first instruction on every iteration, so the trace
; it runs in is dropped and decoded again each time (the granule map
; cannot help: the store hits decoded bytes).
%include "hostile.inc"
LOOP_AT equ     0x3000
start:
        RM_INIT
        RUN_FROM_RAM smc_code, smc_end, LOOP_AT
smc_code:
        add     ax, strict word 0x0101  ; 05 iw: the immediate is rewritten
        inc     word [LOOP_AT + 1]      ; the ADD's immediate
        jmp     short smc_code
smc_end:
        ROM_END
