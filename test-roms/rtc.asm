; rtc.asm - MC146818A real-time clock and CMOS RAM ROM.
;
; qemu-flags: -cpu qemu32,+nx,-apic -icount shift=0,sleep=off -rtc base=2026-01-01T00:00:00,clock=vm
; anyx86-flags: --machine isa --clock virtual --rtc-base 1767225600
;
; Runs in real mode with a real-mode IVT.  The clock starts at 2026-01-01
; 00:00:00 (a Thursday) at virtual time 0, and virtual time advances 1 ns
; per instruction (anyx86 --clock virtual, QEMU -icount shift=0); a halted
; CPU skips ahead to the next timer deadline (QEMU: sleep=off), so the ROM
; can wait whole seconds cheaply.  Everything printed is therefore
; deterministic, the time of day included.  Covers (Motorola MC146818A
; datasheet; IBM PC/AT CMOS map):
;   - registers A-D after power-on, the index port (write-only; bit 7 is
;     the NMI mask and does not select a register), CMOS RAM bytes, the
;     memory sizes the machine stores for -m 32 (base, extended, above
;     16 MiB) and the century byte;
;   - reading the time after waiting for UIP=0, in BCD (all digits valid)
;     and binary data modes, 12-hour mode;
;   - the periodic interrupt on IRQ8 (through the slave 8259A) at rates 6
;     (1024 Hz) and 3 (8192 Hz), measured in loop iterations and counted over
;     10.5 periods; register C (IRQF, PF) read by the handler;
;   - 8259A priority between IRQ0 and the cascaded IRQ8, and after a
;     specific rotation (OCW2 set-priority);
;   - the update-ended interrupt (UIE) once a second, UIP set in the last
;     244 us before an update (reached with PIT one-shots while halted) and
;     waited for, setting the time with SET, rollover of seconds, minutes,
;     hours, day, month and year, 28/29 February in a leap year, the alarm
;     interrupt with "don't care" fields, and the 500 ms from releasing the
;     divider reset to the first update, counted in 1 kHz PIT interrupts.
; Not tested: the periodic flag PF with PIE=0 (the datasheet sets PF either
; way; QEMU and Bochs run the periodic timer only while PIE is set).

%define PM_START 0xF000                 ; real mode only
%include "rom.inc"
%include "lib16.inc"
%include "pc16.inc"

CMOS_INDEX      equ 0x70
CMOS_DATA       equ 0x71
REG_A           equ 0x0A
REG_B           equ 0x0B
REG_C           equ 0x0C
REG_D           equ 0x0D
PIT_CH0         equ 0x40
PIT_CMD         equ 0x43
PIT_HZ          equ 1193182

B_SET           equ 0x80
B_PIE           equ 0x40
B_AIE           equ 0x20
B_UIE           equ 0x10
B_DM_BIN        equ 0x04
B_24H           equ 0x02

RTICKS          equ 0x700               ; word: IRQ8 interrupts
REGC            equ 0x702               ; byte: register C read by the handler
TICKS           equ 0x704               ; word: IRQ0 interrupts
ORDLEN          equ 0x706               ; word
ORDLOG          equ 0x740               ; 16 bytes: IRQ numbers in order taken
TIMEBUF         equ 0x760               ; 8 bytes: sec min hour wday mday mon year century

start16:
        INIT16
        PRINTLN "rtc: MC146818A RTC and CMOS, IRQ8, fixed base 2026-01-01"
        call    install_stray
        SETVEC  SLAVE_BASE+0, irq8_handler
        SETVEC  MASTER_BASE+0, irq0_handler
        call    pic_init

        call    register_tests
        call    time_tests
        call    periodic_tests
        call    priority_tests
        call    update_tests
        call    set_time_tests
        call    divider_test
        cli
        movzx   eax, word [STRAY_CNT]
        CHECK   'interrupts through other vectors', 16, 0
        jmp     finish16

; ---------------------------------------------------------------------------
; rd_cmos: AL <- CMOS register AL.  wr_cmos: register AL <- AH.  With IF=0
; around the index/data pair: the IRQ8 handler selects register C.
rd_cmos:
        pushf
        cli
        out     CMOS_INDEX, al
        in      al, CMOS_DATA
        popf
        ret
wr_cmos:
        pushf
        cli
        out     CMOS_INDEX, al
        mov     al, ah
        out     CMOS_DATA, al
        popf
        ret

%macro RDCMOS 1
        mov     al, %1
        call    rd_cmos
%endmacro
%macro WRCMOS 2
        mov     ax, ((%2) << 8) | (%1)
        call    wr_cmos
%endmacro
; CMOSCHECK 'label', register, expected
%macro CMOSCHECK 3
        RDCMOS  %2
        movzx   eax, al
        CHECK   %1, 8, %3
%endmacro

irq8_handler:
        push    ax
        push    bx
        mov     al, REG_C
        out     CMOS_INDEX, al
        in      al, CMOS_DATA
        mov     [REGC], al
        inc     word [RTICKS]
        mov     al, 8
        call    log_irq
        mov     al, OCW2_EOI
        out     PIC2_CMD, al
        out     PIC1_CMD, al
        pop     bx
        pop     ax
        iret

irq0_handler:
        push    ax
        push    bx
        inc     word [TICKS]
        mov     al, 0
        call    log_irq
        mov     al, OCW2_EOI
        out     PIC1_CMD, al
        pop     bx
        pop     ax
        iret

; log_irq: append AL to ORDLOG (16 entries at most).  Clobbers BX.
log_irq:
        mov     bx, [ORDLEN]
        cmp     bx, 16
        jae     .full
        mov     [ORDLOG+bx], al
        inc     word [ORDLEN]
.full:  ret

; ---------------------------------------------------------------------------
register_tests:
        CMOSCHECK 'register A at power-on (divider 010, rate 6)', REG_A, 0x26
        WRCMOS  REG_A, 0x20             ; periodic rate 0: no PF from now on
        CMOSCHECK 'register A with rate 0', REG_A, 0x20
        CMOSCHECK 'register B (24-hour, BCD)', REG_B, 0x02
        CMOSCHECK 'register C (no flags)', REG_C, 0x00
        CMOSCHECK 'register D (VRT)', REG_D, 0x80
        in      al, CMOS_INDEX
        movzx   eax, al
        CHECK   'port 70h read (write-only)', 8, 0xFF
        mov     al, 0x80 | REG_D        ; NMI masked, register D
        out     CMOS_INDEX, al
        in      al, CMOS_DATA
        movzx   eax, al
        CHECK   'index 8Dh (NMI mask bit + register D)', 8, 0x80
        mov     al, REG_D               ; NMI enabled again
        out     CMOS_INDEX, al
        WRCMOS  0x40, 0x5A
        CMOSCHECK 'CMOS RAM byte 40h write/read 5Ah', 0x40, 0x5A
        WRCMOS  0x7F, 0xA5
        CMOSCHECK 'CMOS RAM byte 7Fh write/read A5h', 0x7F, 0xA5
        ; Memory sizes for -m 32 (both machines fill these in themselves).
        mov     bl, 0x15
        call    rd_word
        CHECK   'base memory KiB (15h/16h)', 16, 640
        mov     bl, 0x17
        call    rd_word
        CHECK   'extended memory KiB (17h/18h)', 16, 32*1024 - 1024
        mov     bl, 0x30
        call    rd_word
        CHECK   'extended memory KiB (30h/31h)', 16, 32*1024 - 1024
        mov     bl, 0x34
        call    rd_word
        CHECK   'memory above 16 MiB in 64 KiB (34h/35h)', 16, (32-16)*16
        CMOSCHECK 'century (32h)', 0x32, 0x20
        ret

; rd_word: AX <- CMOS word at BL (low byte), BL+1.
rd_word:
        mov     al, bl
        inc     al
        call    rd_cmos
        mov     ah, al
        mov     al, bl
        call    rd_cmos
        movzx   eax, ax
        ret

; ---------------------------------------------------------------------------
; Reading the time: wait until UIP=0, then read the fields (an update cannot
; start within 244 us of UIP reading 0).
wait_uip:
        RDCMOS  REG_A
        test    al, 0x80
        jnz     wait_uip
        ret

; read_time: TIMEBUF <- seconds, minutes, hours, weekday, day, month, year,
; century (registers 0, 2, 4, 6, 7, 8, 9, 32h), after UIP=0.
read_time:
        pushad
        call    wait_uip
        mov     si, time_regs
        mov     di, TIMEBUF
        mov     cx, 8
.l:     mov     al, [cs:si]
        call    rd_cmos
        mov     [di], al
        inc     si
        inc     di
        loop    .l
        popad
        ret
time_regs:      db 0, 2, 4, 6, 7, 8, 9, 0x32

; TIMECHECK 'label', mode, date, time - read the time and print it as
; "label -> CCYY-MM-DD hh:mm:ss wd=W"; mode 0 = BCD fields printed as hex
; digits, 1 = binary fields printed in decimal.  date = century:year:month:day
; and time = weekday:hours:minutes:seconds, packed bytes as the registers
; hold them.  One check.
%macro TIMECHECK 4
        call    read_time
        PRINT   %1, ' -> '
        mov     edx, %3
        mov     ecx, %4
        mov     bl, %2
        call    time_check
%endmacro

time_check:
        mov     si, TIMEBUF
        call    .f2                     ; century
        mov     al, [si+6]
        call    .f
        PRINT   '-'
        mov     al, [si+5]
        call    .f
        PRINT   '-'
        mov     al, [si+4]
        call    .f
        call    space
        mov     al, [si+2]
        call    .f
        PRINT   ':'
        mov     al, [si+1]
        call    .f
        PRINT   ':'
        mov     al, [si+0]
        call    .f
        PRINT   ' wd='
        mov     al, [si+3]
        call    .f
        ; observed date/time packed like the expected values
        mov     ah, [si+7]
        mov     al, [si+6]
        shl     eax, 16
        mov     ah, [si+5]
        mov     al, [si+4]
        mov     edi, eax
        mov     ah, [si+3]
        mov     al, [si+2]
        shl     eax, 16
        mov     ah, [si+1]
        mov     al, [si+0]
        call    count_check
        cmp     edi, edx
        jne     .bad
        cmp     eax, ecx
        je      .ok
.bad:   PRINT   ' <-FAIL exp='
        mov     eax, edx
        call    hex32
        call    space
        mov     eax, ecx
        call    hex32
        call    fail_here
.ok:    jmp     nl
.f2:    mov     al, [si+7]
; .f: one field, 2 digits (BL=0: BCD as hex, BL=1: binary in decimal)
.f:     test    bl, bl
        jnz     .dec
        jmp     hex8
.dec:   push    ax
        push    cx
        xor     ah, ah
        mov     cl, 10
        div     cl
        add     ax, '00'
        call    putc
        mov     al, ah
        call    putc
        pop     cx
        pop     ax
        ret

; all_bcd: EAX <- number of TIMEBUF fields with a nibble above 9.
all_bcd:
        push    cx
        push    si
        xor     eax, eax
        mov     si, TIMEBUF
        mov     cx, 8
.l:     mov     ah, [si]
        and     ah, 0x0F
        cmp     ah, 9
        ja      .bad
        mov     ah, [si]
        shr     ah, 4
        and     ah, 0x07                ; hours bit 7 is the PM flag
        cmp     ah, 9
        jbe     .ok
.bad:   inc     al
.ok:    inc     si
        loop    .l
        xor     ah, ah
        pop     si
        pop     cx
        ret

D2026   equ 0x20260101
T0      equ 0x05000000                  ; Thursday, 00:00:00

time_tests:
        TIMECHECK 'time in BCD', 0, D2026, T0
        call    all_bcd
        CHECK   'BCD fields with a digit above 9', 8, 0
        WRCMOS  REG_B, B_24H | B_DM_BIN
        CMOSCHECK 'register B, binary mode', REG_B, B_24H | B_DM_BIN
        TIMECHECK 'time in binary', 1, 0x141A0101, T0
        WRCMOS  REG_B, 0                ; BCD, 12-hour
        CMOSCHECK '12-hour mode: midnight is 12 AM', 4, 0x12
        WRCMOS  REG_B, B_24H
        ret

; ---------------------------------------------------------------------------
; Periodic interrupt: register A rate select (period 2^(rate-1) cycles of
; 32.768 kHz), register B PIE, IRQ8 through the slave PIC (IR0) and the
; master's cascade input IR2.
%define RATE_NS(r)      ((1 << ((r)-1)) * 1000000000 / 32768)
%define LOOPITERS(r,k)  ((k) * (1 << ((r)-1)) * 1000000000 / (3 * 32768))

periodic_tests:
        in      al, PIC2_DATA
        and     al, 0xFE                ; unmask IRQ8 (IR2 is open)
        out     PIC2_DATA, al
        WRCMOS  REG_A, 0x26             ; rate 6: 1024 Hz, 976562.5 ns
        mov     byte [REGC], 0
        WRCMOS  REG_B, B_24H | B_PIE
        sti
        mov     cx, 5
        call    periods
        RAWDEC  'rate 6 iterations'
        ; 5 periods: 1627604 iterations, less the handler's share
        MEASURED 'rate 6 (1024 Hz): loop iterations over 5 periods / 1000', LOOPITERS(6,5)*99/100, LOOPITERS(6,5)*1001/1000, 1000
        call    sync_rtc
        mov     bx, [RTICKS]
        DELAY   RATE_NS(6) * 21 / 2
        mov     ax, [RTICKS]
        sub     ax, bx
        movzx   eax, ax
        CHECK   'rate 6: interrupts during 10.5 periods', 16, 10
        movzx   eax, byte [REGC]
        CHECK   'register C in the handler (IRQF, PF)', 8, 0xC0

        WRCMOS  REG_A, 0x23             ; rate 3: 8192 Hz, 122070.3 ns
        mov     cx, 8
        call    periods
        RAWDEC  'rate 3 iterations'
        ; 8 periods: 325520 iterations, less the handler's share
        MEASURED 'rate 3 (8192 Hz): loop iterations over 8 periods / 1000', LOOPITERS(3,8)*99/100, LOOPITERS(3,8)*1001/1000, 1000
        call    sync_rtc
        mov     bx, [RTICKS]
        DELAY   RATE_NS(3) * 21 / 2
        mov     ax, [RTICKS]
        sub     ax, bx
        movzx   eax, ax
        CHECK   'rate 3: interrupts during 10.5 periods', 16, 10
        cli
        WRCMOS  REG_B, B_24H            ; PIE off
        WRCMOS  REG_A, 0x20             ; rate 0
        RDCMOS  REG_C                   ; drop a flag raised meanwhile
        call    pic_init                ; and its request: all masked
        ret

; sync_rtc: wait for the next IRQ8.
sync_rtc:
        mov     bx, [RTICKS]
.w:     cmp     [RTICKS], bx
        je      .w
        ret

; periods: EAX <- iterations of a 3-instruction loop from one IRQ8 to the
; CX-th after it.
periods:
        call    sync_rtc
        xor     esi, esi
        mov     bx, [RTICKS]
        add     bx, cx
.l:     inc     esi
        cmp     [RTICKS], bx
        jne     .l
        mov     eax, esi
        ret

; ---------------------------------------------------------------------------
; Priority: IRQ0 (PIT) and IRQ8 (RTC, on the master's IR2) both requested
; while IF=0; STI then takes them highest priority first.  After OCW2
; "set priority" with IR1 lowest, IR2 ranks above IR0.
priority_tests:
        cli
        mov     al, 0xFA                ; IR0 and the cascade open
        out     PIC1_DATA, al
        mov     al, 0xFE                ; IR8
        out     PIC2_DATA, al
        mov     al, 0x34                ; PIT channel 0, mode 2, 1193: ~1 kHz
        out     PIT_CMD, al
        mov     al, 1193 & 0xFF
        out     PIT_CH0, al
        mov     al, 1193 >> 8
        out     PIT_CH0, al
        WRCMOS  REG_A, 0x26
        WRCMOS  REG_B, B_24H | B_PIE
        call    both_pending
        PRINT   'IRQs taken after STI, default priority ->'
        call    print_order
        mov     ebx, 0x0008
        call    order_check
        mov     al, 0xC1                ; OCW2 set priority: IR1 lowest
        out     PIC1_CMD, al
        call    both_pending
        PRINT   'IRQs taken after STI, IR1 lowest (IR2 first) ->'
        call    print_order
        mov     ebx, 0x0800
        call    order_check
        mov     al, 0xC7                ; back to IR0 highest
        out     PIC1_CMD, al
        WRCMOS  REG_B, B_24H
        WRCMOS  REG_A, 0x20
        RDCMOS  REG_C
        call    pit_stop
        ret

; order_check: EAX observed (first IRQ in AH, second in AL), EBX expected.
order_check:
        push    cx
        mov     cl, 16
        call    chk
        pop     cx
        jmp     nl

; pit_stop: leave PIT channel 0 idle (mode 0 after its terminal count:
; OUT high, no further edges), then forget its requests (pic_init masks
; everything and ICW1 clears the IRRs).  A bare control word is not enough:
; QEMU keeps the old count running until the next edge.
pit_stop:
        cli
        mov     al, 0x30
        out     PIT_CMD, al
        mov     al, 1
        out     PIT_CH0, al
        xor     al, al
        out     PIT_CH0, al
        DELAY   10000
        jmp     pic_init

; both_pending: with IF=0 wait 3 ms (both 1 ms timers request), then
; STI, HLT, CLI: both requests are taken.
both_pending:
        cli
        mov     word [ORDLEN], 0
        DELAY   3000000
        sti
        hlt
        cli
        ret

; print_order: print ORDLOG; EAX <- first two entries (first in AH).
print_order:
        mov     cx, [ORDLEN]
        xor     bx, bx
        jcxz    .e
.l:     call    space
        mov     al, [ORDLOG+bx]
        call    hex8
        inc     bx
        loop    .l
.e:     mov     ah, [ORDLOG]
        mov     al, [ORDLOG+1]
        cmp     word [ORDLEN], 2
        je      .two
        mov     ax, 0xFFFF
.two:   movzx   eax, ax
        ret

; ---------------------------------------------------------------------------
; The update cycle.  wait_update: sleep (HLT) until the next update-ended
; or alarm interrupt (UIE or AIE set by the caller, IRQ8 unmasked).  Other
; interrupts (the PIT's) wake the CPU too and are slept through; so is an
; IRQ8 whose register C shows neither UF nor AF: QEMU keeps a request in
; the slave's IRR after register C was read with IF=0 (the 8259A, and
; anyx86, drop it with the line).
wait_update:
        RDCMOS  REG_C                   ; forget flags raised so far
        mov     byte [REGC], 0
.w:     sti
        hlt
        cli
        test    byte [REGC], 0x30       ; the handler saw UF or AF
        jz      .w
        ret

; pit_sleep: CX one-shots of PIT channel 0 (mode 0) of SLEEP_N clocks each,
; halted in between (IRQ0 unmasked by the caller).
SLEEP_N         equ 59652               ; 49.994 ms
pit_sleep:
.n:     mov     word [TICKS], 0
        mov     al, 0x30                ; channel 0, LSB then MSB, mode 0
        out     PIT_CMD, al
        mov     al, SLEEP_N & 0xFF
        out     PIT_CH0, al
        mov     al, SLEEP_N >> 8
        out     PIT_CH0, al
.w:     sti
        hlt
        cli
        cmp     word [TICKS], 0
        je      .w
        loop    .n
        ret

update_tests:
        cli
        in      al, PIC2_DATA
        and     al, 0xFE
        out     PIC2_DATA, al
        WRCMOS  REG_B, B_24H | B_UIE
        call    wait_update             ; 00:00:01.000000
        ; 20 PIT one-shots of 49.994 ms: 999.88 ms, into the last 244 us
        ; before the next update (UIP window 1.999756-2.0 s; this lands at
        ; 1.99988 s plus the few thousand instructions executed meanwhile).
        mov     al, 0xFA
        out     PIC1_DATA, al           ; IR0 too
        mov     cx, 20
        call    pit_sleep
        RDCMOS  REG_A
        mov     bl, al
        xor     esi, esi
.u:     inc     esi                     ; wait for the update to end
        mov     al, REG_A
        out     CMOS_INDEX, al
        in      al, CMOS_DATA
        test    al, 0x80
        jnz     .u
        RDCMOS  0                       ; seconds right after
        mov     bh, al
        call    pit_stop
        in      al, PIC2_DATA
        and     al, 0xFE
        out     PIC2_DATA, al           ; IRQ8 open again
        movzx   eax, byte [REGC]
        CHECK   'update-ended interrupt: register C (IRQF, UF)', 8, 0x90
        movzx   eax, bl
        CHECK   '1.99988 s: register A (UIP)', 8, 0xA0
        mov     eax, esi
        RAWDEC  'UIP iterations'
        ; (2 s - 1.99988 s) / 6 instructions, about 20000 polls
        MEASURED 'polls of register A until UIP=0 / 1000', 15000, 25000, 1000
        movzx   eax, bh
        CHECK   'seconds after UIP dropped', 8, 0x02
        TIMECHECK 'time', 0, D2026, 0x05000002
        ret

; ---------------------------------------------------------------------------
; Setting the time: SET stops updates (and clears UIE), the registers take
; the new time, clearing SET restarts the clock from it.
set_time_tests:
        WRCMOS  REG_B, B_SET | B_24H | B_UIE
        CMOSCHECK 'register B after writing SET|UIE (UIE cleared)', REG_B, B_SET | B_24H
        mov     si, t_newyear
        call    set_time
        TIMECHECK 'set with SET=1', 0, 0x20261231, 0x05235958
        WRCMOS  REG_B, B_24H | B_UIE
        TIMECHECK 'SET cleared', 0, 0x20261231, 0x05235958
        call    wait_update
        TIMECHECK 'after one update', 0, 0x20261231, 0x05235959
        call    wait_update
        TIMECHECK 'after two: new year', 0, 0x20270101, 0x06000000
        WRCMOS  REG_B, B_SET | B_24H
        mov     si, t_leap
        call    set_time
        WRCMOS  REG_B, B_24H | B_UIE
        call    wait_update
        TIMECHECK '2028-02-28 23:59:59 + 1 s (leap year)', 0, 0x20280229, 0x03000000
        ; Alarm at xx:xx:05 (hours and minutes "don't care"), AIE only.
        WRCMOS  1, 0x05
        WRCMOS  3, 0xC0
        WRCMOS  5, 0xC0
        WRCMOS  REG_B, B_24H | B_AIE
        call    wait_update
        movzx   eax, byte [REGC]
        CHECK   'alarm interrupt: register C (IRQF, AF, UF)', 8, 0xB0
        TIMECHECK 'alarm at second 05', 0, 0x20280229, 0x03000005
        WRCMOS  REG_B, B_24H
        ret

; set_time: write the 8 registers of a time record at CS:SI (same order as
; time_regs).
set_time:
        mov     di, time_regs
        mov     cx, 8
.l:     mov     al, [cs:di]
        mov     ah, [cs:si]
        call    wr_cmos
        inc     si
        inc     di
        loop    .l
        ret
t_newyear:      db 0x58, 0x59, 0x23, 0x05, 0x31, 0x12, 0x26, 0x20
t_leap:         db 0x59, 0x59, 0x23, 0x02, 0x28, 0x02, 0x28, 0x20

; ---------------------------------------------------------------------------
; Divider reset (register A DV=11x) stops the clock; releasing it (DV=010)
; starts the first update 500 ms later.  Counted in PIT interrupts at
; 999.85 us (mode 2, N=1193): the 500th comes 0.08 ms before the update.
divider_test:
        cli
        WRCMOS  REG_B, B_24H | B_UIE
        call    wait_update             ; 00:00:06.000000
        WRCMOS  REG_A, 0x70             ; divider reset
        WRCMOS  REG_A, 0x20             ; released
        mov     al, 0x34
        out     PIT_CMD, al
        mov     al, 1193 & 0xFF
        out     PIT_CH0, al
        mov     al, 1193 >> 8
        out     PIT_CH0, al
        mov     word [TICKS], 0
        mov     al, 0xFA
        out     PIC1_DATA, al
        call    wait_update
        mov     al, 0xFB
        out     PIC1_DATA, al
        movzx   eax, word [TICKS]
        CHECK   'PIT interrupts (999.85 us) from divider release to update', 16, 500
        TIMECHECK 'time after the update', 0, 0x20280229, 0x03000007
        WRCMOS  REG_B, B_24H
        call    pit_stop
        ret
