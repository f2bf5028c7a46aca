//! The interpreter's pieces in isolation, on a flat RAM bus with no
//! devices: decoding, trace cache lookup, a TLB hit, an ALU loop and a
//! REP MOVSD page copy. A change to one piece shows here without the
//! noise of the whole machine.
//!
//! `cargo bench -p anyx86-benches --bench pieces` (add `-- --quick` for a
//! fast run).

use anyx86_cpu::arch::{reg, sreg};
use anyx86_cpu::bench::{build_op, Op, Trace, TraceCache};
use anyx86_cpu::cpuid::CpuModel;
use anyx86_cpu::{Cpu, CpuBus, CpuState, Res, RunExit, Segment};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use std::time::Duration;

/// 1 MiB of RAM and nothing else.
struct Flat(Vec<u8>);

impl CpuBus for Flat {
    fn ram(&mut self) -> &mut [u8] {
        &mut self.0
    }
    fn ram_ref(&self) -> &[u8] {
        &self.0
    }
    fn page_is_ram(&self, paddr: u64) -> bool {
        paddr < self.0.len() as u64
    }
    fn mem_read(&mut self, _: u64, _: u8, _: u64) -> u64 {
        u64::MAX
    }
    fn mem_write(&mut self, _: u64, _: u8, _: u64, _: u64) {}
    fn peek_phys(&self, paddr: u64) -> u8 {
        self.0.get(paddr as usize).copied().unwrap_or(0xFF)
    }
    fn io_in(&mut self, _: u16, _: u8, _: u64) -> u32 {
        u32::MAX
    }
    fn io_out(&mut self, _: u16, _: u8, _: u32, _: u64) {}
    fn a20_mask(&self) -> u64 {
        u64::MAX
    }
    fn interrupt_pending(&self) -> bool {
        false
    }
    fn acknowledge_interrupt(&mut self, _: u64) -> u8 {
        0
    }
    fn tsc(&mut self, icount: u64) -> u64 {
        icount
    }
    fn stop_requested(&self) -> bool {
        false
    }
}

const CODE: usize = 0x100;

/// A real-mode CPU at 0000:0100 running `code`, all segments at 0.
fn cpu_with(code: &[u8]) -> (Cpu<Flat>, Flat) {
    let mut ram = vec![0xF4; 1 << 20];
    ram[CODE..CODE + code.len()].copy_from_slice(code);
    let mut cpu = Cpu::new(CpuModel::qemu32());
    let attr = cpu.s.seg[sreg::CS].attr;
    cpu.s.seg[sreg::CS] = Segment::real(0, attr);
    cpu.s.rip = CODE as u64;
    (cpu, Flat(ram))
}

/// Typical 16-bit code: moves, loads/stores, ALU, a compare (17
/// instructions, the last a jump back to the first). The 16th stores the
/// byte it is made of into itself: a write to a code page, so every pass
/// decodes and builds its traces again.
const BLOCK: [u8; 41] = [
    0x8B, 0x46, 0x04, // mov ax, [bp+4]
    0x8B, 0x5E, 0x06, // mov bx, [bp+6]
    0x01, 0xD8, // add ax, bx
    0x89, 0x46, 0x08, // mov [bp+8], ax
    0x31, 0xC9, // xor cx, cx
    0x41, // inc cx
    0xD1, 0xE0, // shl ax, 1
    0x25, 0xFF, 0x0F, // and ax, 0x0fff
    0x8B, 0x3C, // mov di, [si]
    0x03, 0x7C, 0x02, // add di, [si+2]
    0x50, // push ax
    0x58, // pop ax
    0x83, 0xC6, 0x04, // add si, 4
    0x8D, 0x50, 0x10, // lea dx, [bx+si+0x10]
    0x39, 0xD0, // cmp ax, dx
    0xC6, 0x06, 0x26, 0x01, 0x90, // mov byte [0x126], 0x90: its own immediate
    0xEB, 0xD7, // jmp CODE
];

fn nop_handler(_: &mut CpuState, _: &mut Flat, _: &Op<Flat>) -> Res<()> {
    Ok(())
}

fn quick(c: &mut Criterion) -> criterion::BenchmarkGroup<'_, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group("pieces");
    g.warm_up_time(Duration::from_millis(300));
    g.measurement_time(Duration::from_secs(1));
    g.sample_size(20);
    g
}

/// iced decode plus our operand pre-resolution for a 16-instruction block.
fn decode(c: &mut Criterion) {
    let (mut cpu, mut bus) = cpu_with(&BLOCK);
    let mut g = quick(c);
    g.throughput(Throughput::Elements(16));
    g.bench_function("decode 16 instructions (decode_at + build_op)", |b| {
        b.iter(|| {
            let mut ip = CODE as u64;
            let mut acc = 0u64;
            for _ in 0..16 {
                let (ins, _, _) = cpu.s.decode_at(&mut bus, ip, ip).expect("decodes");
                let op = build_op::<Flat>(&ins, nop_handler);
                acc = acc.wrapping_add(op.disp ^ u64::from(op.r0));
                ip += u64::from(op.len);
            }
            black_box(acc)
        })
    });
    // Every pass rebuilds the block's traces after its code write.
    cpu.s.gpr[reg::SP] = 0x8000;
    assert_eq!(cpu.run(&mut bus, 17 * 4), RunExit::Budget);
    g.throughput(Throughput::Elements(17));
    g.bench_function("rebuild and run 17 instructions after a code write", |b| {
        b.iter(|| {
            cpu.s.gpr[reg::SI] &= 0x3FFF;
            cpu.run(&mut bus, 17)
        })
    });
    g.finish();
}

/// TraceCache::get on a warm entry.
fn cache_lookup(c: &mut Criterion) {
    let mut cache: TraceCache<Flat> = TraceCache::default();
    let (mut cpu, mut bus) = cpu_with(&BLOCK);
    let (ins, _, _) = cpu
        .s
        .decode_at(&mut bus, CODE as u64, CODE as u64)
        .expect("decodes");
    let op = build_op::<Flat>(&ins, nop_handler);
    let phys: Vec<u64> = (0..64u64).map(|i| 0x1_0000 + i * 0x40).collect();
    for &p in &phys {
        let t = Trace {
            phys: p,
            bitness: 16,
            bytes: u32::from(op.len),
            ops: vec![op].into_boxed_slice(),
        };
        cache.insert(t, &[p & !0xFFF]);
    }
    let mut g = quick(c);
    g.throughput(Throughput::Elements(phys.len() as u64));
    g.bench_function("trace cache hit (64 lookups)", |b| {
        b.iter(|| {
            let mut acc = 0usize;
            for &p in &phys {
                acc = acc.wrapping_add(cache.get(black_box(p), 16).expect("hit"));
            }
            acc
        })
    });
    g.finish();
}

/// A segmented read that hits the TLB.
fn tlb_hit(c: &mut Criterion) {
    let (mut cpu, mut bus) = cpu_with(&BLOCK);
    let s = &mut cpu.s;
    s.read_mem::<Flat, 4>(&mut bus, sreg::DS, 0x3000)
        .expect("reads");
    let mut g = quick(c);
    g.throughput(Throughput::Elements(256));
    g.bench_function("TLB hit: read_mem dword (256 reads)", |b| {
        b.iter(|| {
            let mut acc = 0u64;
            for i in 0..256u64 {
                let off = black_box(0x3000 + ((i * 4) & 0xFFF));
                acc =
                    acc.wrapping_add(s.read_mem::<Flat, 4>(&mut bus, sreg::DS, off).expect("hit"));
            }
            acc
        })
    });
    g.finish();
}

/// Runs `steps` instructions per iteration of a looping program.
fn run_loop(c: &mut Criterion, name: &str, code: &[u8], steps: u64, tp: Throughput) {
    let (mut cpu, mut bus) = cpu_with(code);
    assert_eq!(cpu.run(&mut bus, steps * 4), RunExit::Budget, "{name}");
    let mut g = quick(c);
    g.throughput(tp);
    g.bench_function(name, |b| b.iter(|| cpu.run(&mut bus, steps)));
    g.finish();
}

/// ADD/CMP/Jcc: the ALU handlers and a fused compare-and-branch.
fn alu(c: &mut Criterion) {
    // top: add ax, bx / add bx, 3 / cmp ax, dx / jne top / jmp top
    let code = [
        0x01, 0xD8, 0x83, 0xC3, 0x03, 0x39, 0xD0, 0x75, 0xF7, 0xEB, 0xF5,
    ];
    run_loop(
        c,
        "ALU loop: add/add/cmp/jne (10k instructions)",
        &code,
        10_000,
        Throughput::Elements(10_000),
    );
}

/// INC/DEC of registers (loop counters), which keep CF: each reads the
/// carry of the lazy flags before it.
fn inc_dec(c: &mut Criterion) {
    // top: add si, di / inc ax / dec bx / inc ecx / jmp top
    let code = [0x01, 0xFE, 0x40, 0x4B, 0x66, 0x41, 0xEB, 0xF8];
    run_loop(
        c,
        "INC/DEC loop: add/inc/dec/inc (10k instructions)",
        &code,
        10_000,
        Throughput::Elements(10_000),
    );
}

/// SHR/SHL/SAR by constants, their flags overwritten by the next ADD
/// unread (the XZ decompressor's range coder, most of a kernel's time to
/// its console): the flags stay pending (issue #19).
fn shifts(c: &mut Criterion) {
    // top: shr ax, 3 / shl bx, 1 / sar cx, 2 / add dx, ax / jmp top
    let code = [
        0xC1, 0xE8, 0x03, 0xD1, 0xE3, 0xC1, 0xF9, 0x02, 0x01, 0xC2, 0xEB, 0xF4,
    ];
    run_loop(
        c,
        "shift loop: shr/shl/sar/add (10k instructions)",
        &code,
        10_000,
        Throughput::Elements(10_000),
    );
}

/// IMUL r, r/m and IMUL r, r/m, imm (the amd64 kernel's multi-precision
/// loops split 64-bit products into 32-bit halves with them), their
/// flags overwritten by the next ADD unread: they stay pending (issue
/// #19).
fn imul(c: &mut Criterion) {
    // top: imul eax, ebx / imul ecx, esi, 5 / add edx, eax / add edi, ecx /
    // jmp top
    let code = [
        0x66, 0x0F, 0xAF, 0xC3, 0x66, 0x6B, 0xCE, 0x05, 0x66, 0x01, 0xC2, 0x66, 0x01, 0xCF, 0xEB,
        0xF0,
    ];
    run_loop(
        c,
        "IMUL loop: imul r,r / imul r,r,imm / add / add (10k instructions)",
        &code,
        10_000,
        Throughput::Elements(10_000),
    );
}

/// The kernel's multi-precision inner loops (`mpihelp_mul_1` and its
/// kin, most of the i386 guest's late-boot instructions): MUL with 32-bit
/// operands, then ADD/ADC/SBB carrying the high half (issue #19).
fn mul_adc(c: &mut Criterion) {
    // top: mov eax, esi / mul ebp / add eax, ebx / adc edx, 0 /
    // add ecx, eax / adc edx, 0 / sbb edi, edx / mov ebx, edx / inc esi /
    // jmp top
    let code = [
        0x66, 0x89, 0xF0, 0x66, 0xF7, 0xE5, 0x66, 0x01, 0xD8, 0x66, 0x83, 0xD2, 0x00, 0x66, 0x01,
        0xC1, 0x66, 0x83, 0xD2, 0x00, 0x66, 0x19, 0xD7, 0x66, 0x89, 0xD3, 0x66, 0x46, 0xEB, 0xE2,
    ];
    run_loop(
        c,
        "MUL/ADC/SBB loop: register forms (10k instructions)",
        &code,
        10_000,
        Throughput::Elements(10_000),
    );
    // top: mov eax, esi / mul dword [0x800] / add eax, ebx / adc edx, 0 /
    // mov ebx, edx / inc esi / jmp top
    let code = [
        0x66, 0x89, 0xF0, 0x66, 0xF7, 0x26, 0x00, 0x08, 0x66, 0x01, 0xD8, 0x66, 0x83, 0xD2, 0x00,
        0x66, 0x89, 0xD3, 0x66, 0x46, 0xEB, 0xEA,
    ];
    run_loop(
        c,
        "MUL/ADC loop: MUL dword [mem] (10k instructions)",
        &code,
        10_000,
        Throughput::Elements(10_000),
    );
}

/// Loads and a read-modify-write through addresses with no base
/// register, an absolute `[disp32]` and a table `[ecx*4+disp32]` (the
/// kernel's globals and jump tables): the `D32` and `I32` address shapes
/// (issue #19).
fn no_base_addresses(c: &mut Criterion) {
    // top: mov ax, [dword 0x800] / mov bx, [ecx*4+0x900] /
    // add [dword 0x804], bx / inc cx / and cx, 0x3f / jmp top
    let code = [
        0x67, 0x8B, 0x05, 0x00, 0x08, 0x00, 0x00, 0x67, 0x8B, 0x1C, 0x8D, 0x00, 0x09, 0x00, 0x00,
        0x67, 0x01, 0x1D, 0x04, 0x08, 0x00, 0x00, 0x41, 0x83, 0xE1, 0x3F, 0xEB, 0xE4,
    ];
    run_loop(
        c,
        "absolute and table addresses loop (10k instructions)",
        &code,
        10_000,
        Throughput::Elements(10_000),
    );
}

/// An interpreter's switch: a JMP through a table to eight cases in
/// turn, more targets than a trace keeps links for, so the trace cache's
/// jump cache answers the transitions (issue #19).
fn switch_dispatch(c: &mut Criterion) {
    // top: mov bx, si / and bx, 7 / shl bx, 1 / inc si / jmp [bx+table]
    // case k (k = 1..8): add ax, k / jmp top
    // table: dw case0 .. case7
    let code = [
        0x89, 0xF3, 0x83, 0xE3, 0x07, 0xD1, 0xE3, 0x46, 0xFF, 0xA7, 0x34, 0x01, 0x83, 0xC0, 0x01,
        0xEB, 0xEF, 0x83, 0xC0, 0x02, 0xEB, 0xEA, 0x83, 0xC0, 0x03, 0xEB, 0xE5, 0x83, 0xC0, 0x04,
        0xEB, 0xE0, 0x83, 0xC0, 0x05, 0xEB, 0xDB, 0x83, 0xC0, 0x06, 0xEB, 0xD6, 0x83, 0xC0, 0x07,
        0xEB, 0xD1, 0x83, 0xC0, 0x08, 0xEB, 0xCC, 0x0C, 0x01, 0x11, 0x01, 0x16, 0x01, 0x1B, 0x01,
        0x20, 0x01, 0x25, 0x01, 0x2A, 0x01, 0x2F, 0x01,
    ];
    run_loop(
        c,
        "switch through a jump table, eight cases (10k instructions)",
        &code,
        10_000,
        Throughput::Elements(10_000),
    );
}

/// Near CALL rel, JMP through memory and RET: the indirect transfers end
/// a trace and leave it from their own handler (issue #19); the CALL, to
/// the same page, is one the trace goes through.
fn near_transfers(c: &mut Criterion) {
    // 0100: call 0108 / 0103: jmp word [0x010E] (= 0100) / 0107: nop
    // 0108: inc ax / add bx, ax / ret / 010C: nop / nop / 010E: dw 0100
    let code = [
        0xE8, 0x05, 0x00, 0xFF, 0x26, 0x0E, 0x01, 0x90, 0x40, 0x01, 0xC3, 0xC3, 0x90, 0x90, 0x00,
        0x01,
    ];
    run_loop(
        c,
        "near CALL/RET/JMP [mem] loop (10k instructions)",
        &code,
        10_000,
        Throughput::Elements(10_000),
    );
}

/// Code laid out out of order, joined by direct JMPs and a CALL within
/// one page: the trace goes through them, so an iteration is one trace
/// (issue #19) instead of four.
fn direct_jumps(c: &mut Criterion) {
    // 0100: inc ax / jmp 0108 / 0103: add bx, ax / call 010C /
    // 0108: xor cx, bx / jmp 0103 / 010C: pop dx / jmp 0100
    let code = [
        0x40, 0xEB, 0x05, 0x01, 0xC3, 0xE8, 0x04, 0x00, 0x31, 0xD9, 0xEB, 0xF7, 0x5A, 0xEB, 0xF1,
    ];
    run_loop(
        c,
        "blocks joined by direct JMPs and a CALL (10k instructions)",
        &code,
        10_000,
        Throughput::Elements(10_000),
    );
}

/// A forward branch over one instruction (an `if` without `else`), taken
/// every other iteration: taken, it lands later in its own trace
/// (issue #19) instead of leaving it.
fn forward_branch(c: &mut Criterion) {
    // top: inc ax / test al, 1 / jz skip / inc dx / skip: add bx, ax /
    // dec cx / jnz top / jmp top
    let code = [
        0x40, 0xA8, 0x01, 0x74, 0x01, 0x42, 0x01, 0xC3, 0x49, 0x75, 0xF5, 0xEB, 0xF3,
    ];
    run_loop(
        c,
        "forward branch over an INC, taken half the time (10k instructions)",
        &code,
        10_000,
        Throughput::Elements(10_000),
    );
}

/// REP MOVSD of one 4 KiB page (1024 dwords: one REP slice).
fn rep_movsd(c: &mut Criterion) {
    // top: mov si, 0x1000 / mov di, 0x3000 / mov cx, 1024 / cld /
    // rep movsd / jmp top
    let code = [
        0xBE, 0x00, 0x10, 0xBF, 0x00, 0x30, 0xB9, 0x00, 0x04, 0xFC, 0xF3, 0x66, 0xA5, 0xEB, 0xF1,
    ];
    run_loop(
        c,
        "REP MOVSD 4 KiB page copy",
        &code,
        6,
        Throughput::Bytes(4096),
    );
}

/// REP STOSB over one 4 KiB page (four REP slices).
fn rep_stosb(c: &mut Criterion) {
    // top: mov di, 0x3000 / mov cx, 4096 / mov al, 0x5a / cld /
    // rep stosb / jmp top
    let code = [
        0xBF, 0x00, 0x30, 0xB9, 0x00, 0x10, 0xB0, 0x5A, 0xFC, 0xF3, 0xAA, 0xEB, 0xF3,
    ];
    run_loop(
        c,
        "REP STOSB 4 KiB page fill",
        &code,
        9,
        Throughput::Bytes(4096),
    );
}

// criterion_group! generates an undocumented public function.
#[allow(missing_docs)]
mod group {
    use super::*;
    criterion_group!(
        benches,
        decode,
        cache_lookup,
        tlb_hit,
        alu,
        inc_dec,
        shifts,
        imul,
        mul_adc,
        near_transfers,
        no_base_addresses,
        switch_dispatch,
        direct_jumps,
        forward_branch,
        rep_movsd,
        rep_stosb
    );
}
use group::benches;
criterion_main!(benches);
