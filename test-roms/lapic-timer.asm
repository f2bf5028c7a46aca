; lapic-timer.asm - local APIC (xAPIC) registers, timer and self-IPIs ROM.
;
; qemu-flags: -cpu qemu32,+nx -icount shift=0,sleep=off
; anyx86-flags: --clock virtual
;
; Runs in 32-bit protected mode with flat segments (pm32.inc) and reaches
; the local APIC at its default base 0xFEE00000.  Virtual time advances
; 1 ns per instruction (anyx86 --clock virtual, QEMU -icount shift=0), and
; both machines clock the APIC timer at 1 GHz before the divider, so a
; timer count of N with divide-by-D lasts N*D instructions.  Covers (Intel
; SDM Vol.3A chapter 11 "Advanced Programmable Interrupt Controller"):
;   - CPUID.1:EDX.APIC and CPUID.1:ECX.TSC-deadline; IA32_APIC_BASE (BSP,
;     global enable, base 0xFEE00000), the ID and version registers (11.4.6,
;     11.4.8), SVR, TPR, PPR, LDR and DFR after reset, the six LVT entries
;     after reset (11.4.7.1: masked);
;   - software enable through SVR bit 8 (11.4.7.2), TPR/PPR (11.8.3.1);
;   - the divide configuration register (11.5.4, only bits 0, 1, 3);
;   - the one-shot timer: the current count read lazily at two points, the
;     interrupt arriving after N*D instructions (loop iterations counted),
;     the current count 0 afterwards; the periodic timer (interrupts over
;     10.5 periods); an initial count of 0 stopping it; a masked LVT
;     (no interrupt, IRR clear, count still runs out);
;   - TSC-deadline mode (11.5.4.1): the initial count ignored, the MSR
;     read back, the interrupt at the deadline, the MSR cleared after it,
;     writing 0 disarming;
;   - self-IPIs through the ICR (fixed, shorthand self; 11.6.1): IRR with
;     IF=0, ISR and PPR in the handler, both clear after EOI; delivery
;     status idle; the TPR holding off a vector of a lower or equal
;     priority class until it is lowered (11.8.3); two pending vectors
;     taken highest first.
; Not tested: the LINT0/LINT1 pins, NMI/INIT IPIs, the error register,
; x2APIC, logical destinations.

%define PM_START 0x4000
%include "rom.inc"
%include "desc.inc"
%include "lib16.inc"
%define ROM_TITLE "lapic-timer: local APIC registers, timer, TSC deadline, self-IPI"
%include "pm32.inc"

section .pm
bits 32
%include "apic32.inc"

VT              equ 0x40                ; timer vector
TICKS           equ VCOUNT + VT*4

pm_main:
        call    apic_setup
        call    id_tests
        call    reset_tests
        call    enable_tests
        call    oneshot_tests
        call    periodic_tests
        call    masked_tests
%ifdef QEMU_DIVERGENT
        call    deadline_tests          ; QEMU TCG has no TSC-deadline mode
%endif
        call    ipi_tests
        call    priority_tests
        ret

; ---------------------------------------------------------------------------
id_tests:
        mov     eax, 1
        cpuid
        mov     eax, edx
        and     eax, 1 << 9
        CHECK32 'CPUID.1:EDX.APIC (bit 9)', 32, 1 << 9
%ifdef QEMU_DIVERGENT
        mov     eax, ecx
        and     eax, 1 << 24
        CHECK32 'CPUID.1:ECX.TSC-deadline (bit 24)', 32, 1 << 24
%endif
        mov     ecx, MSR_APIC_BASE
        rdmsr
        CHECK32 'IA32_APIC_BASE (base FEE00000, EN, BSP)', 32, 0xFEE00900
        mov     eax, edx
        CHECK32 'IA32_APIC_BASE high dword', 32, 0
        LARD    LA_ID
        CHECK32 'APIC ID register (BSP, ID 0)', 32, 0
        ; Version register: bits 7:0 version (1xh = integrated APIC),
        ; 23:16 max LVT entry (5: timer, thermal, perf, LINT0, LINT1, error).
        LARD    LA_VER
        CHECK32 'version register (1xh integrated, max LVT 5)', 32, 0x00050014
        ret

; Power-up / reset values (SDM 11.4.7.1): IRR, ISR, TMR, ICR, LDR, TPR
; and the timer registers 0, DFR all ones, LVT entries masked, SVR FFh.
reset_tests:
        LARD    LA_SVR
        CHECK32 'SVR after reset (vector FFh, disabled)', 32, 0xFF
        LARD    LA_TPR
        CHECK32 'TPR after reset', 32, 0
        LARD    LA_PPR
        CHECK32 'PPR after reset', 32, 0
        LARD    LA_LDR
        CHECK32 'LDR after reset', 32, 0
        LARD    LA_DFR
        CHECK32 'DFR after reset (flat model)', 32, 0xFFFFFFFF
        LARD    LA_LVT_TIMER
        CHECK32 'LVT timer after reset (masked)', 32, LVT_MASKED
        LARD    LA_LVT_THERMAL
        CHECK32 'LVT thermal after reset (masked)', 32, LVT_MASKED
        LARD    LA_LVT_PERF
        CHECK32 'LVT perf after reset (masked)', 32, LVT_MASKED
        LARD    LA_LVT_LINT0
        CHECK32 'LVT LINT0 after reset (masked)', 32, LVT_MASKED
        LARD    LA_LVT_LINT1
        CHECK32 'LVT LINT1 after reset (masked)', 32, LVT_MASKED
        LARD    LA_LVT_ERROR
        CHECK32 'LVT error after reset (masked)', 32, LVT_MASKED
        LARD    LA_TIMER_INIT
        CHECK32 'timer initial count after reset', 32, 0
        LARD    LA_TIMER_CUR
        CHECK32 'timer current count after reset', 32, 0
        LARD    LA_TIMER_DIV
        CHECK32 'divide configuration after reset', 32, 0
        LARD    LA_IRR + 0x10
        CHECK32 'IRR 20h-3Fh after reset', 32, 0
        LARD    LA_ISR + 0x70
        CHECK32 'ISR E0h-FFh after reset', 32, 0
        ret

enable_tests:
        ; While the APIC is software-disabled, LVT writes keep the mask
        ; bit set (11.4.7.2).
%ifdef QEMU_DIVERGENT
        LAWR    LA_LVT_TIMER, VT
        LARD    LA_LVT_TIMER
        CHECK32 'LVT timer written 40h while disabled (stays masked)', 32, LVT_MASKED | VT
%endif
        LAWR    LA_SVR, SVR_ENABLE | 0xFF
        LARD    LA_SVR
        CHECK32 'SVR after software enable', 32, 0x1FF
        LAWR    LA_TPR, 0x25
        LARD    LA_TPR
        CHECK32 'TPR written 25h', 32, 0x25
        LARD    LA_PPR
        CHECK32 'PPR = TPR with nothing in service', 32, 0x25
        LAWR    LA_TPR, 0
        ; Divide configuration: bits 0, 1 and 3 only.
        LAWR    LA_TIMER_DIV, 0xFFFFFFFF
        LARD    LA_TIMER_DIV
        CHECK32 'divide configuration written FFFFFFFFh', 32, 0x0B
        LAWR    LA_TIMER_DIV, 0x3          ; divide by 16
        LARD    LA_TIMER_DIV
        CHECK32 'divide configuration 3 (divide by 16)', 32, 0x3
        ret

; ---------------------------------------------------------------------------
; One-shot with divide by 16 and N = 16000: 256000 instructions.  The
; current count is read DELAY(800) and DELAY(80000) after the load, i.e.
; about 50 and 5050 ticks later (printed in hundreds: 159 and 109); the
; remaining 10950 ticks (175200 instructions) are then counted in
; iterations of a 3-instruction loop: about 58400 (printed in thousands).
ONE_N           equ 16000

oneshot_tests:
        call    clear_log
        LAWR    LA_LVT_TIMER, VT
        LARD    LA_LVT_TIMER
        CHECK32 'LVT timer one-shot vector 40h', 32, VT
        LAWR    LA_TIMER_INIT, ONE_N
        DELAY32 800
        mov     esi, [LAPIC + LA_TIMER_CUR]
        DELAY32 80000
        mov     edi, [LAPIC + LA_TIMER_CUR]
        xor     ebp, ebp
        sti
.w:     inc     ebp
        cmp     dword [TICKS], 0
        je      .w
        cli
        mov     eax, esi
        MEASURED32 'one-shot current count 50 ticks after load / 100', ONE_N - 60, ONE_N - 40, 100
        mov     eax, edi
        MEASURED32 'one-shot current count 5050 ticks after load / 100', ONE_N - 5060, ONE_N - 5040, 100
        mov     eax, ebp
        MEASURED32 'one-shot loop iterations to the interrupt / 1000', 58000, 58800, 1000
        LARD    LA_TIMER_CUR
        CHECK32 'current count after expiry', 32, 0
        LARD    LA_TIMER_INIT
        CHECK32 'initial count kept after expiry', 32, ONE_N
        DELAY32 300000
        mov     eax, [TICKS]
        CHECK32 'one-shot interrupts (no second one)', 32, 1
        ret

; Periodic with divide by 1, N = 50000: wait for one interrupt to start in
; phase, then 10.5 periods (525000 instructions) bring exactly 10.
PER_N           equ 50000

periodic_tests:
        call    clear_log
        LAWR    LA_TIMER_DIV, 0x0B              ; divide by 1
        LAWR    LA_LVT_TIMER, VT | LVT_PERIODIC
        LAWR    LA_TIMER_INIT, PER_N
        sti
        hlt
        mov     ebx, [TICKS]
        DELAY32 PER_N * 21 / 2
        cli
        mov     eax, [TICKS]
        sub     eax, ebx
        CHECK32 'periodic N=50000: interrupts during 10.5 periods', 32, 10
        LARD    LA_TIMER_CUR
        MEASURED32 'periodic current count half a period in / 1000', 10000, 40000, 1000
        ; Initial count 0 stops the timer (11.5.4).
        LAWR    LA_TIMER_INIT, 0
        mov     ebx, [TICKS]
        sti
        DELAY32 PER_N * 5
        cli
        mov     eax, [TICKS]
        sub     eax, ebx
        CHECK32 'interrupts after initial count 0', 32, 0
        LARD    LA_TIMER_CUR
        CHECK32 'current count after initial count 0', 32, 0
        ret

; A masked timer counts down and reaches 0 but raises nothing (11.5.1).
masked_tests:
        call    clear_log
        LAWR    LA_LVT_TIMER, VT | LVT_MASKED
        LAWR    LA_TIMER_INIT, 10000
        DELAY32 5000
        LARD    LA_TIMER_CUR
        MEASURED32 'masked one-shot current count halfway / 1000', 4000, 6000, 1000
        sti
        DELAY32 20000
        cli
        LARD    LA_TIMER_CUR
        CHECK32 'masked one-shot current count after expiry', 32, 0
        LARD    LA_IRR + 0x20                   ; vectors 40h-5Fh
        CHECK32 'IRR 40h-5Fh after a masked expiry', 32, 0
        mov     eax, [TICKS]
        CHECK32 'interrupts from the masked timer', 32, 0
        ret

; ---------------------------------------------------------------------------
; TSC-deadline mode: both machines run the TSC at 1 GHz of virtual time
; (one tick per instruction).  Deadline = TSC + 150000: a 3-instruction
; loop runs about 50000 times (printed in thousands: 49 or 50 would be
; ambiguous, so the deadline is 160000 -> 53333).
DL_DELTA        equ 160000

deadline_tests:
        call    clear_log
        LAWR    LA_LVT_TIMER, VT | LVT_TSC_DEADLINE
        LARD    LA_LVT_TIMER
        CHECK32 'LVT timer in TSC-deadline mode', 32, VT | LVT_TSC_DEADLINE
        LAWR    LA_TIMER_INIT, 12345            ; ignored in this mode
        LARD    LA_TIMER_INIT
        CHECK32 'initial count write ignored in TSC-deadline mode', 32, 0
        mov     ecx, MSR_TSC_DEADLINE
        rdmsr
        CHECK32 'IA32_TSC_DEADLINE before arming', 32, 0
        rdtsc
        add     eax, DL_DELTA
        adc     edx, 0
        mov     esi, eax
        mov     edi, edx
        mov     ecx, MSR_TSC_DEADLINE
        wrmsr
        rdmsr
        xor     eax, esi
        xor     edx, edi
        or      eax, edx
        CHECK32 'IA32_TSC_DEADLINE reads back what was written (xor)', 32, 0
        xor     ebp, ebp
        sti
.w:     inc     ebp
        cmp     dword [TICKS], 0
        je      .w
        cli
        mov     eax, ebp
        MEASURED32 'TSC deadline +160000: loop iterations / 1000', 53000, 53400, 1000
        mov     ecx, MSR_TSC_DEADLINE
        rdmsr
        or      eax, edx
        CHECK32 'IA32_TSC_DEADLINE after the interrupt (disarmed)', 32, 0
        ; Arm again and disarm by writing 0: nothing arrives.
        rdtsc
        add     eax, 20000
        adc     edx, 0
        mov     ecx, MSR_TSC_DEADLINE
        wrmsr
        xor     eax, eax
        xor     edx, edx
        wrmsr
        sti
        DELAY32 60000
        cli
        mov     eax, [TICKS]
        CHECK32 'TSC-deadline interrupts (one; none after writing 0)', 32, 1
        LAWR    LA_LVT_TIMER, VT | LVT_MASKED
        ret

; ---------------------------------------------------------------------------
; Self-IPIs: ICR low = vector | fixed | edge | shorthand self.
%macro SELF_IPI 1
        LAWR    LA_ICR_HI, 0
        LAWR    LA_ICR_LO, ICR_SELF | (%1)
%endmacro

ipi_tests:
        call    clear_log
        mov     dword [NO_EOI], 1
        SELF_IPI 0x50
        LARD    LA_ICR_LO
        CHECK32 'ICR low after a self-IPI 50h (delivery status idle)', 32, ICR_SELF | 0x50
        LARD    LA_IRR + 0x20
        CHECK32 'IRR 40h-5Fh with IF=0 (bit 10h = vector 50h)', 32, 1 << 16
        sti
        nop
        cli
        VCNT    0x50
        CHECK32 'vector 50h taken after STI', 32, 1
        mov     eax, [SEEN_ISR]
        CHECK32 'ISR 40h-5Fh seen by the handler', 32, 1 << 16
        mov     eax, [SEEN_PPR]
        CHECK32 'PPR seen by the handler (ISR class 5)', 32, 0x50
        LARD    LA_IRR + 0x20
        CHECK32 'IRR 40h-5Fh after delivery', 32, 0
        LARD    LA_ISR + 0x20
        CHECK32 'ISR 40h-5Fh before EOI (handler sent none)', 32, 1 << 16
        LARD    LA_PPR
        CHECK32 'PPR before EOI', 32, 0x50
        ; Vector 55h is in the class of the one in service: held off.
        SELF_IPI 0x55
        sti
        nop
        cli
        VCNT    0x55
        CHECK32 'vector 55h while 50h in service (same class)', 32, 0
        mov     dword [NO_EOI], 0
        LAWR    LA_EOI, 0                       ; ends 50h; 55h follows
        sti
        nop
        cli
        VCNT    0x55
        CHECK32 'vector 55h after the EOI of 50h', 32, 1
        LARD    LA_ISR + 0x20
        CHECK32 'ISR 40h-5Fh after both EOIs', 32, 0
        LARD    LA_PPR
        CHECK32 'PPR after both EOIs', 32, 0
        ret

priority_tests:
        call    clear_log
        LAWR    LA_TPR, 0x50
        SELF_IPI 0x45                           ; class 4 <= TPR class 5
        SELF_IPI 0x55                           ; class 5: also held off
        sti
        nop
        nop
        cli
        mov     eax, [VLOGN]
        CHECK32 'interrupts with TPR=50h (vectors 45h, 55h pending)', 32, 0
        LARD    LA_IRR + 0x20
        CHECK32 'IRR 40h-5Fh holds both', 32, (1 << 5) | (1 << 21)
        LAWR    LA_TPR, 0x3F                    ; both above class 3
        sti
        nop
        nop
        cli
        mov     eax, [VLOGN]
        CHECK32 'interrupts after TPR=3Fh', 32, 2
        movzx   eax, word [VLOG]
        CHECK32 'order taken (55h then 45h)', 16, 0x4555
        LAWR    LA_TPR, 0
        mov     bl, 0x45
        mov     bh, 0x55
        call    other_vectors
        push    eax
        call    clear_log
        pop     eax
        CHECK32 'interrupts through other vectors', 32, 0
        ret
