; churn.asm - a CPU-bound loop that writes the text screen on every
; iteration: the display's cost on a screen that changes every frame
; (docs/performance.md). Mode 3, cursor and blink off, then 120 million
; iterations of a little arithmetic, each storing one character and
; attribute at a cell picked from the loop counter. The last screen is
; fixed by the arithmetic, so QEMU's screendump checks it too.
%include "boot.inc"
ITERATIONS equ 120000000
stage:
        mov     ax, 0x0003
        int     0x10
        mov     ax, 0x1003          ; attribute bit 7: intensity, no blink
        xor     bx, bx
        int     0x10
        mov     ah, 0x01            ; cursor off
        mov     cx, 0x2000
        int     0x10
        mov     ax, 0xB800
        mov     es, ax
        mov     ecx, ITERATIONS
        mov     ebx, 0x12345678
        xor     edx, edx
.loop:  mov     eax, ecx
        imul    eax, eax, 1103515245
        add     ebx, eax
        ror     ebx, 7
        xor     edx, ebx
        mov     di, cx              ; a cell of the 80x25 screen:
        and     di, 0x07FE          ; the first 1024 of its 2000
        mov     ax, dx
        and     ax, 0x7F3F          ; attribute 00-7F, character 00-3F
        add     al, 0x20            ; printable: 20-5F
        mov     [es:di], ax
        dec     ecx
        jnz     .loop
        jmp     ready
%include "end.inc"
