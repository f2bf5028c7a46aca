; uart-loopback.asm - 16550A UART (COM1) in loopback mode, with interrupts.
;
; qemu-flags: -cpu qemu32,+nx,-apic -icount shift=0,sleep=off
; anyx86-flags: --machine isa --clock virtual
;
; Runs in real mode with a real-mode IVT.  Uses COM1 (3F8h, IRQ4) in the
; 16550's loopback mode (MCR bit 4), where the transmitter feeds the receiver
; and the modem-control outputs feed the modem-status inputs, so nothing
; outside the chip is needed (TI PC16550D datasheet, 8.5-8.11).  Covers:
;   - the scratch register, the divisor latch behind LCR.DLAB, IER and MCR
;     bits that do not exist reading 0;
;   - MSR in loopback: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD;
;   - polled echo: LSR DR/THRE/TEMT, the 16-byte receive FIFO, overrun (OE
;     set, read-cleared, the 17th byte lost) and, with the FIFOs off, a
;     second byte overwriting an unread one;
;   - IIR identification and priorities: FIFO bits, THRE (set by enabling
;     ETBEI and by each transmitted byte, cleared by reading IIR), received
;     data at the trigger level, character timeout below it (after four
;     character times), receiver line status on overrun (cleared by reading
;     LSR);
;   - interrupt-driven echo through IRQ4 (OUT2 set, FIFO on, IER = received
;     data + THRE): the handler logs every IIR value it reads and collects
;     the bytes; the log and the echoed text are printed.
; Waits are in instructions: 1 instruction = 1 ns on both emulators
; (anyx86 --clock virtual, QEMU -icount shift=0).  With the divisor at 1
; (115200 baud, 8N1) a character takes 86.8 us, so the receive timeout (four
; characters) is 347 us; the ROM waits 2 ms.

%define PM_START 0xF000                 ; real mode only
%include "rom.inc"
%include "lib16.inc"
%include "pc16.inc"

COM1            equ 0x3F8
RBR             equ COM1+0              ; receive buffer (read), THR (write)
IER             equ COM1+1
IIR             equ COM1+2              ; IIR (read), FCR (write)
LCR             equ COM1+3
MCR             equ COM1+4
LSR             equ COM1+5
MSR             equ COM1+6
SCR             equ COM1+7

MCR_DTR         equ 0x01
MCR_RTS         equ 0x02
MCR_OUT1        equ 0x04
MCR_OUT2        equ 0x08
MCR_LOOP        equ 0x10

TIMEOUT_WAIT    equ 2000000             ; instructions: > 4 character times

; Interrupt log, filled by the IRQ4 handler.
NINTS           equ 0x700               ; word: IRQ4 interrupts taken
LOGLEN          equ 0x702               ; word: IIR values logged
RXLEN           equ 0x704               ; word: bytes received
IIRLOG          equ 0x740               ; 64 bytes
RXBUF           equ 0x780               ; 64 bytes

; OUTB port, value / INB port: AL <- port (DX is clobbered)
%macro OUTB 2
        mov     dx, %1
        mov     al, %2
        out     dx, al
%endmacro
%macro INB 1
        mov     dx, %1
        in      al, dx
%endmacro

; RDCHECK 'label', port, expected - read a register and check it.
%macro RDCHECK 3
        INB     %2
        movzx   eax, al
        CHECK   %1, 8, %3
%endmacro

start16:
        INIT16
        PRINTLN "uart-loopback: 16550A COM1 in loopback, IRQ4"
        call    install_stray
        SETVEC  MASTER_BASE+4, com1_handler
        call    pic_init

        call    register_tests
        call    msr_loopback_tests
        call    polled_tests
        call    iir_tests
        call    irq_echo
%ifdef QEMU_DIVERGENT
        call    divergent_tests
%endif
        cli
        OUTB    IER, 0
        OUTB    MCR, 0
        movzx   eax, word [STRAY_CNT]
        CHECK   'interrupts through other vectors', 16, 0
        jmp     finish16

; ---------------------------------------------------------------------------
register_tests:
        OUTB    SCR, 0x55
        RDCHECK 'scratch 55h', SCR, 0x55
        OUTB    SCR, 0xAA
        RDCHECK 'scratch AAh', SCR, 0xAA
        ; 115200 baud: divisor 1 (DLL=1, DLM=0) behind DLAB, then 8N1.
        OUTB    LCR, 0x83
        OUTB    RBR, 0x01
        OUTB    IER, 0x00
        RDCHECK 'DLL with DLAB=1', RBR, 0x01
        RDCHECK 'DLM with DLAB=1', IER, 0x00
        OUTB    LCR, 0x03
        RDCHECK 'LCR 8N1', LCR, 0x03
        RDCHECK 'IER untouched by the DLM write', IER, 0x00
        OUTB    IER, 0xFF
        RDCHECK 'IER after writing FFh (bits 4-7 do not exist)', IER, 0x0F
        OUTB    IER, 0x00
        RDCHECK 'IIR, FIFOs off, no interrupt', IIR, 0x01
        RDCHECK 'LSR idle (THRE, TEMT)', LSR, 0x60
        OUTB    MCR, 0xFF
        RDCHECK 'MCR after writing FFh (bits 5-7 do not exist)', MCR, 0x1F
        OUTB    MCR, MCR_LOOP
        ret

; ---------------------------------------------------------------------------
; MSR bits 4-7 in loopback are the MCR outputs (datasheet 8.9: DTR->DSR,
; RTS->CTS, OUT1->RI, OUT2->DCD).  The delta bits 0-3 are masked here (QEMU
; does not set them in loopback; see README.md and divergent_tests).
%macro MSRMAP 3
        OUTB    MCR, MCR_LOOP | %2
        INB     MSR
        and     al, 0xF0
        movzx   eax, al
        CHECK   %1, 8, %3
%endmacro

msr_loopback_tests:
        MSRMAP  'loopback MSR, MCR outputs off', 0, 0x00
        MSRMAP  'loopback MSR, DTR -> DSR', MCR_DTR, 0x20
        MSRMAP  'loopback MSR, RTS -> CTS', MCR_RTS, 0x10
        MSRMAP  'loopback MSR, OUT1 -> RI', MCR_OUT1, 0x40
        MSRMAP  'loopback MSR, OUT2 -> DCD', MCR_OUT2, 0x80
        MSRMAP  'loopback MSR, all four', 0x0F, 0xF0
        OUTB    MCR, MCR_LOOP
        ret

; ---------------------------------------------------------------------------
; Polled loopback, interrupts disabled in IER.
polled_tests:
        OUTB    IIR, 0x07               ; FCR: FIFOs on, clear both, trigger 1
        RDCHECK 'IIR with FIFOs on (bits 6-7)', IIR, 0xC1
        OUTB    RBR, 'A'
        RDCHECK 'LSR after sending A (DR, THRE, TEMT)', LSR, 0x61
        RDCHECK 'RBR: the byte sent', RBR, 'A'
        RDCHECK 'LSR after reading it', LSR, 0x60

        ; Fill the 16-byte FIFO, then one more: overrun, the 17th is lost.
        mov     si, alphabet
        mov     cx, 17
.fill:  mov     al, [cs:si]
        mov     dx, RBR
        out     dx, al
        inc     si
        loop    .fill
        RDCHECK 'LSR after 17 bytes into 16 (OE)', LSR, 0x63
        RDCHECK 'LSR again (OE cleared by the read)', LSR, 0x61
        PRINT   'FIFO contents -> '
        mov     si, alphabet16
        call    drain_check
        RDCHECK 'LSR when drained', LSR, 0x60

        ; FIFOs off: the receiver holds one byte; a second one overwrites an
        ; unread byte and sets OE (datasheet 8.6, LSR bit 1).
        OUTB    IIR, 0x00
        RDCHECK 'IIR, FIFOs off again', IIR, 0x01
        OUTB    RBR, 'x'
        OUTB    RBR, 'y'
        RDCHECK 'FIFOs off, two bytes: LSR (OE)', LSR, 0x63
        RDCHECK 'FIFOs off: RBR holds the newer byte', RBR, 'y'
        RDCHECK 'LSR after reading it', LSR, 0x60
        ret

; drain_check: read RBR while LSR.DR is set (at most 64 bytes), print the
; bytes and compare them with the zero-terminated string at CS:SI (one
; check; a difference prints " <-FAIL").
drain_check:
        push    cx
        push    bx
        xor     bx, bx                  ; BL: mismatches
        mov     cx, 64
.l:     INB     LSR
        test    al, 0x01
        jz      .d
        INB     RBR
        call    putc
        cmp     al, [cs:si]
        je      .same
        inc     bl
.same:  cmp     byte [cs:si], 0
        je      .l2
        inc     si
.l2:    loop    .l
.d:     cmp     byte [cs:si], 0
        je      .end
        inc     bl                      ; fewer bytes than expected
.end:   call    count_check
        test    bl, bl
        jz      .ok
        PRINT   " <-FAIL"
        call    fail_here
.ok:    call    nl
        pop     bx
        pop     cx
        ret

alphabet:       db 'ABCDEFGHIJKLMNOPQ'
alphabet16:     db 'ABCDEFGHIJKLMNOP', 0

; ---------------------------------------------------------------------------
; Interrupt identification, read by polling IIR (IRQ4 masked at the PIC).
iir_tests:
        OUTB    IIR, 0x07               ; FIFOs on, trigger level 1
        ; THRE: pending when ETBEI goes 0->1 (THR is empty), cleared by the
        ; IIR read that reports it, pending again after each byte sent.
        OUTB    IER, 0x02
        RDCHECK 'IER=02h: IIR (THRE)', IIR, 0xC2
        RDCHECK 'IIR again (cleared by the read)', IIR, 0xC1
        OUTB    RBR, 'a'
        RDCHECK 'byte sent, only ETBEI: IIR (THRE)', IIR, 0xC2
        ; Received data outranks THRE.
        OUTB    IER, 0x03
        OUTB    RBR, 'b'
        RDCHECK 'IER=03h, byte sent: IIR (received data)', IIR, 0xC4
        INB     RBR
        RDCHECK 'one byte read, one left: IIR (received data)', IIR, 0xC4
        INB     RBR
        RDCHECK 'FIFO empty: IIR (THRE)', IIR, 0xC2
        RDCHECK 'IIR after THRE was reported', IIR, 0xC1

        ; Trigger level 4: three bytes give the character timeout only
        ; after four character times; four bytes give received data.
        OUTB    IER, 0x00
        OUTB    IIR, 0x47               ; FIFOs on, clear, trigger 4
        OUTB    IER, 0x01
        OUTB    RBR, '1'
        OUTB    RBR, '2'
        OUTB    RBR, '3'
        DELAY   TIMEOUT_WAIT
        RDCHECK 'trigger 4, 3 bytes, after 4 char times: IIR (timeout)', IIR, 0xCC
        call    drain_nul
        RDCHECK 'drained: IIR', IIR, 0xC1
        OUTB    RBR, '4'
        OUTB    RBR, '5'
        OUTB    RBR, '6'
        OUTB    RBR, '7'
        RDCHECK 'trigger 4, 4 bytes: IIR (received data)', IIR, 0xC4
        INB     RBR
        DELAY   TIMEOUT_WAIT
        RDCHECK 'one read, 3 left, after 4 char times: IIR (timeout)', IIR, 0xCC
        call    drain_nul
        RDCHECK 'drained: IIR', IIR, 0xC1

        ; Receiver line status (ELSI) outranks received data: overrun.
        OUTB    IER, 0x00
        OUTB    IIR, 0x07
        OUTB    IER, 0x05               ; ELSI + ERBFI
        mov     cx, 17
.ovr:   OUTB    RBR, '#'
        loop    .ovr
        RDCHECK 'overrun with ELSI: IIR (line status)', IIR, 0xC6
        RDCHECK 'LSR (OE, DR)', LSR, 0x63
        RDCHECK 'after the LSR read: IIR (received data)', IIR, 0xC4
        call    drain_nul
        RDCHECK 'drained: IIR', IIR, 0xC1
        OUTB    IER, 0x00
        ret

; drain_nul: read RBR while LSR.DR is set, discarding the bytes.
drain_nul:
        push    cx
        mov     cx, 64
.l:     INB     LSR
        test    al, 0x01
        jz      .d
        INB     RBR
        loop    .l
.d:     pop     cx
        ret

; ---------------------------------------------------------------------------
; Interrupt-driven echo.  OUT2 is set so that INTR reaches IRQ4 (on a PC the
; OUT2 output enables the UART's interrupt line).  The handler services
; every pending cause (reading IIR until bit 0 is 1), logging each IIR
; value, and sends a non-specific EOI.
com1_handler:
        push    ax
        push    bx
        push    dx
        inc     word [NINTS]
.next:  INB     IIR
        mov     bx, [LOGLEN]
        cmp     bx, 63
        jae     .nolog
        mov     [IIRLOG+bx], al
        inc     word [LOGLEN]
.nolog: test    al, 0x01
        jnz     .done
        and     al, 0x0F
        cmp     al, 0x04                ; received data
        je      .rx
        cmp     al, 0x0C                ; character timeout
        je      .rx
        cmp     al, 0x06                ; line status: read LSR
        jne     .next                   ; THRE: cleared by the IIR read
        INB     LSR
        jmp     .next
.rx:    INB     RBR
        mov     bx, [RXLEN]
        cmp     bx, 63
        jae     .next
        mov     [RXBUF+bx], al
        inc     word [RXLEN]
        jmp     .next
.done:  mov     al, OCW2_EOI
        out     PIC1_CMD, al
        pop     dx
        pop     bx
        pop     ax
        iret

irq_echo:
        mov     word [NINTS], 0
        mov     word [LOGLEN], 0
        mov     word [RXLEN], 0
        OUTB    IIR, 0x07                       ; FIFOs on, trigger 1
        OUTB    MCR, MCR_LOOP | MCR_OUT2
        ; Forget requests latched while IRQ4 was masked: QEMU drives IRQ4
        ; whatever OUT2 says, so the tests above left IRQ4 in its IRR.
        ; ICW1 clears the IRR (the UART's line is low now: IER=0).
        call    pic_init
        in      al, PIC1_DATA
        and     al, ~0x10                       ; unmask IR4
        out     PIC1_DATA, al
        sti
        OUTB    IER, 0x03                       ; THRE interrupt at once
        mov     si, message
.send:  mov     al, [cs:si]
        test    al, al
        jz      .sent
        mov     dx, RBR
        out     dx, al                          ; echoed back: IRQ4
        inc     si
        jmp     .send
.sent:  cli
        movzx   eax, word [RXLEN]
        CHECK   'IRQ4 echo: bytes received by the handler', 16, message_len
        PRINT   'echoed -> "'
        mov     cx, [RXLEN]
        xor     bx, bx
        jcxz    .pe
.pr:    mov     al, [RXBUF+bx]
        call    putc
        inc     bx
        loop    .pr
.pe:    PRINTLN '"'
        call    count_check
        ; compare with the message
        xor     bx, bx
.cmp:   mov     al, [cs:message+bx]
        test    al, al
        jz      .same
        cmp     al, [RXBUF+bx]
        jne     .diff
        inc     bx
        jmp     .cmp
.diff:  call    fail_here
        PRINTLN 'echoed text differs <-FAIL'
.same:  movzx   eax, word [NINTS]
        CHECK   'IRQ4 interrupts taken', 16, message_len + 1
        PRINT   'IIR values read by the handler ->'
        mov     cx, [LOGLEN]
        xor     bx, bx
        jcxz    .le
.pl:    call    space
        mov     al, [IIRLOG+bx]
        call    hex8
        inc     bx
        loop    .pl
.le:    call    nl
        call    count_check
        ; THRE first (ETBEI enabled), then per byte: data, THRE, none.
        movzx   eax, word [LOGLEN]
        CHECK   'IIR values logged', 16, 2 + 3*message_len
        mov     byte [LOGBAD], 0
        mov     si, IIRLOG
        mov     al, 0xC2
        call    expect_log
        mov     al, 0xC1
        call    expect_log
        mov     cx, message_len
.ck:    mov     al, 0xC4
        call    expect_log
        mov     al, 0xC2
        call    expect_log
        mov     al, 0xC1
        call    expect_log
        loop    .ck
        movzx   eax, byte [LOGBAD]
        CHECK   'IIR log entries different from C2 C1 (C4 C2 C1)*', 8, 0
        OUTB    IER, 0x00
        in      al, PIC1_DATA
        or      al, 0x10
        out     PIC1_DATA, al
        ret

LOGBAD          equ 0x706
; expect_log: count in LOGBAD an IIR log entry at [SI] that is not AL; SI++.
expect_log:
        cmp     [si], al
        je      .ok
        inc     byte [LOGBAD]
.ok:    inc     si
        ret

message:        db 'Hello, COM1!', 0
message_len     equ $ - message - 1

%ifdef QEMU_DIVERGENT
; ---------------------------------------------------------------------------
; Behaviour QEMU 7.2 does not model (see README.md); only assembled with
; -DQEMU_DIVERGENT and checked on Bochs.
divergent_tests:
        cli
        ; MSR delta bits follow the loopback outputs (datasheet 8.10).
        OUTB    MCR, MCR_LOOP
        INB     MSR                             ; clear deltas
        OUTB    MCR, MCR_LOOP | MCR_DTR | MCR_RTS
        RDCHECK 'loopback DTR+RTS on: MSR (DSR, CTS, DDSR, DCTS)', MSR, 0x33
        RDCHECK 'MSR again (deltas cleared by the read)', MSR, 0x30
        OUTB    MCR, MCR_LOOP | MCR_OUT1
        RDCHECK 'DTR+RTS off, OUT1 on: MSR (RI, DDSR, DCTS)', MSR, 0x43
        OUTB    MCR, MCR_LOOP
        RDCHECK 'OUT1 off: MSR (TERI on the trailing edge of RI)', MSR, 0x04
        ; ...and raise the modem status interrupt.
        OUTB    IER, 0x08
        OUTB    MCR, MCR_LOOP | MCR_OUT2
        RDCHECK 'EDSSI, OUT2 on: IIR (modem status)', IIR, 0xC0
        INB     MSR
        RDCHECK 'after reading MSR: IIR', IIR, 0xC1
        OUTB    IER, 0x00
        ; Without OUT2 the UART's interrupt does not reach IRQ4.
        OUTB    MCR, MCR_LOOP
        OUTB    IER, 0x02                       ; THRE pending
        call    read_irr1
        and     al, 0x10
        movzx   eax, al
        CHECK   'THRE pending, OUT2 off: IRQ4 in the IRR', 8, 0x00
        OUTB    IER, 0x00
        OUTB    MCR, MCR_LOOP | MCR_OUT2
        OUTB    IER, 0x02
        call    read_irr1
        and     al, 0x10
        movzx   eax, al
        CHECK   'OUT2 on: IRQ4 in the IRR', 8, 0x10
        OUTB    IER, 0x00
        ret
%endif
