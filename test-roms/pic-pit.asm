; pic-pit.asm - 8259A interrupt controllers and 8254 interval timer ROM.
;
; qemu-flags: -cpu qemu32,+nx,-apic -icount shift=0,sleep=off
; anyx86-flags: --machine isa --clock virtual
;
; Runs in real mode with a real-mode IVT.  Virtual time advances exactly 1 ns
; per retired instruction on both emulators (anyx86 --clock virtual at the
; default 1e9 instructions per second; QEMU -icount shift=0), so a PIT count
; N (N / 1.193182 MHz) is N * 838.095 instructions.  Covers:
;   - PIC: ICW1-ICW4 for the cascaded pair (vector bases 50h/58h), ICW1
;     clearing the IMR, OCW1 masks, OCW3 IRR/ISR reads, the ELCR's writable
;     bits, non-specific and specific EOI, in-service blocking of a second
;     request on the same line, a masked IRQ0 latched in the IRR but not
;     delivered (and delivered once on unmasking), no interrupt inside the
;     STI shadow, the poll command, ICW4 automatic EOI, and no interrupt
;     through any other vector;
;   - PIT: the counter latch command (a second latch before reading is
;     ignored), live reads, the read-back command (status and count) in modes
;     2 and 3 (mode 3 counting down by two, OUT high then low), channel 0 in
;     mode 2 and mode 3 driving IRQ0 at the programmed rate: loop iterations
;     over four periods and interrupts over a stretch of 10.5 periods;
;     channel 2 through port 61h: gate and speaker bits, mode 0 with OUT2
;     polled in bit 5 until the terminal count, a rising gate restarting mode
;     2, read-back of two channels at once.
; Times inside a timed block are computed from the instructions executed
; since the count was loaded; the block keeps its results in registers and
; prints them afterwards.  Each timed read happens half a PIT clock (about
; 419 instructions) away from a counter change, so that the few
; instructions by which the emulators can differ around an I/O access never
; change the value read.
;
; Not tested: a spurious IRQ7 (the 8259A produces one when a request goes
; away between INT and INTA; in both emulators INTA happens the moment the
; CPU takes the interrupt, so there is no such window); channel 1; BCD
; counting (QEMU counts in binary whatever the BCD bit says).
;
; Build options: -DRAW prints the raw loop counts behind the bucketed
; values; -DQEMU_DIVERGENT adds the checks QEMU gets wrong (README.md).

%define PM_START 0xF000                 ; real mode only
%include "rom.inc"
%include "lib16.inc"
%include "pc16.inc"

PIT_HZ          equ 1193182
PIT_CH0         equ 0x40
PIT_CH2         equ 0x42
PIT_CMD         equ 0x43
PORT61          equ 0x61

TICKS           equ 0x700               ; word: IRQ0 interrupts taken
EOIMODE         equ 0x702               ; byte: what the IRQ0 handler does
ISR_IN          equ 0x703               ; byte: ISR read inside the handler
EOI_NONSPEC     equ 0                   ;   non-specific EOI
EOI_NONE        equ 1                   ;   no EOI: IRQ0 stays in service
EOI_READISR     equ 2                   ;   no EOI, read the ISR (auto-EOI test)

; Instructions in (k + 1/2) PIT clocks, rounded: the middle of clock k.
%define HALFTICK(k) (((2*(k)+1) * 1000000000 + PIT_HZ) / (2*PIT_HZ))

; PITLOAD control word, port, count - program a channel: the control word,
; then the count LSB and MSB.  The MSB write loads the count.
%macro PITLOAD 3
        mov     al, %1
        out     PIT_CMD, al
        mov     al, (%3) & 0xFF
        out     %2, al
        mov     al, ((%3) >> 8) & 0xFF
        out     %2, al
%endmacro

; Control words (8254 datasheet "Control Word Format": SC1 SC0 RW1 RW0 M2 M1
; M0 BCD).
CW0_MODE2       equ 0x34                ; channel 0, LSB then MSB, mode 2
CW0_MODE3       equ 0x36                ; channel 0, LSB then MSB, mode 3
CW2_MODE0       equ 0xB0                ; channel 2, LSB then MSB, mode 0
CW2_MODE2       equ 0xB4                ; channel 2, LSB then MSB, mode 2
LATCH0          equ 0x00                ; counter latch command, channel 0
LATCH2          equ 0x80                ; counter latch command, channel 2
RB_CS0          equ 0xC2                ; read-back: count + status, channel 0
RB_S2           equ 0xE8                ; read-back: status only, channel 2
RB_C02          equ 0xDA                ; read-back: count only, channels 0+2
; Port 61h bits: 0 gate 2, 1 speaker data, 5 OUT2 (4, the refresh toggle, is
; masked: QEMU flips it on every read, anyx86 every 15 us of virtual time).
P61_MASK        equ 0x23

start16:
        INIT16
        PRINTLN "pic-pit: 8259A pair and 8254 PIT, rates in instructions"
        call    install_stray
        SETVEC  MASTER_BASE+0, irq0_handler
        mov     byte [EOIMODE], EOI_NONSPEC

        call    pic_tests
        call    pit_latch_tests
        call    irq0_rate_tests
        call    irq0_pic_tests
        call    ch2_tests
%ifdef QEMU_DIVERGENT
        call    divergent_tests
%endif
        cli
        movzx   eax, word [STRAY_CNT]
        CHECK   'interrupts through other vectors', 16, 0
        jmp     finish16

; ---------------------------------------------------------------------------
; IRQ0 handler: counts, then EOIMODE says how it ends.
irq0_handler:
        push    ax
        inc     word [TICKS]
        cmp     byte [EOIMODE], EOI_NONE
        je      .done
        cmp     byte [EOIMODE], EOI_READISR
        je      .isr
        mov     al, OCW2_EOI
        out     PIC1_CMD, al
        jmp     .done
.isr:   call    read_isr1
        mov     [ISR_IN], al
.done:  pop     ax
        iret

; ---------------------------------------------------------------------------
; Programming the PICs (Intel 8259A datasheet, "Initialization Command
; Words", "Operation Command Words").
pic_tests:
        ; ICW1 clears the IMR: set a pattern, initialize, read it back.
        mov     al, 0x5A
        out     PIC1_DATA, al
        out     PIC2_DATA, al
        mov     al, 0x11                ; master only: ICW1-ICW4
        out     PIC1_CMD, al
        mov     al, MASTER_BASE
        out     PIC1_DATA, al
        mov     al, 0x04
        out     PIC1_DATA, al
        mov     al, 0x01
        out     PIC1_DATA, al
        in      al, PIC1_DATA
        movzx   eax, al
        CHECK   'master IMR after ICW1-4 (cleared by ICW1)', 8, 0x00
        call    pic_init                ; both chips, all masked but IR2
        in      al, PIC1_DATA
        movzx   eax, al
        CHECK   'master IMR after OCW1 FBh', 8, 0xFB
        in      al, PIC2_DATA
        movzx   eax, al
        CHECK   'slave IMR after OCW1 FFh', 8, 0xFF
        mov     al, 0xA5
        out     PIC2_DATA, al
        in      al, PIC2_DATA
        movzx   eax, al
        CHECK   'slave IMR write/read A5h', 8, 0xA5
        mov     al, 0xFF
        out     PIC2_DATA, al
        call    read_irr1
        movzx   eax, al
        CHECK   'master IRR (OCW3 0Ah), nothing requested', 8, 0x00
        call    read_isr1
        movzx   eax, al
        CHECK   'master ISR (OCW3 0Bh), nothing in service', 8, 0x00
        call    read_isr2
        movzx   eax, al
        CHECK   'slave ISR', 8, 0x00
        ; The OCW3 read selection sticks: two reads after one OCW3.
        mov     al, OCW3_READ_ISR
        out     PIC1_CMD, al
        in      al, PIC1_CMD
        mov     bl, al
        in      al, PIC1_CMD
        mov     bh, al
        mov     al, OCW3_READ_IRR
        out     PIC1_CMD, al
        movzx   eax, bx
        CHECK   'ISR selection sticks for two reads', 16, 0x0000
        ; ELCR (PIIX edge/level control, 4D0h/4D1h): IRQ0-2, 8 and 13 are
        ; edge-only; the rest can be made level-triggered.
        mov     dx, ELCR1
        mov     al, 0xFF
        out     dx, al
        in      al, dx
        mov     bl, al
        xor     al, al
        out     dx, al
        inc     dx
        mov     al, 0xFF
        out     dx, al
        in      al, dx
        mov     bh, al
        xor     al, al
        out     dx, al
        movzx   eax, bx
        CHECK   'ELCR2:ELCR1 after writing FFh to both', 16, 0xDEF8
        ret

; ---------------------------------------------------------------------------
; Counter latch, live reads, read-back (8254 datasheet "Read Operations").
; IF=0 and IRQ0 masked throughout: only counter values are observed.
;
; Mode 2 counts N, N-1, ..., 1 and reloads: k clocks after the load the
; counter reads N - (k mod N).  Mode 3 with an even N counts down by two
; twice per period: N - 2k in the first half (OUT high), 2N - 2k in the
; second (OUT low).
LATCH_N         equ 30000               ; 25 ms: no reload during the block
MODE3_N         equ 2000                ; half period: 1000 clocks
LX1             equ 1000
; Instruction offsets from the MSB write (the load) to each timed access,
; counted in the code below.
LT2             equ HALFTICK(100)       ; second latch read: clock 100
LX2             equ LT2 - 12 - LX1

pit_latch_tests:
        cli
        PITLOAD CW0_MODE2, PIT_CH0, LATCH_N     ; +0: load
        mov     al, LATCH0                      ; +1
        out     PIT_CMD, al                     ; +2: latch (clock 0)
        DELAY   LX1                             ; +3 .. +3+LX1
        mov     al, LATCH0                      ; +4+LX1
        out     PIT_CMD, al                     ; +5+LX1: ignored, latch full
        in      al, PIT_CH0                     ; +6+LX1
        mov     bl, al
        in      al, PIT_CH0
        mov     bh, al                          ; +9+LX1
        DELAY   LX2                             ; +10+LX1 .. +10+LX1+LX2
        mov     al, LATCH0                      ; +11+LX1+LX2
        out     PIT_CMD, al                     ; +12+LX1+LX2 = LT2
        in      al, PIT_CH0
        mov     cl, al
        in      al, PIT_CH0
        mov     ch, al                          ; LT2+4
        in      al, PIT_CH0                     ; LT2+5: live LSB
        mov     dl, al
        in      al, PIT_CH0                     ; LT2+7: live MSB
        mov     dh, al
        movzx   eax, bx
        CHECK   'mode 2 latch at load; 2nd latch before reading ignored', 16, LATCH_N
        movzx   eax, cx
        CHECK   'mode 2 latch 100.5 clocks after load', 16, LATCH_N - 100
        movzx   eax, dx
        CHECK   'mode 2 live read right after', 16, LATCH_N - 100

        ; Read-back command, count and status of channel 0, in mode 3:
        ; the status byte comes first (OUT, RW=3, mode, BCD), then the
        ; latched count.
MT1     equ HALFTICK(20)
MT2     equ HALFTICK(1200)
MX1     equ MT1 - 3
MX2     equ MT2 - MT1 - 10
        PITLOAD CW0_MODE3, PIT_CH0, MODE3_N     ; +0
        DELAY   MX1                             ; +1 .. +1+MX1
        mov     al, RB_CS0                      ; +2+MX1
        out     PIT_CMD, al                     ; +3+MX1 = MT1
        in      al, PIT_CH0
        mov     bl, al                          ; status
        in      al, PIT_CH0
        mov     ah, al
        in      al, PIT_CH0
        xchg    al, ah
        mov     di, ax                          ; MT1+7
        DELAY   MX2                             ; MT1+8 .. MT1+8+MX2
        mov     al, RB_CS0
        out     PIT_CMD, al                     ; MT1+10+MX2 = MT2
        in      al, PIT_CH0
        mov     bh, al
        in      al, PIT_CH0
        mov     dl, al
        in      al, PIT_CH0
        mov     dh, al
        movzx   eax, bl
        CHECK   'mode 3 read-back status at clock 20 (OUT high)', 8, 0xB6
        movzx   eax, di
        CHECK   'mode 3 read-back count at clock 20 (N-2k)', 16, MODE3_N - 40
        movzx   eax, bh
        CHECK   'mode 3 read-back status at clock 1200 (OUT low)', 8, 0x36
        movzx   eax, dx
        CHECK   'mode 3 read-back count at clock 1200 (2N-2k)', 16, 2*MODE3_N - 2400

        ; Read-back of the status only, in mode 2, with OUT masked (see the
        ; README: QEMU's mode-2 OUT is inverted).  Read a few clocks after
        ; the load: until the next clock the 8254 still shows null count.
        PITLOAD CW0_MODE2, PIT_CH0, LATCH_N
        DELAY   5000
        mov     al, RB_CS0 | 0x20
        out     PIT_CMD, al
        in      al, PIT_CH0
        and     al, 0x7F
        movzx   eax, al
        CHECK   'mode 2 read-back status (OUT masked)', 8, 0x34
        ret

; ---------------------------------------------------------------------------
; IRQ0 at the programmed rate.  For each mode: program channel 0, unmask
; IRQ0, wait for one interrupt (to start in phase), then
;  (a) count iterations of a 3-instruction loop over the next 4 interrupts:
;      about 4 * N * 838.095 / 3, less the handler's instructions;
;  (b) after the next interrupt, run a delay of 10.5 periods: exactly 10
;      interrupts arrive during it.
; The iteration count is printed in thousands: its expected value is chosen
; (through N) several hundred iterations from a multiple of 1000.
RATE2_N         equ 1193                ; about 1 kHz, period 999847 ns
RATE3_N         equ 2386                ; about 500 Hz, period 1999695 ns
%define ITERS4(n)  ((4 * (n) * 1000000000) / (3 * PIT_HZ))
%define STRETCH(n) ((21 * (n) * 1000000000) / (2 * PIT_HZ))

irq0_rate_tests:
        cli
        PITLOAD CW0_MODE2, PIT_CH0, RATE2_N
        call    start_irq0
        call    four_periods
        RAWDEC  'mode 2 iterations'
        MEASURED 'mode 2 N=1193: loop iterations over 4 periods / 1000', ITERS4(RATE2_N)*99/100, ITERS4(RATE2_N)*1001/1000, 1000
        call    sync_tick
        mov     bx, [TICKS]
        DELAY   STRETCH(RATE2_N)
        mov     ax, [TICKS]
        sub     ax, bx
        movzx   eax, ax
        CHECK   'mode 2 N=1193: interrupts during 10.5 periods', 16, 10

        cli
        PITLOAD CW0_MODE3, PIT_CH0, RATE3_N
        call    start_irq0
        call    four_periods
        RAWDEC  'mode 3 iterations'
        MEASURED 'mode 3 N=2386: loop iterations over 4 periods / 1000', ITERS4(RATE3_N)*99/100, ITERS4(RATE3_N)*1001/1000, 1000
        call    sync_tick
        mov     bx, [TICKS]
        DELAY   STRETCH(RATE3_N)
        mov     ax, [TICKS]
        sub     ax, bx
        movzx   eax, ax
        CHECK   'mode 3 N=2386: interrupts during 10.5 periods', 16, 10
        cli
        ret

; start_irq0: channel 0 was just programmed (IF=0).  Unmask IRQ0, let
; interrupts in, and wait for the first interrupt a full period after the
; load; count from there.  (QEMU also raises IRQ0 the moment a mode 3 count
; is loaded, because its OUT0 was low before; on the 8254 OUT0 is already
; high then and anyx86 gives no edge.  That request is taken right after the
; STI, before sync_tick starts watching.)
start_irq0:
        in      al, PIC1_DATA
        and     al, 0xFE
        out     PIC1_DATA, al
        sti
        call    sync_tick
        mov     word [TICKS], 0
        ret

; sync_tick: wait until the next IRQ0 has been taken.
sync_tick:
        mov     bx, [TICKS]
.w:     cmp     [TICKS], bx
        je      .w
        ret

; four_periods: EAX <- iterations of a 3-instruction loop from one
; interrupt to the fourth after it.
four_periods:
        call    sync_tick
        xor     esi, esi
        mov     bx, [TICKS]
        add     bx, 4
.l:     inc     esi
        cmp     [TICKS], bx
        jne     .l
        mov     eax, esi
        ret

; ---------------------------------------------------------------------------
; Masking, in-service blocking, EOI variants, poll, auto-EOI; IRQ0 keeps
; running at about 1 kHz (mode 2, N=1193).
PERIOD          equ (RATE2_N * 1000000000 / PIT_HZ)

irq0_pic_tests:
        cli
        PITLOAD CW0_MODE2, PIT_CH0, RATE2_N
        call    start_irq0
        call    sync_tick

        ; Masked: requests are latched in the IRR but not delivered.
        cli
        in      al, PIC1_DATA
        or      al, 0x01
        out     PIC1_DATA, al
        mov     word [TICKS], 0
        sti
        DELAY   3*PERIOD
        cli
        movzx   eax, word [TICKS]
        CHECK   'IRQ0 masked for 3 periods: interrupts taken', 16, 0
        call    read_irr1
        movzx   eax, al
        CHECK   'master IRR while masked', 8, 0x01
        in      al, PIC1_DATA
        and     al, 0xFE
        out     PIC1_DATA, al
        IRQ_WINDOW
        movzx   eax, word [TICKS]
        CHECK   'unmasked: the latched requests arrive as one', 16, 1

        ; No EOI: IRQ0 stays in service and blocks further IRQ0 requests.
        mov     byte [EOIMODE], EOI_NONE
        mov     word [TICKS], 0
        sti
        DELAY   3*PERIOD
        cli
        movzx   eax, word [TICKS]
        CHECK   'no EOI for 3 periods: interrupts taken', 16, 1
        call    read_isr1
        movzx   eax, al
        CHECK   'master ISR, IRQ0 in service', 8, 0x01
        call    read_irr1
        movzx   eax, al
        CHECK   'master IRR, next request waiting', 8, 0x01
        mov     al, OCW2_SEOI | 3
        out     PIC1_CMD, al
        call    read_isr1
        movzx   eax, al
        CHECK   'specific EOI for IR3: ISR unchanged', 8, 0x01
        mov     al, OCW2_SEOI | 0
        out     PIC1_CMD, al
        call    read_isr1
        movzx   eax, al
        CHECK   'specific EOI for IR0: ISR', 8, 0x00
        mov     byte [EOIMODE], EOI_NONSPEC
        sti                             ; STI shadow: no interrupt yet
        cli
        movzx   eax, word [TICKS]
        CHECK   'sti; cli: nothing taken in the STI shadow', 16, 1
        ; The request is recognized right after the instruction that
        ; follows STI (SDM Vol.2 STI).
        sti
        nop
        cli
        movzx   eax, word [TICKS]
        CHECK   'after the EOI the waiting request is taken', 16, 2
        call    read_isr1
        movzx   eax, al
        CHECK   'ISR after its handler sent a non-specific EOI', 8, 0x00

        ; Poll command (OCW3 0Ch): the next read of the command port
        ; acknowledges the highest request like an INTA cycle.
        DELAY   PERIOD + PERIOD/2
        mov     al, OCW3_POLL
        out     PIC1_CMD, al
        in      al, PIC1_CMD
        mov     bl, al
        call    read_isr1
        mov     bh, al
        call    read_irr1
        mov     cl, al
        mov     al, OCW3_POLL
        out     PIC1_CMD, al
        in      al, PIC1_CMD
        mov     ch, al
        mov     al, OCW2_EOI
        out     PIC1_CMD, al
        call    read_isr1
        mov     dl, al
        movzx   eax, bl
        CHECK   'poll with IRQ0 requested (IF=0)', 8, 0x80
        movzx   eax, bh
        CHECK   'ISR after the poll', 8, 0x01
        movzx   eax, cl
        CHECK   'IRR after the poll', 8, 0x00
        movzx   eax, ch
        CHECK   'poll again, nothing requested', 8, 0x00
        movzx   eax, dl
        CHECK   'ISR after a non-specific EOI', 8, 0x00
        movzx   eax, word [TICKS]
        CHECK   'interrupts taken meanwhile (IF=0)', 16, 2

        ; Automatic EOI (ICW4 bit 1): nothing stays in service.
        call    pic_init_aeoi
        in      al, PIC1_DATA
        and     al, 0xFE
        out     PIC1_DATA, al
        mov     byte [EOIMODE], EOI_READISR
        mov     byte [ISR_IN], 0xEE
        sti
        call    sync_tick
        mov     word [TICKS], 0
        DELAY   2*PERIOD + PERIOD/2
        cli
        movzx   eax, word [TICKS]
        CHECK   'auto-EOI, no EOI sent: interrupts in 2.5 periods', 16, 2
        movzx   eax, byte [ISR_IN]
        CHECK   'auto-EOI: ISR inside the handler', 8, 0x00
        mov     byte [EOIMODE], EOI_NONSPEC
        call    pic_init
        ret

; ---------------------------------------------------------------------------
; Channel 2 and port 61h (IBM PC/AT Technical Reference, "System control
; port B"): bit 0 gates channel 2, bit 1 enables the speaker, bit 5 reads
; OUT2.  IRQ0 is masked again (pic_init).
CH2_N           equ 6000                ; 5,028,571 ns: 1,257,142 iterations
%define POLLITERS(n) (((n) * 1000000000) / (4 * PIT_HZ))

ch2_tests:
        cli
        mov     al, 0x01                ; gate high before the count loads
        out     PORT61, al              ; (QEMU ignores the gate in mode 0)
        PITLOAD CW2_MODE0, PIT_CH2, CH2_N
        in      al, PORT61
        mov     bl, al
        xor     esi, esi
.p:     inc     esi
        in      al, PORT61
        test    al, 0x20
        jz      .p
        mov     bh, al
        mov     al, RB_S2
        out     PIT_CMD, al
        in      al, PIT_CH2
        mov     cl, al
        movzx   eax, bl
        and     al, P61_MASK
        CHECK   'port 61h after loading mode 0 (OUT2 low, gate)', 8, 0x01
        mov     eax, esi
        RAWDEC  'OUT2 poll iterations'
        MEASURED 'mode 0 N=6000: 4-instruction polls of OUT2 / 1000', POLLITERS(CH2_N)*99/100, POLLITERS(CH2_N)*1001/1000, 1000
        movzx   eax, bh
        and     al, P61_MASK
        CHECK   'port 61h at terminal count (OUT2 high)', 8, 0x21
        movzx   eax, cl
        CHECK   'channel 2 read-back status (OUT high, mode 0)', 8, 0xB0
        mov     al, 0x03
        out     PORT61, al
        in      al, PORT61
        and     al, 0x03
        movzx   eax, al
        CHECK   'port 61h speaker data bit', 8, 0x03

        ; A rising gate restarts mode 2: program, let it run, drop and raise
        ; the gate, then read 10.5 clocks after the rising edge.  Channel 0
        ; (mode 2, N=30000) is latched by the same read-back command.
GT      equ HALFTICK(10)
GX      equ GT - 3
        PITLOAD CW0_MODE2, PIT_CH0, LATCH_N     ; channel 0: +0
        PITLOAD CW2_MODE2, PIT_CH2, LATCH_N     ; +6
        DELAY   5000
        xor     al, al
        out     PORT61, al              ; gate low: counting stops
        mov     al, 0x01
        out     PORT61, al              ; +0: rising gate, counter reloads
        DELAY   GX                      ; +1 .. +1+GX
        mov     al, RB_C02              ; +2+GX
        out     PIT_CMD, al             ; +3+GX
        in      al, PIT_CH0
        mov     bl, al
        in      al, PIT_CH0
        mov     bh, al
        in      al, PIT_CH2
        mov     cl, al
        in      al, PIT_CH2
        mov     ch, al
        movzx   eax, cx
        CHECK   'channel 2, 10 clocks after a rising gate', 16, LATCH_N - 10
        ; channel 0 ran for 6 + 5001 + 4 + GX + 3 instructions
        movzx   eax, bx
        CHECK   'channel 0 in the same read-back', 16, LATCH_N - (6+5001+4+GX+3) * PIT_HZ / 1000000000
        xor     al, al
        out     PORT61, al
        ret

%ifdef QEMU_DIVERGENT
; ---------------------------------------------------------------------------
; Behaviour QEMU 7.2 does not model (see README.md); only assembled with
; -DQEMU_DIVERGENT and checked on Bochs.
divergent_tests:
        cli
        ; After a control word the count is "null" until loaded (status bit
        ; 6), and in mode 2 OUT is high (datasheet "Mode 2").
        mov     al, CW0_MODE2
        out     PIT_CMD, al
        mov     al, RB_CS0 | 0x20       ; status only
        out     PIT_CMD, al
        in      al, PIT_CH0
        movzx   eax, al
        CHECK   'status after the control word alone (null count)', 8, 0xF4
        mov     al, 0x10
        out     PIT_CH0, al
        mov     al, 0x27
        out     PIT_CH0, al
        DELAY   5000
        mov     al, RB_CS0 | 0x20
        out     PIT_CMD, al
        in      al, PIT_CH0
        movzx   eax, al
        CHECK   'mode 2 status with a count loaded (OUT high)', 8, 0xB4
        ; Mode 0 counts only while the gate is high.
        mov     al, 0x01
        out     PORT61, al
        PITLOAD CW2_MODE0, PIT_CH2, LATCH_N
        xor     al, al
        out     PORT61, al
        DELAY   HALFTICK(50)
        mov     al, LATCH2
        out     PIT_CMD, al
        in      al, PIT_CH2
        mov     bl, al
        in      al, PIT_CH2
        mov     bh, al
        movzx   eax, bx
        CHECK   'mode 0 with the gate low: counter held', 16, LATCH_N
        ret
%endif
