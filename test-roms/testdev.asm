; testdev.asm - QEMU's pc-testdev (the test device kvm-unit-tests and other
; test kernels written for QEMU drive): its scratch register, its memory
; window and its interrupt-line ports.
;
; qemu-flags: -cpu qemu32,+nx -device pc-testdev
; anyx86-flags: --device pc-testdev
;
; Runs in 32-bit protected mode (pm32.inc) with the local APIC software-
; enabled, the 8259A pair masked (apic32.inc) and the I/O APIC routing the
; lines under test.  The device is described by QEMU's
; hw/misc/pc-testdev.c.  Covers:
;   - the 32-bit scratch register at ports 0xE0-0xE3: dword, word and byte
;     accesses at aligned offsets; an access not aligned to its size is
;     refused by QEMU's memory core (reads 0, a write is dropped); the same
;     register behind the byte-wise window 0xE8-0xEB (0xE9 is the debug
;     console's, in QEMU with -debugcon as here); the flush-page register
;     at 0xE4 accepting a page and changing nothing;
;   - the 64 KiB memory window at 0xFF000000: little-endian byte, word and
;     dword accesses, its first and last dwords, contents kept;
;   - the IRQ-line ports 0x2000-0x2017: a byte write drives ISA line N
;     high (non-zero) or low (zero).  Pin 10 (an ISA line, level-
;     triggered, vector 6Ah) delivers while the line is high and stops
;     once it is low; an edge-triggered pin 11 (vector 6Bh) delivers once
;     per rising edge (a line asserted again while high is no edge: only
;     with -DQEMU_DIVERGENT, QEMU 7.2's I/O APIC delivers for it).  Line 20 (a GSI above the ISA lines, I/O APIC pin
;     20) only with -DQEMU_DIVERGENT: QEMU 7.2 aborts on an assertion
;     (isa_get_irq: isairq < ISA_NUM_IRQS) for lines 16-23.

%define PM_START 0x4000
%include "rom.inc"
%include "desc.inc"
%include "lib16.inc"
%define ROM_TITLE "testdev: QEMU pc-testdev scratch register, memory window, IRQ lines"
%include "pm32.inc"

section .pm
bits 32
%include "apic32.inc"

TD_DATA         equ 0xE0                ; scratch register, any width
TD_FLUSH        equ 0xE4                ; flush page (dword writes)
TD_BYTE         equ 0xE8                ; scratch register, byte-wise
TD_IRQ          equ 0x2000              ; + line: IRQ line level
TD_MEM          equ 0xFF000000          ; 64 KiB window

IOAPIC          equ 0xFEC00000
IOREGSEL        equ IOAPIC + 0x00
IOWIN           equ IOAPIC + 0x10
IOREDTBL        equ 0x10
RTE_MASKED      equ 1 << 16
RTE_LEVEL       equ 1 << 15
RTE_REMOTE_IRR  equ 1 << 14

V_L10           equ 0x6A
V_L11           equ 0x6B
V_L20           equ 0x74

%macro IOWR 2
        mov     dword [IOREGSEL], %1
        mov     dword [IOWIN], %2
%endmacro
%macro IORD 1
        mov     dword [IOREGSEL], %1
        mov     eax, [IOWIN]
%endmacro

; LINE n, level - drive the test device's IRQ line n.
%macro LINE 2
        mov     dx, TD_IRQ + (%1)
        mov     al, %2
        out     dx, al
%endmacro

; TAKE - open an interrupt window of two instructions.
%macro TAKE 0
        sti
        nop
        nop
        cli
%endmacro

pm_main:
        call    apic_setup
        LAWR    LA_SVR, SVR_ENABLE | 0xFF
        call    register_tests
        call    memory_tests
        call    level_tests
%ifdef QEMU_DIVERGENT
        call    gsi_tests
%endif
        call    edge_tests
        mov     bl, V_L10
        mov     bh, V_L20
        call    other_vectors
        sub     eax, [VCOUNT + V_L11*4]
        CHECK32 'interrupts through other vectors', 32, 0
        ret

; ---------------------------------------------------------------------------
register_tests:
        mov     eax, 0x12345678
        out     TD_DATA, eax
        in      eax, TD_DATA
        CHECK32 'scratch dword', 32, 0x12345678
        xor     eax, eax
        in      al, TD_DATA + 1
        CHECK32 'scratch byte 1', 32, 0x56
        in      ax, TD_DATA + 2
        CHECK32 'scratch word at 2', 32, 0x1234
        in      eax, TD_DATA + 3
        CHECK32 'scratch dword at 3 (unaligned: reads 0)', 32, 0
        xor     eax, eax
        in      al, TD_BYTE
        CHECK32 'byte window 0xE8', 32, 0x78
        in      al, TD_BYTE + 3
        CHECK32 'byte window 0xEB', 32, 0x12
        mov     al, 0xAB
        out     TD_BYTE + 2, al
        in      eax, TD_DATA
        CHECK32 'scratch after a byte to 0xEA', 32, 0x12AB5678
        mov     eax, 0xFFFFCDEF
        out     TD_DATA + 2, ax
        in      eax, TD_DATA
        CHECK32 'scratch after a word at 2', 32, 0xCDEF5678
        mov     ax, 0x1111
        out     TD_DATA + 1, ax
        in      eax, TD_DATA
        CHECK32 'scratch after a word at 1 (unaligned: dropped)', 32, 0xCDEF5678
        mov     eax, 0x00001000
        out     TD_FLUSH, eax
        in      eax, TD_DATA
        CHECK32 'scratch after a page flush', 32, 0xCDEF5678
        ret

; ---------------------------------------------------------------------------
memory_tests:
        mov     dword [TD_MEM], 0x04030201
        mov     dword [TD_MEM + 4], 0x08070605
        movzx   eax, byte [TD_MEM + 2]
        CHECK32 'window byte 2', 32, 0x03
        movzx   eax, word [TD_MEM + 3]
        CHECK32 'window word at 3', 32, 0x0504
        mov     eax, [TD_MEM + 2]
        CHECK32 'window dword at 2', 32, 0x06050403
        mov     byte [TD_MEM + 1], 0xEE
        mov     eax, [TD_MEM]
        CHECK32 'window after a byte store', 32, 0x0403EE01
        mov     dword [TD_MEM + 0xFFFC], 0xCAFEF00D
        mov     eax, [TD_MEM + 0xFFFC]
        CHECK32 'window last dword', 32, 0xCAFEF00D
        mov     eax, [TD_MEM + 4]
        CHECK32 'window contents kept', 32, 0x08070605
        ret

; ---------------------------------------------------------------------------
; An ISA line (10) on a level-triggered I/O APIC pin: delivered while the
; line is high (again after each EOI), not once it is low.
level_tests:
        call    clear_log
        mov     dword [NO_EOI], 1
        IOWR    IOREDTBL + 2*10 + 1, 0
        IOWR    IOREDTBL + 2*10, RTE_LEVEL | V_L10
        TAKE
        VCNT    V_L10
        CHECK32 'line 10 low: deliveries', 32, 0
        LINE    10, 1
        TAKE
        VCNT    V_L10
        CHECK32 'line 10 high: deliveries', 32, 1
        IORD    IOREDTBL + 2*10
        CHECK32 'pin 10 (remote IRR set)', 32, RTE_LEVEL | RTE_REMOTE_IRR | V_L10
        LAWR    LA_EOI, 0
        TAKE
        VCNT    V_L10
        CHECK32 'line 10 still high after EOI: deliveries', 32, 2
        LINE    10, 0
        LAWR    LA_EOI, 0
        TAKE
        VCNT    V_L10
        CHECK32 'line 10 low after EOI: deliveries', 32, 2
        IORD    IOREDTBL + 2*10
        CHECK32 'pin 10 (remote IRR clear)', 32, RTE_LEVEL | V_L10
        IOWR    IOREDTBL + 2*10, RTE_MASKED
        mov     dword [NO_EOI], 0
        ret

; ---------------------------------------------------------------------------
; Line 20: above the ISA lines, wired only to I/O APIC pin 20.
gsi_tests:
        mov     dword [NO_EOI], 1
        IOWR    IOREDTBL + 2*20 + 1, 0
        IOWR    IOREDTBL + 2*20, RTE_LEVEL | V_L20
        LINE    20, 0x80
        TAKE
        VCNT    V_L20
        CHECK32 'line 20 high: deliveries', 32, 1
        LINE    20, 0
        LAWR    LA_EOI, 0
        TAKE
        VCNT    V_L20
        CHECK32 'line 20 low after EOI: deliveries', 32, 1
        IOWR    IOREDTBL + 2*20, RTE_MASKED
        mov     dword [NO_EOI], 0
        ret

; ---------------------------------------------------------------------------
; Line 11 on an edge-triggered pin: one delivery per rising edge, none for
; a line held high or a falling edge.
edge_tests:
        IOWR    IOREDTBL + 2*11 + 1, 0
        IOWR    IOREDTBL + 2*11, V_L11
        LINE    11, 1
        TAKE
        VCNT    V_L11
        CHECK32 'line 11 raised: edge deliveries', 32, 1
        LINE    11, 0
        TAKE
        VCNT    V_L11
        CHECK32 'line 11 lowered: edge deliveries', 32, 1
        LINE    11, 1
        TAKE
        LINE    11, 0
        VCNT    V_L11
        CHECK32 'line 11 raised again: edge deliveries', 32, 2
%ifdef QEMU_DIVERGENT
        ; 82093AA datasheet 3.2.4: an edge-sensitive pin triggers on the
        ; rising edge; a second write of 1 to a line already high is no
        ; edge.  QEMU 7.2's I/O APIC delivers again on every assertion.
        LINE    11, 1
        TAKE
        LINE    11, 1
        TAKE
        LINE    11, 0
        VCNT    V_L11
        CHECK32 'line 11 raised twice without lowering: edge deliveries', 32, 3
%endif
        IOWR    IOREDTBL + 2*11, RTE_MASKED
        ret
