; hpet.asm - High Precision Event Timer ROM (QEMU pc's HPET at 0xFED00000).
;
; qemu-flags: -cpu qemu32,+nx -icount shift=0,sleep=off
; anyx86-flags: --clock virtual
;
; Runs in 32-bit protected mode (pm32.inc) with the local APIC enabled, the
; 8259A pair masked and interrupts taken through the I/O APIC.  One
; instruction is 1 ns of virtual time and the HPET counts at 100 MHz, so
; the main counter advances once per 10 instructions.  Covers (IA-PC HPET
; Specification 1.0a, 2.3 "Register Descriptions", 2.3.9 "Timer Interrupt
; Mapping"):
;   - the capabilities register (vendor 8086h, revision, number of timers,
;     64-bit counter, legacy replacement capable, period 10^7 fs), the
;     configuration and timer configuration registers at reset (route
;     capability, periodic and 64-bit capable);
;   - the main counter halted and writable while ENABLE_CNF is clear, and
;     counting 1 per 10 instructions while set;
;   - timer 0 one-shot and periodic (Tn_VAL_SET_CNF) through legacy
;     replacement routing to IRQ0 (I/O APIC pin 2), timer 1 to IRQ8 (pin
;     8), both edge-triggered;
;   - timer 2 routed by Tn_INT_ROUTE_CNF to I/O APIC pin 2 (the only pin
;     in the route capability QEMU 7.2 offers), level-triggered: the interrupt status bit, write-1-to-
;     clear dropping the line;
;   - a 32-bit mode timer on a counter about to wrap past FFFFFFFFh.
; -DUNRESOLVED adds timer 0 periodic (10 interrupts over 10.5 periods) and
; timer 1 under legacy replacement on IRQ8, where QEMU 7.2 gives 20
; interrupts and delivers timer 1 through IRQ0's vector; not yet settled
; which machine is wrong (see the README).
; Not tested: FSB delivery (not offered), timer registers written while
; the counter runs, the 8259A path of the legacy routes.

%define PM_START 0x4000
%include "rom.inc"
%include "desc.inc"
%include "lib16.inc"
%define ROM_TITLE "hpet: HPET counter and timers through legacy and I/O APIC routes"
%include "pm32.inc"

section .pm
bits 32
%include "apic32.inc"

HPET            equ 0xFED00000
H_CAP           equ 0x000
H_CONF          equ 0x010
H_STS           equ 0x020
H_COUNT         equ 0x0F0
%define H_TCONF(n) (0x100 + 0x20*(n))
%define H_TCMP(n)  (0x108 + 0x20*(n))
CONF_ENABLE     equ 1 << 0
CONF_LEGACY     equ 1 << 1
T_LEVEL         equ 1 << 1
T_ENB           equ 1 << 2
T_PERIODIC      equ 1 << 3
T_VAL_SET       equ 1 << 6
T_32MODE        equ 1 << 8
T_ROUTE_SHIFT   equ 9

IOAPIC          equ 0xFEC00000
RTE_LEVEL       equ 1 << 15
RTE_REMOTE_IRR  equ 1 << 14
RTE_MASKED      equ 1 << 16
V_T0            equ 0x62                ; pin 2
V_T1            equ 0x68                ; pin 8
V_T2            equ 0x74                ; pin 2, by Tn_INT_ROUTE_CNF
T2_PIN          equ 2

%macro HRD 1
        mov     eax, [HPET + (%1)]
%endmacro
%macro HWR 2
        mov     dword [HPET + (%1)], %2
%endmacro
; IOWR pin, low dword (high dword 0: physical destination APIC 0)
%macro RTE 2
        mov     dword [IOAPIC], 0x10 + 2*(%1) + 1
        mov     dword [IOAPIC + 0x10], 0
        mov     dword [IOAPIC], 0x10 + 2*(%1)
        mov     dword [IOAPIC + 0x10], %2
%endmacro
%macro RTERD 1
        mov     dword [IOAPIC], 0x10 + 2*(%1)
        mov     eax, [IOAPIC + 0x10]
%endmacro

; halt_reset: counter stopped and set to EAX (high dword 0).
halt_set:
        HWR     H_CONF, 0
        mov     [HPET + H_COUNT], eax
        HWR     H_COUNT + 4, 0
        ret

pm_main:
        call    apic_setup
        LAWR    LA_SVR, SVR_ENABLE | 0xFF
        RTE     2, V_T0
        RTE     8, V_T1
        call    reg_tests
        call    counter_tests
        call    oneshot_tests
%ifdef UNRESOLVED
        call    periodic_tests          ; see the README: QEMU and anyx86
        call    timer1_tests            ; disagree, not settled yet
%endif
        RTE     2, RTE_MASKED
        call    level_tests
        RTE     2, V_T0
        call    wrap_tests
        RTE     2, RTE_MASKED
        RTE     8, RTE_MASKED
        ret

reg_tests:
        HRD     H_CAP
        CHECK32 'capabilities low (8086h, legacy, 64-bit, 3 timers, rev 1)', 32, 0x8086A201
        HRD     H_CAP + 4
        CHECK32 'counter period (fs, 10 ns)', 32, 10000000
        HRD     H_CONF
        CHECK32 'configuration at reset', 32, 0
        HRD     H_STS
        CHECK32 'interrupt status at reset', 32, 0
        HRD     H_COUNT
        CHECK32 'main counter at reset (halted)', 32, 0
        HRD     H_TCONF(0)
        CHECK32 'timer 0 configuration (periodic and 64-bit capable)', 32, 0x30
        HRD     H_TCONF(0) + 4
        CHECK32 'timer 0 route capability (I/O APIC pin 2)', 32, 0x4
        HRD     H_TCONF(2)
        CHECK32 'timer 2 configuration', 32, 0x30
        HRD     H_TCONF(2) + 4
        CHECK32 'timer 2 route capability (I/O APIC pin 2)', 32, 0x4
        ret

; The counter holds while halted and takes writes; enabled it counts
; 1 per 10 ns: 105000 instructions -> about 10500 ticks (in hundreds: 105).
counter_tests:
        mov     eax, 0x1234
        call    halt_set
        DELAY32 1000
        HRD     H_COUNT
        CHECK32 'main counter written 1234h while halted, 1000 instr later', 32, 0x1234
        HWR     H_CONF, CONF_ENABLE
        DELAY32 105000
        HRD     H_COUNT
        HWR     H_CONF, 0
        sub     eax, 0x1234
        MEASURED32 'ticks over 105000 instructions / 100', 10480, 10520, 100
        HRD     H_COUNT
        mov     ebx, eax
        DELAY32 5000
        HRD     H_COUNT
        sub     eax, ebx
        CHECK32 'counter change over 5000 instructions while halted', 32, 0
        HRD     H_COUNT + 4
        CHECK32 'main counter high dword', 32, 0
        ret

; Timer 0 one-shot at 20000 ticks (200000 instructions) with legacy
; replacement routing: IRQ0 -> pin 2.  A 3-instruction loop counts about
; 66666 iterations (printed in thousands).
oneshot_tests:
        call    clear_log
        xor     eax, eax
        call    halt_set
        HWR     H_TCONF(0), T_ENB
        HWR     H_TCMP(0), 20000
        HWR     H_TCMP(0) + 4, 0
        HWR     H_CONF, CONF_ENABLE | CONF_LEGACY
        xor     ebp, ebp
        sti
.w:     inc     ebp
        cmp     dword [VCOUNT + V_T0*4], 0
        je      .w
        cli
        mov     eax, ebp
        MEASURED32 'timer 0 one-shot 20000 ticks: loop iterations / 1000', 66000, 67000, 1000
        sti
        DELAY32 300000
        cli
        VCNT    V_T0
        CHECK32 'timer 0 one-shot interrupts (one)', 32, 1
        HRD     H_TCMP(0)
        CHECK32 'timer 0 comparator after a one-shot (unchanged)', 32, 20000
        ret

; Periodic timer 0, VAL_SET: comparator and period 5000 ticks (50000
; instructions); after one interrupt, 10.5 periods bring exactly 10.
periodic_tests:
        call    clear_log
        xor     eax, eax
        call    halt_set
        HWR     H_TCONF(0), T_ENB | T_PERIODIC | T_VAL_SET
        HWR     H_TCMP(0), 5000
        HWR     H_TCMP(0) + 4, 0
        HRD     H_TCONF(0)
        CHECK32 'timer 0 periodic configuration (VAL_SET reads 0)', 32, 0x30 | T_ENB | T_PERIODIC
        HWR     H_CONF, CONF_ENABLE | CONF_LEGACY
        sti
        hlt
        mov     ebx, [VCOUNT + V_T0*4]
        DELAY32 50000 * 21 / 2
        cli
        mov     eax, [VCOUNT + V_T0*4]
        sub     eax, ebx
        CHECK32 'timer 0 periodic 5000 ticks: interrupts during 10.5 periods', 32, 10
        HRD     H_TCMP(0)
        mov     ebx, eax
        HRD     H_COUNT
        sub     ebx, eax
        mov     eax, ebx
        MEASURED32 'comparator ahead of the counter / 1000', 1, 5000, 1000
        HWR     H_TCONF(0), 0
        ret

; Timer 1 under legacy replacement reaches IRQ8 (pin 8).
timer1_tests:
        call    clear_log
        xor     eax, eax
        call    halt_set
        HWR     H_TCONF(1), T_ENB
        HWR     H_TCMP(1), 3000
        HWR     H_TCMP(1) + 4, 0
        HWR     H_CONF, CONF_ENABLE | CONF_LEGACY
        sti
        hlt
        cli
        VCNT    V_T1
        CHECK32 'timer 1 (legacy IRQ8, pin 8) interrupts', 32, 1
        VCNT    V_T0
        CHECK32 'timer 0 (disabled) interrupts meanwhile', 32, 0
        HWR     H_TCONF(1), 0
        ret

; Timer 2 to pin 20, level-triggered, legacy routing off.
level_tests:
        call    clear_log
        xor     eax, eax
        call    halt_set
        RTE     T2_PIN, RTE_LEVEL | V_T2
        HWR     H_TCONF(2), T_ENB | T_LEVEL | (T2_PIN << T_ROUTE_SHIFT)
        HRD     H_TCONF(2)
        CHECK32 'timer 2 configuration (level, route 2)', 32, 0x30 | T_ENB | T_LEVEL | (T2_PIN << T_ROUTE_SHIFT)
        HWR     H_TCMP(2), 2000
        HWR     H_TCMP(2) + 4, 0
        mov     dword [NO_EOI], 1
        HWR     H_CONF, CONF_ENABLE
        sti
        hlt
        cli
        VCNT    V_T2
        CHECK32 'timer 2 level interrupts', 32, 1
        HRD     H_STS
        CHECK32 'interrupt status (T2_INT_STS)', 32, 1 << 2
        RTERD   T2_PIN
        CHECK32 'pin 2 after delivery (remote IRR)', 32, RTE_LEVEL | RTE_REMOTE_IRR | V_T2
        HWR     H_STS, 1 << 2                   ; write 1 to clear
        HRD     H_STS
        CHECK32 'interrupt status after writing 1', 32, 0
        mov     dword [NO_EOI], 0
        LAWR    LA_EOI, 0
        RTERD   T2_PIN
        CHECK32 'pin 2 after EOI (line low, remote IRR clear)', 32, RTE_LEVEL | V_T2
        sti
        nop
        nop
        cli
        VCNT    V_T2
        CHECK32 'timer 2 level interrupts in total', 32, 1
        HWR     H_TCONF(2), 0
        RTE     T2_PIN, RTE_MASKED
        ret

; 32-bit mode: counter at FFFFF000h, timer 0 one-shot, comparator 800h.
; A 32-bit one-shot timer also interrupts when the counter wraps past
; FFFFFFFFh (spec 2.3.9.2.1): first at the wrap, FFFh ticks in (40950
; instructions, about 13650 loop iterations), then at the match 1800h
; ticks in.
wrap_tests:
        call    clear_log
        mov     eax, 0xFFFFF000
        call    halt_set
        HWR     H_TCONF(0), T_ENB | T_32MODE
        HWR     H_TCMP(0), 0x800
        HRD     H_TCMP(0) + 4
        CHECK32 'timer 0 comparator high dword in 32-bit mode', 32, 0
        HWR     H_CONF, CONF_ENABLE | CONF_LEGACY
        xor     ebp, ebp
        mov     ebx, [VCOUNT + V_T0*4]
        sti
.w:     inc     ebp
        cmp     ebx, [VCOUNT + V_T0*4]
        je      .w
        cli
        mov     eax, ebp

        MEASURED32 '32-bit timer 0: loop iterations to the wrap interrupt / 1000', 13300, 13900, 1000
        sti
        DELAY32 100000
        cli
        VCNT    V_T0
        CHECK32 '32-bit one-shot interrupts (wrap, then match)', 32, 2
        HRD     H_COUNT + 4
        CHECK32 'main counter high dword after the wrap', 32, 1
        HWR     H_CONF, 0
        HWR     H_TCONF(0), 0
        ret
