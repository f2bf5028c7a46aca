//! The RAM layout contract of `CpuBus` (issue #21): a bus that breaks it
//! (says "RAM" for pages its `ram()` does not hold) gets its accesses
//! through `mem_read` / `mem_write`, never a panic.

use anyx86_cpu::arch::{reg, sreg, Segment};
use anyx86_cpu::cpuid::CpuModel;
use anyx86_cpu::singlestep::FlatBus;
use anyx86_cpu::{Cpu, CpuBus, RunExit};

/// A 64 KiB [`FlatBus`] whose every page claims to be RAM; beyond the
/// slice, reads see 0xA5 bytes and writes are counted. Ports, interrupts
/// and time are the flat bus's.
struct LyingBus {
    flat: FlatBus,
    outside_writes: u32,
}

const RAM: usize = 0x1_0000;

impl CpuBus for LyingBus {
    fn ram(&mut self) -> &mut [u8] {
        &mut self.flat.ram
    }
    fn ram_ref(&self) -> &[u8] {
        &self.flat.ram
    }
    fn page_is_ram(&self, _paddr: u64) -> bool {
        true
    }
    fn mem_read(&mut self, _paddr: u64, size: u8, _icount: u64) -> u64 {
        0xA5A5_A5A5_A5A5_A5A5 >> (64 - 8 * u32::from(size))
    }
    fn mem_write(&mut self, _paddr: u64, _size: u8, _value: u64, _icount: u64) {
        self.outside_writes += 1;
    }
    fn peek_phys(&self, paddr: u64) -> u8 {
        self.flat.ram.get(paddr as usize).copied().unwrap_or(0xA5)
    }
    fn io_in(&mut self, port: u16, size: u8, icount: u64) -> u32 {
        self.flat.io_in(port, size, icount)
    }
    fn io_out(&mut self, port: u16, size: u8, value: u32, icount: u64) {
        self.flat.io_out(port, size, value, icount)
    }
    fn a20_mask(&self) -> u64 {
        self.flat.a20_mask()
    }
    fn interrupt_pending(&self) -> bool {
        self.flat.interrupt_pending()
    }
    fn acknowledge_interrupt(&mut self, icount: u64) -> u8 {
        self.flat.acknowledge_interrupt(icount)
    }
    fn tsc(&mut self, icount: u64) -> u64 {
        self.flat.tsc(icount)
    }
    fn stop_requested(&self) -> bool {
        self.flat.stop_requested()
    }
}

#[test]
fn a_bus_claiming_ram_it_does_not_have_gets_device_accesses_not_a_panic() {
    let mut bus = LyingBus {
        flat: FlatBus::with_size(RAM),
        outside_writes: 0,
    };
    // mov ax,0x9000 / mov ds,ax / mov ax,[0x10] (phys 0x90010, beyond the
    // slice) / mov [0x20],ax (a store there) / inc word [0x30] (both) /
    // jmp 0x9000:0x0000 (code beyond the slice: fetched through mem_read,
    // it is A5 A5 ... = movsw, until the budget)
    let code = [
        0xB8, 0x00, 0x90, //
        0x8E, 0xD8, //
        0xA1, 0x10, 0x00, //
        0xA3, 0x20, 0x00, //
        0xFF, 0x06, 0x30, 0x00, //
        0xEA, 0x00, 0x00, 0x00, 0x90,
    ];
    bus.flat.ram[0x1000..0x1000 + code.len()].copy_from_slice(&code);
    let mut cpu: Cpu<LyingBus> = Cpu::new(CpuModel::qemu32());
    let s = &mut cpu.s;
    let attr = s.seg[sreg::DS].attr;
    for i in [sreg::ES, sreg::SS, sreg::DS] {
        s.seg[i] = Segment::real(0, attr);
    }
    let cs = s.seg[sreg::CS].attr;
    s.set_cs(Segment::real(0, cs), 0);
    s.rip = 0x1000;
    s.gpr[reg::SP] = 0x8000;
    let exit = cpu.run(&mut bus, 5_000);
    assert_eq!(exit, RunExit::Budget);
    // The value read from beyond the slice; the RAM below is untouched.
    assert_eq!(cpu.s.gpr[reg::AX] & 0xFFFF, 0xA5A5);
    assert!(bus.outside_writes >= 2, "{} writes", bus.outside_writes);
    assert_eq!(cpu.s.seg[sreg::CS].base, 0x90000, "the far jump was taken");
}
