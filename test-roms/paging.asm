; paging.asm - 32-bit and PAE paging conformance ROM.
;
; References: Intel SDM Vol.3 chapter 4 (4.3 32-bit paging, 4.4 PAE paging,
; 4.6 access rights, 4.7 page-fault exceptions, 4.8 accessed and dirty flags,
; 4.10.4 TLB invalidation) and Vol.3 6.15 "Interrupt 14".
;
;  - 4 KiB pages through a page table, remapped pages, 4 MiB pages (CR4.PSE)
;  - #PF error codes (P, W/R, U/S, RSVD, I/D bits) and CR2, for not-present,
;    write-protect, user/supervisor and reserved-bit faults; the #PF handler
;    repairs the entry and the faulting instruction is restarted
;  - accessed/dirty bits written by the CPU in PTEs and 4 MiB PDEs
;  - CR0.WP: supervisor writes to read-only pages allowed with WP=0, fault
;    with WP=1; user writes to read-only pages always fault
;  - INVLPG, MOV CR3 and toggling CR4.PGE make a changed PTE take effect
;    (only what the SDM guarantees is tested: no stale-TLB observations,
;    since a TLB may drop entries at any time and QEMU's TLB keeps no global
;    entries across CR3 writes)
;  - PAE: 4 KiB and 2 MiB pages, EFER.NXE and the XD bit (instruction fetch
;    from an XD page faults with I/D=1; data reads are allowed), XD set while
;    EFER.NXE=0 is a reserved-bit fault.
;
; All CPL 3 accesses go through call_ring3 (inc/pm32.inc).

%define ROM_TITLE "paging: 32-bit/PSE/PAE paging, #PF error codes, A/D bits, WP, NX"
%include "rom.inc"
%include "desc.inc"
%include "lib16.inc"
%include "pm32.inc"

PD      equ     0x20000         ; 32-bit page directory
PT0     equ     0x21000         ; page table for 0-4 MiB (identity, U=1)
PDPT    equ     0x30000         ; PAE structures
PAE_PD  equ     0x31000
PAE_PT  equ     0x32000

; PTE flags
P_P     equ     0x001
P_W     equ     0x002
P_U     equ     0x004
P_A     equ     0x020
P_D     equ     0x040
P_PS    equ     0x080
P_G     equ     0x100

%define PTE(lin) (PT0 + ((lin) >> 12) * 4)

; test pages (linear) and their physical frames
L_REMAP equ     0x300000        ; -> phys 0x310000
L_NP    equ     0x301000        ; not present at first
L_INV   equ     0x302000        ; -> 0x312000, later 0x313000
L_ROS   equ     0x303000        ; read-only, supervisor
L_ROU   equ     0x304000        ; read-only, user
L_SUP   equ     0x305000        ; read/write, supervisor only
L_GLB   equ     0x306000        ; global page
L_AD    equ     0x307000        ; accessed/dirty tracking

; CR2 check: "cr2 -> value"
%macro CR2_SHOW 1
        mov     eax, [EXC_CR2]
        CHECK32 '    cr2', 32, %1
%endmacro

pm_main:
        call    setup_32bit_tables
        ; markers in the physical frames
        mov     dword [0x310000], 0x31000031
        mov     dword [0x311010], 0x31100311
        mov     dword [0x312000], 0xAAAA0312
        mov     dword [0x313000], 0xBBBB0313
        mov     dword [0x303000], 0x30300303
        mov     dword [0x304000], 0x30400304
        mov     dword [0x800000 + 0x1234], 0x4444B16
        mov     dword [0x316000], 0x61061006
        mov     dword [0x317000], 0x71071007

        ; --- enable 32-bit paging with CR4.PSE (SDM 4.3)
        mov     eax, cr4
        or      eax, 0x10               ; PSE
        mov     cr4, eax
        mov     eax, PD
        mov     cr3, eax
        mov     eax, cr0
        or      eax, 0x80000000
        mov     cr0, eax
        jmp     .flush
.flush: mov     eax, cr0
        shr     eax, 31
        CHECK32 'cr0.pg set, still running', 8, 1
        mov     eax, cr3
        CHECK32 'cr3', 32, PD

        ; --- translation through a remapped 4 KiB PTE and a 4 MiB PDE
        mov     eax, [L_REMAP]
        CHECK32 'read 300000h (pte -> 310000h)', 32, 0x31000031
        mov     eax, [0x401234]
        CHECK32 'read 401234h (4M pde -> 801234h)', 32, 0x4444B16

        ; --- accessed / dirty bits (SDM 4.8)
        mov     eax, [PTE(L_AD)]
        and     eax, P_A | P_D
        CHECK32 'pte(307000h) A/D before access', 8, 0
        mov     eax, [L_AD]
        mov     eax, [PTE(L_AD)]
        and     eax, P_A | P_D
        CHECK32 'pte A/D after read', 8, P_A
        mov     dword [L_AD], 1
        mov     eax, [PTE(L_AD)]
        and     eax, P_A | P_D
        CHECK32 'pte A/D after write', 8, P_A | P_D
        mov     eax, [PD]
        and     eax, P_A
        CHECK32 'pde[0] accessed', 8, P_A
        mov     eax, [PD + 4]
        and     eax, P_A | P_D
        CHECK32 '4M pde[1] A/D after read', 8, P_A
        mov     dword [0x400000], 5
        mov     eax, [PD + 4]
        and     eax, P_A | P_D
        CHECK32 '4M pde[1] A/D after write', 8, P_A | P_D

        ; --- #PF on a not-present page, handler sets P and the read is
        ; restarted (SDM 6.15: #PF is a fault, CS:EIP -> faulting instruction)
        mov     dword [EXC_HOOK], hook_set_present
        EXPECT  0
        mov     ebx, 0x123
.np:    mov     eax, [L_NP + 0x10]
        mov     dword [EXC_HOOK], 0
        push    eax
        EXC_SHOW 'read not-present 301010h', 14, 0x0000, .np
        CR2_SHOW L_NP + 0x10
        pop     eax
        CHECK32 '    value after fix-up and restart', 32, 0x31100311
        ; write to a not-present page: W/R=1
        and     dword [PTE(L_NP)], ~P_P
        invlpg  [L_NP]
        mov     dword [EXC_HOOK], hook_set_present
        EXPECT  0
.npw:   mov     dword [L_NP + 0xFFC], 0x77
        mov     dword [EXC_HOOK], 0
        EXC_SHOW 'write not-present 301ffch', 14, 0x0002, .npw
        CR2_SHOW L_NP + 0xFFC
        ; a 4-byte access crossing into a not-present page: CR2 is the first
        ; byte that is not accessible (the start of the second page)
        and     dword [PTE(L_NP)], ~P_P
        invlpg  [L_NP]
        EXPECT  .cross_done
.cross: mov     eax, [L_NP - 2]
.cross_done:
        EXC_SHOW 'dword read across into np page', 14, 0x0000, .cross
        CR2_SHOW L_NP
        or      dword [PTE(L_NP)], P_P
        invlpg  [L_NP]

        ; --- CR0.WP (SDM 4.6): supervisor write to a read-only page
        mov     eax, cr0
        and     eax, ~0x10000
        mov     cr0, eax
        EXPECT  .wp0_done
        mov     dword [L_ROS], 0x12121212
.wp0_done:
        EXC_SHOW 'wp=0 supervisor write to r/o page', 0xFFFFFFFF, -1, -1
        mov     eax, [L_ROS]
        CHECK32 '    value written', 32, 0x12121212
        mov     eax, cr0
        or      eax, 0x10000
        mov     cr0, eax
        EXPECT  .wp1_done
.wp1:   mov     dword [L_ROS], 0x34343434
.wp1_done:
        EXC_SHOW 'wp=1 supervisor write to r/o page', 14, 0x0003, .wp1
        CR2_SHOW L_ROS
        mov     eax, [L_ROS]
        CHECK32 '    value unchanged', 32, 0x12121212

        ; --- user-mode accesses (CPL 3), with WP=1
        mov     eax, user_tests
        call    call_ring3
        ; and with WP=0 a user write to a read-only page still faults
        mov     eax, cr0
        and     eax, ~0x10000
        mov     cr0, eax
        mov     eax, user_write_ro
        call    call_ring3
        mov     eax, cr0
        or      eax, 0x10000
        mov     cr0, eax

        ; --- reserved bit in a 4 MiB PDE (bit 21 is reserved, SDM Table 4-4):
        ; #PF with P=1 and RSVD=1
        or      dword [PD + 4], 1 << 21
        invlpg  [0x400000]
        EXPECT  .rsvd_done
.rsvd:  mov     eax, [0x400010]
.rsvd_done:
        ; SDM 4.7: "bit 3 of the error code can be set only if bit 0 is also
        ; set", i.e. the SDM answer is 0x0009 (Bochs 2.7 reports 0x0009).
        ; QEMU 7.2 reports 0x0008, so by default the P bit is not compared
        ; (nor printed) for reserved-bit faults; only RSVD/W/U/I-D are.
        ; Build with -DQEMU_DIVERGENT to check the SDM value.
%ifdef QEMU_DIVERGENT
        EXC_SHOW 'read 4M page with pde bit 21 set', 14, 0x0009, .rsvd
%else
        and     dword [EXC_ERR], ~1
        EXC_SHOW 'read 4M page with pde bit 21 set (err&~1)', 14, 0x0008, .rsvd
%endif
        CR2_SHOW 0x400010
        and     dword [PD + 4], ~(1 << 21)
        invlpg  [0x400000]

        ; --- invalidation (SDM 4.10.4): after INVLPG / CR3 reload / CR4.PGE
        ; toggle the new PTE must be used
        mov     eax, [L_INV]
        CHECK32 'read 302000h (-> 312000h)', 32, 0xAAAA0312
        mov     dword [PTE(L_INV)], 0x313000 | P_P | P_W | P_U
        invlpg  [L_INV]
        mov     eax, [L_INV]
        CHECK32 'after pte change + invlpg (-> 313000h)', 32, 0xBBBB0313
        mov     dword [PTE(L_INV)], 0x312000 | P_P | P_W | P_U
        mov     eax, cr3
        mov     cr3, eax
        mov     eax, [L_INV]
        CHECK32 'after pte change + cr3 reload (-> 312000h)', 32, 0xAAAA0312
        ; global page: CR4.PGE=1, G=1.  Toggling PGE flushes global entries
        mov     eax, cr4
        or      eax, 0x80               ; PGE
        mov     cr4, eax
        mov     dword [PTE(L_GLB)], 0x316000 | P_P | P_W | P_G
        invlpg  [L_GLB]
        mov     eax, [L_GLB]
        CHECK32 'global page read (-> 316000h)', 32, 0x61061006
        mov     dword [PTE(L_GLB)], 0x317000 | P_P | P_W | P_G
        mov     eax, cr4
        and     eax, ~0x80
        mov     cr4, eax
        or      eax, 0x80
        mov     cr4, eax
        mov     eax, [L_GLB]
        CHECK32 'global pte change + pge toggle (-> 317000h)', 32, 0x71071007
        mov     dword [PTE(L_GLB)], 0x316000 | P_P | P_W | P_G
        invlpg  [L_GLB]
        mov     eax, [L_GLB]
        CHECK32 'global pte change + invlpg (-> 316000h)', 32, 0x61061006

        ; --- CR4.PSE=0: the PS bit of a PDE is ignored and the entry is a
        ; page-table pointer (SDM 4.3: PS "ignored" without CR4.PSE)
        mov     dword [PD + 8], PT0 | P_P | P_W      ; linear 8M.. via PT0
        or      dword [PD + 8], P_PS
        mov     eax, cr4
        and     eax, ~(0x10 | 0x80)
        mov     cr4, eax
        mov     eax, [0x800000 + L_REMAP]
        CHECK32 'pse=0: ps ignored, 0b00000h via pt0', 32, 0x31000031
        mov     dword [PD + 8], 0

        call    pae_tests
        ret

; #PF hook: set P (and W) in the PTE of CR2's page, let the access restart
hook_set_present:
        mov     eax, [EXC_CR2]
        shr     eax, 12
        or      dword [PT0 + eax*4], P_P
        ret

; ------------------------------------------------------------- CPL 3 part
user_tests:
        ; user read of a supervisor page: P=1 U=1 W=0 -> err 5
        EXPECT  .u1_done
.u1:    mov     eax, [L_SUP]
.u1_done:
        EXC_SHOW 'cpl3 read supervisor page', 14, 0x0005, .u1
        CR2_SHOW L_SUP
        ; user write to a supervisor page -> err 7
        EXPECT  .u2_done
.u2:    mov     dword [L_SUP + 8], 1
.u2_done:
        EXC_SHOW 'cpl3 write supervisor page', 14, 0x0007, .u2
        ; user read of a read-only user page is fine
        EXPECT  .u3_done
        mov     eax, [L_ROU]
.u3_done:
        EXC_SHOW 'cpl3 read r/o user page', 0xFFFFFFFF, -1, -1
        CHECK32 '    value', 32, 0x30400304
        ; user write to a read-only user page -> err 7
        EXPECT  .u4_done
.u4:    mov     dword [L_ROU], 2
.u4_done:
        EXC_SHOW 'cpl3 write r/o user page (wp=1)', 14, 0x0007, .u4
        ; user read of a not-present page -> err 4
        and     dword [PTE(L_NP)], ~P_P  ; PT0 itself is user-writable here
        EXPECT  .u5_done
.u5:    mov     eax, [L_NP]
.u5_done:
        EXC_SHOW 'cpl3 read not-present page', 14, 0x0004, .u5
        or      dword [PTE(L_NP)], P_P
        ret

user_write_ro:
        EXPECT  .done
.w:     mov     dword [L_ROU], 3
.done:
        EXC_SHOW 'cpl3 write r/o user page (wp=0)', 14, 0x0007, .w
        ret

; ------------------------------------------------------------- tables
setup_32bit_tables:
        ; PT0: identity map 0-4 MiB, P|W|U
        xor     ecx, ecx
.pt:    mov     eax, ecx
        shl     eax, 12
        or      eax, P_P | P_W | P_U
        mov     [PT0 + ecx*4], eax
        inc     ecx
        cmp     ecx, 1024
        jb      .pt
        mov     edi, PD
        mov     ecx, 1024
        xor     eax, eax
        rep stosd
        mov     dword [PD], PT0 | P_P | P_W | P_U
        mov     dword [PD + 4], 0x800000 | P_PS | P_P | P_W   ; 4M page
        mov     dword [PTE(L_REMAP)], 0x310000 | P_P | P_W | P_U
        mov     dword [PTE(L_NP)], 0x311000 | P_W | P_U       ; not present
        mov     dword [PTE(L_INV)], 0x312000 | P_P | P_W | P_U
        mov     dword [PTE(L_ROS)], 0x303000 | P_P            ; r/o supervisor
        mov     dword [PTE(L_ROU)], 0x304000 | P_P | P_U      ; r/o user
        mov     dword [PTE(L_SUP)], 0x305000 | P_P | P_W      ; supervisor
        mov     dword [PTE(L_AD)], 0x307000 | P_P | P_W | P_U
        ret

; ------------------------------------------------------------- PAE
; PAE (SDM 4.4): CR3 -> 4 PDPTEs (P only, RW/US reserved), PD entries and
; PTEs are 64-bit with XD in bit 63.
NX_PAGE equ     0x100000        ; linear=physical page holding a RET
pae_tests:
        PRINTLN32 "PAE paging"
        mov     eax, cr0
        and     eax, 0x7FFFFFFF
        mov     cr0, eax
        ; PDPT: entry 0 -> PAE_PD, others not present
        mov     edi, PDPT
        mov     ecx, 8
        xor     eax, eax
        rep stosd
        mov     dword [PDPT], PAE_PD | P_P
        mov     edi, PAE_PD
        mov     ecx, 1024
        rep stosd
        mov     dword [PAE_PD], PAE_PT | P_P | P_W | P_U          ; 0-2M: 4K
        mov     dword [PAE_PD + 8], 0x600000 | P_PS | P_P | P_W   ; 2-4M: 2M page
        xor     ecx, ecx
.pt:    mov     eax, ecx
        shl     eax, 12
        or      eax, P_P | P_W | P_U
        mov     [PAE_PT + ecx*8], eax
        mov     dword [PAE_PT + ecx*8 + 4], 0
        inc     ecx
        cmp     ecx, 512
        jb      .pt
        ; a remapped 4K page: linear 1FF000h -> phys 310000h
        mov     dword [PAE_PT + 0x1FF*8], 0x310000 | P_P | P_W
        mov     dword [0x601234], 0x2222B16
        mov     byte [NX_PAGE], 0xC3            ; ret
        mov     eax, cr4
        or      eax, 0x20               ; PAE
        mov     cr4, eax
        mov     eax, PDPT
        mov     cr3, eax
        mov     eax, cr0
        or      eax, 0x80000000
        mov     cr0, eax
        jmp     .on
.on:    mov     eax, [0x1FF000]
        CHECK32 'pae 4K: read 1ff000h (-> 310000h)', 32, 0x31000031
        mov     eax, [0x201234]
        CHECK32 'pae 2M: read 201234h (-> 601234h)', 32, 0x2222B16
        mov     dword [0x200000], 1
        mov     eax, [PAE_PD + 8]
        and     eax, P_A | P_D
        CHECK32 'pae 2M pde A/D after write', 8, P_A | P_D
        ; not-present PDPTE: a #PF with err 0 (SDM 4.4.1: PDPTE P=0 -> #PF)
        EXPECT  .npd_done
.npd:   mov     eax, [0x40000000]
.npd_done:
        EXC_SHOW 'pae read via not-present pdpte', 14, 0x0000, .npd
        CR2_SHOW 0x40000000

        ; XD set while EFER.NXE=0: bit 63 is reserved -> RSVD fault
        or      dword [PAE_PT + (NX_PAGE >> 12)*8 + 4], 0x80000000
        invlpg  [NX_PAGE]
        EXPECT  .rs_done
.rs:    mov     eax, [NX_PAGE]
.rs_done:
%ifdef QEMU_DIVERGENT
        EXC_SHOW 'pae xd=1 with efer.nxe=0: read', 14, 0x0009, .rs
%else
        and     dword [EXC_ERR], ~1     ; P not compared: see the PSE case
        EXC_SHOW 'pae xd=1 with efer.nxe=0: read (err&~1)', 14, 0x0008, .rs
%endif
        ; EFER.NXE=1 (SDM 4.1.4 / MSR C0000080h bit 11)
        mov     ecx, 0xC0000080
        rdmsr
        or      eax, 0x800
        wrmsr
        rdmsr
        and     eax, 0x800
        CHECK32 'efer.nxe set', 32, 0x800
        EXPECT  .rd_done
        mov     eax, [NX_PAGE]
.rd_done:
        EXC_SHOW 'nxe=1: data read from xd page', 0xFFFFFFFF, -1, -1
        movzx   eax, al
        CHECK32 '    byte read', 8, 0xC3
        mov     eax, NX_PAGE
        EXPECT  .fx_done
        jmp     eax
.fx_done:
        EXC_SHOW 'nxe=1: jump into xd page', 14, 0x0011, NX_PAGE
        CR2_SHOW NX_PAGE
        ; user fetch from an XD page: I/D and U/S both set
        mov     eax, user_nx
        call    call_ring3
        ; clear XD: the code runs (and returns)
        and     dword [PAE_PT + (NX_PAGE >> 12)*8 + 4], 0x7FFFFFFF
        invlpg  [NX_PAGE]
        EXPECT  0
        mov     eax, NX_PAGE
        call    eax
        EXC_SHOW 'xd cleared: call into page', 0xFFFFFFFF, -1, -1
        ret

user_nx:
        mov     eax, NX_PAGE
        EXPECT  .done
        jmp     eax
.done:  EXC_SHOW 'cpl3 jump into xd page', 14, 0x0015, NX_PAGE
        ret
