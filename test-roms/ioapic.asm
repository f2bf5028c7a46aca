; ioapic.asm - 82093AA I/O APIC ROM: registers, ISA interrupts routed to
; the local APIC, edge and level delivery, remote IRR and EOI.
;
; qemu-flags: -cpu qemu32,+nx -icount shift=0,sleep=off
; anyx86-flags: --clock virtual
;
; Runs in 32-bit protected mode (pm32.inc) with the local APIC software-
; enabled and the 8259A pair initialized and fully masked; the I/O APIC
; sits at 0xFEC00000 (IOREGSEL at +00h, IOWIN at +10h, the EOI register of
; the version-20h part at +40h).  Time is counted in instructions (1 ns
; each, as in the other device ROMs).  Covers (Intel 82093AA datasheet,
; 290566, section 3; ICH I/O APIC EOI register; Intel SDM Vol.3A 11.8.5):
;   - IOREGSEL read back, IOAPICID, IOAPICVER (24 entries, version 20h),
;     IOAPICARB, the redirection table at reset (masked), its read-only
;     bits (delivery status, remote IRR), the polarity bit stored;
;   - the PIT's IRQ0 on pin 2 (edge, mode 2 at about 1 kHz): interrupts
;     over 10.5 periods, the 8259A (masked) delivering nothing meanwhile;
;     a masked pin delivering nothing;
;   - the RTC's IRQ8 on pin 8 (edge, periodic interrupt; the routing only);
;   - a level-triggered pin (COM1's THRE interrupt on IRQ4 in loopback,
;     which stays asserted until IIR is read): remote IRR set on delivery,
;     the local APIC's TMR bit, no second delivery while remote IRR is set,
;     the EOI broadcast clearing remote IRR and the still-asserted line
;     delivering again, the EOI register clearing remote IRR, and no more
;     deliveries once the line drops.
; An edge that arrived while the pin was masked is not delivered when it is
; unmasked (datasheet: "edge-sensitive interrupts signaled on a masked
; interrupt pin are ignored"); QEMU and anyx86 agree.
; Not tested: logical destinations, lowest priority, NMI/INIT/ExtINT
; delivery modes, the polarity bit's effect (QEMU and anyx86 store it
; without inverting the pin).

%define PM_START 0x4000
%include "rom.inc"
%include "desc.inc"
%include "lib16.inc"
%define ROM_TITLE "ioapic: 82093AA I/O APIC, PIT/RTC/COM1 routed to the local APIC"
%include "pm32.inc"

section .pm
bits 32
%include "apic32.inc"

IOAPIC          equ 0xFEC00000
IOREGSEL        equ IOAPIC + 0x00
IOWIN           equ IOAPIC + 0x10
IOEOI           equ IOAPIC + 0x40
IOAPICID        equ 0x00
IOAPICVER       equ 0x01
IOAPICARB       equ 0x02
IOREDTBL        equ 0x10                ; + 2*pin (low), + 2*pin + 1 (high)

RTE_MASKED      equ 1 << 16
RTE_LEVEL       equ 1 << 15
RTE_REMOTE_IRR  equ 1 << 14
RTE_ACTIVE_LOW  equ 1 << 13
RTE_PENDING     equ 1 << 12

V_PIT           equ 0x62
V_COM1          equ 0x64
V_RTC           equ 0x68

PIT_CH0         equ 0x40
PIT_CMD         equ 0x43
PIT_N           equ 1193                ; mode 2: 999847 ns per period
PIT_PERIOD      equ 999847

COM1            equ 0x3F8
C_IER           equ COM1 + 1
C_IIR           equ COM1 + 2
C_MCR           equ COM1 + 4

; IORD index - EAX <- I/O APIC register.  IOWR index, value.
%macro IORD 1
        mov     dword [IOREGSEL], %1
        mov     eax, [IOWIN]
%endmacro
%macro IOWR 2
        mov     dword [IOREGSEL], %1
        mov     dword [IOWIN], %2
%endmacro

pm_main:
        call    apic_setup
        LAWR    LA_SVR, SVR_ENABLE | 0xFF
        call    register_tests
        call    pit_tests
        call    rtc_tests
        call    level_tests
        mov     bl, V_PIT
        mov     bh, V_RTC
        call    other_vectors
        sub     eax, [VCOUNT + V_COM1*4]
        CHECK32 'interrupts through other vectors', 32, 0
        ret

; ---------------------------------------------------------------------------
register_tests:
        mov     dword [IOREGSEL], 0x15
        mov     eax, [IOREGSEL]
        CHECK32 'IOREGSEL read back', 32, 0x15
        IORD    IOAPICID
        CHECK32 'IOAPICID (ID 0)', 32, 0
        IORD    IOAPICVER
        CHECK32 'IOAPICVER (max entry 17h, version 20h)', 32, 0x00170020
        IORD    IOAPICARB
        CHECK32 'IOAPICARB', 32, 0
        IORD    IOREDTBL + 0
        CHECK32 'pin 0 low at reset (masked)', 32, RTE_MASKED
        IORD    IOREDTBL + 2*2
        CHECK32 'pin 2 low at reset (masked)', 32, RTE_MASKED
        IORD    IOREDTBL + 2*23
        CHECK32 'pin 23 low at reset (masked)', 32, RTE_MASKED
        IORD    IOREDTBL + 2*23 + 1
        CHECK32 'pin 23 high at reset', 32, 0
        ; Every writable bit of the low dword set, the pin kept masked:
        ; delivery status (12) and remote IRR (14) are read-only.
        IOWR    IOREDTBL + 2*23, 0x0001BFFF
        IORD    IOREDTBL + 2*23
        CHECK32 'pin 23 low written 1BFFFh (bits 12, 14 read-only)', 32, 0x0001AFFF
        IOWR    IOREDTBL + 2*23 + 1, 0xFF000000
        IORD    IOREDTBL + 2*23 + 1
        CHECK32 'pin 23 high written FF000000h (destination)', 32, 0xFF000000
        IOWR    IOREDTBL + 2*23, RTE_MASKED
        IOWR    IOREDTBL + 2*23 + 1, 0
        IOWR    IOREDTBL + 2*4, RTE_MASKED | RTE_ACTIVE_LOW | V_COM1
        IORD    IOREDTBL + 2*4
        CHECK32 'pin 4 polarity bit stored', 32, RTE_MASKED | RTE_ACTIVE_LOW | V_COM1
        IOWR    IOREDTBL + 2*4, RTE_MASKED
        ret

; ---------------------------------------------------------------------------
; pit_tests: PIT channel 0 mode 2 on pin 2, edge, vector 62h, physical
; destination APIC 0.  Wait for one interrupt to get in phase, then 10.5
; periods bring exactly 10.
pit_tests:
        call    clear_log
        IOWR    IOREDTBL + 2*2 + 1, 0
        IOWR    IOREDTBL + 2*2, V_PIT
        IORD    IOREDTBL + 2*2
        CHECK32 'pin 2 programmed (edge, fixed, vector 62h)', 32, V_PIT
        mov     al, 0x34                ; channel 0, LSB/MSB, mode 2
        out     PIT_CMD, al
        mov     al, PIT_N & 0xFF
        out     PIT_CH0, al
        mov     al, PIT_N >> 8
        out     PIT_CH0, al
        sti
        hlt
        cli
        mov     ebx, [VCOUNT + V_PIT*4]
        sti
        DELAY32 PIT_PERIOD * 21 / 2
        cli
        mov     eax, [VCOUNT + V_PIT*4]
        sub     eax, ebx
        CHECK32 'PIT IRQ0 via pin 2: interrupts during 10.5 periods', 32, 10
        VCNT    0x20
        CHECK32 'interrupts through the masked 8259A (vector 20h)', 32, 0
        mov     al, 0x0B                ; OCW3: read ISR
        out     0x20, al
        in      al, 0x20
        movzx   eax, al
        CHECK32 '8259A master ISR', 8, 0
        IORD    IOREDTBL + 2*2
        CHECK32 'pin 2 after edge deliveries (no remote IRR)', 32, V_PIT
        ; Masked: nothing arrives over 5.5 periods.
        IOWR    IOREDTBL + 2*2, RTE_MASKED | V_PIT
        mov     ebx, [VCOUNT + V_PIT*4]
        sti
        DELAY32 PIT_PERIOD * 11 / 2
        cli
        mov     eax, [VCOUNT + V_PIT*4]
        sub     eax, ebx
        CHECK32 'interrupts during 5.5 periods with pin 2 masked', 32, 0
        ; Unmasking: an edge seen while masked is not delivered late.
        mov     ebx, [VCOUNT + V_PIT*4]
        IOWR    IOREDTBL + 2*2, V_PIT
        sti
        nop
        cli
        mov     eax, [VCOUNT + V_PIT*4]
        sub     eax, ebx
        CHECK32 'interrupts right after unmasking pin 2 (masked edge dropped)', 32, 0
        ; ...while the next edge is delivered (the pin is live again).
        sti
        hlt
        cli
        mov     eax, [VCOUNT + V_PIT*4]
        sub     eax, ebx
        CHECK32 'interrupts up to the next PIT edge after unmasking', 32, 1
        IOWR    IOREDTBL + 2*2, RTE_MASKED | V_PIT
        mov     al, 0x30                ; channel 0 mode 0, no count: quiet
        out     PIT_CMD, al
        ret

; ---------------------------------------------------------------------------
; rtc_tests: RTC periodic interrupt (rate 6, 1024 Hz) on pin 8, edge,
; vector 68h.  The handler reads register C (the RTC holds IRQ8 high until
; then).  Only the routing is checked, not the rate: QEMU's pc machine
; raises the RTC interrupt again when register C is read while it counts
; "coalesced" ticks (its lost-tick slewing), 45 interrupts in 10.5 periods
; here; rtc.asm measures the rate through the 8259A.

rtc_hook:
        cmp     bl, V_RTC
        jne     .r
        mov     al, 0x0C
        out     0x70, al
        in      al, 0x71
.r:     ret

rtc_tests:
        call    clear_log
        mov     dword [VHOOK], rtc_hook
        IOWR    IOREDTBL + 2*8 + 1, 0
        IOWR    IOREDTBL + 2*8, V_RTC
        mov     al, 0x0B
        out     0x70, al
        mov     al, 0x42                ; PIE, 24-hour, BCD
        out     0x71, al
        mov     al, 0x0C                ; clear any old flags
        out     0x70, al
        in      al, 0x71
        sti
        hlt
        cli
        VCNT    V_RTC
        test    eax, eax
        setnz   al
        movzx   eax, al
        CHECK32 'RTC IRQ8 via pin 8: periodic interrupt on vector 68h', 32, 1
        mov     al, 0x0B
        out     0x70, al
        mov     al, 0x02                ; PIE off
        out     0x71, al
        mov     al, 0x0C
        out     0x70, al
        in      al, 0x71
        IOWR    IOREDTBL + 2*8, RTE_MASKED | V_RTC
        mov     dword [VHOOK], 0
        ret

; ---------------------------------------------------------------------------
; level_tests: COM1 in loopback with OUT2 (the PC's interrupt enable gate)
; and IER.ETBEI: the transmitter holding register is empty, so the THRE
; interrupt asserts IRQ4 and keeps it high until IIR is read (16550A
; datasheet, "Interrupt Identification Register").  Pin 4: level, active
; high, vector 64h.

level_tests:
        call    clear_log
        mov     dx, C_MCR
        mov     al, 0x18                ; loopback, OUT2
        out     dx, al
        mov     dword [NO_EOI], 1
        IOWR    IOREDTBL + 2*4 + 1, 0
        IOWR    IOREDTBL + 2*4, RTE_LEVEL | V_COM1
        mov     dx, C_IER
        mov     al, 0x02                ; ETBEI: THRE interrupt asserted
        out     dx, al
        sti
        nop
        cli
        VCNT    V_COM1
        CHECK32 'level pin 4 (line high): deliveries', 32, 1
        IORD    IOREDTBL + 2*4
        CHECK32 'pin 4 after delivery (remote IRR set)', 32, RTE_LEVEL | RTE_REMOTE_IRR | V_COM1
        LARD    LA_TMR + 0x30           ; vectors 60h-7Fh
        CHECK32 'local APIC TMR 60h-7Fh (vector 64h level)', 32, 1 << 4
        LARD    LA_IRR + 0x30
        CHECK32 'local APIC IRR 60h-7Fh (no second message)', 32, 0
        ; EOI to the local APIC: broadcast to the I/O APIC, remote IRR
        ; cleared, the line is still high, so the pin delivers again.
        LAWR    LA_EOI, 0
        LARD    LA_IRR + 0x30
        CHECK32 'local APIC IRR 60h-7Fh after the EOI broadcast', 32, 1 << 4
        IORD    IOREDTBL + 2*4
        CHECK32 'pin 4 after the EOI broadcast (delivered again)', 32, RTE_LEVEL | RTE_REMOTE_IRR | V_COM1
        sti
        nop
        cli
        VCNT    V_COM1
        CHECK32 'level pin 4: deliveries after the EOI broadcast', 32, 2
        ; Drop the line (reading IIR clears the THRE interrupt), then the
        ; EOI register clears remote IRR: nothing more to deliver.
        mov     dx, C_IIR
        in      al, dx
        movzx   eax, al
        CHECK32 'COM1 IIR (THRE interrupt)', 8, 0x02
        IORD    IOREDTBL + 2*4
        CHECK32 'pin 4 with the line low (remote IRR still set)', 32, RTE_LEVEL | RTE_REMOTE_IRR | V_COM1
        mov     dword [IOEOI], V_COM1
        IORD    IOREDTBL + 2*4
        CHECK32 'pin 4 after the EOI register (remote IRR clear)', 32, RTE_LEVEL | V_COM1
        LAWR    LA_EOI, 0               ; the one still in service
        LARD    LA_ISR + 0x30
        CHECK32 'local APIC ISR 60h-7Fh after EOI', 32, 0
        ; The EOI register with another vector leaves remote IRR alone.
        mov     dx, C_IER               ; ETBEI 0 -> 1: THRE again
        mov     al, 0
        out     dx, al
        mov     al, 0x02
        out     dx, al
        sti
        nop
        cli
        VCNT    V_COM1
        CHECK32 'level pin 4: deliveries after THRE re-armed', 32, 3
        mov     dword [IOEOI], V_COM1 + 1
        IORD    IOREDTBL + 2*4
        CHECK32 'pin 4 after EOI register with vector 65h (unchanged)', 32, RTE_LEVEL | RTE_REMOTE_IRR | V_COM1
        mov     dx, C_IIR
        in      al, dx
        mov     dword [NO_EOI], 0
        LAWR    LA_EOI, 0
        IORD    IOREDTBL + 2*4
        CHECK32 'pin 4 after the EOI broadcast with the line low', 32, RTE_LEVEL | V_COM1
        sti
        nop
        nop
        cli
        VCNT    V_COM1
        CHECK32 'level pin 4: deliveries in total', 32, 3
        IOWR    IOREDTBL + 2*4, RTE_MASKED
        mov     dx, C_IER
        mov     al, 0
        out     dx, al
        mov     dx, C_MCR
        out     dx, al
        ret
