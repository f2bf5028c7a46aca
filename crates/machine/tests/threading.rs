//! Threaded dispatch against one record at a time (issue #21): every test
//! ROM runs twice on the full machine, once with the interpreter's
//! threaded handlers chaining as usual and once with `Cpu::unthreaded`
//! (each record returns to the run loop, which keeps RIP and the
//! instruction count exact). Whatever a threaded handler got wrong (a
//! dropped branch target, a read of the stale RIP or count inside a
//! chain) shows as a difference in the architectural state, RAM or the
//! ROM's output. Deterministic: virtual clock, fixed RTC base.

use anyx86_cpu::cpuid::CpuModel;
use anyx86_cpu::{CpuBus, CpuState};
use anyx86_machine::{Machine, MachineConfig, MachineKind, RunOutcome};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Most instructions a ROM may run (they finish in far fewer).
const LIMIT: u64 = 50_000_000;

/// A debug-console sink the test can read back.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("one writer").extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn rom_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../test-roms/"))
}

/// The machine the ROM's `; anyx86-flags:` line asks for.
fn config(rom: &Path, out: &Captured) -> MachineConfig {
    let src = std::fs::read_to_string(rom.with_extension("asm")).expect("ROM source");
    let flags: Vec<&str> = src
        .lines()
        .find_map(|l| l.strip_prefix("; anyx86-flags:"))
        .map(|f| f.split_whitespace().collect())
        .unwrap_or_default();
    let mut cfg = MachineConfig::new(32);
    cfg.bios = Some(rom.to_owned());
    cfg.no_reboot = true;
    cfg.debugcon = Some(Box::new(out.clone()));
    cfg.rtc_base = 1_767_225_600;
    for w in flags.windows(2) {
        match w {
            ["--machine", "isa"] => cfg.kind = MachineKind::Isa,
            ["--cpu", "qemu64"] => cfg.cpu = CpuModel::qemu64(),
            ["--rtc-base", n] => cfg.rtc_base = n.parse().expect("rtc base"),
            ["--device", "pc-testdev"] => cfg.pc_testdev = true,
            _ => {}
        }
    }
    cfg
}

/// Everything architectural, as text (flags materialised).
fn arch_state(s: &CpuState) -> String {
    format!(
        "gpr {:x?}\nrip {:x} eflags {:x}\nseg {:?}\nldtr {:?} tr {:?}\ngdtr {:?} idtr {:?}\n\
         cr0 {:x} cr2 {:x} cr3 {:x} cr4 {:x} efer {:x} cr8 {:x}\ndr {:x?}\nmsr {:?}\n\
         cpl {} mode {:?} bitness {} icount {} work {} halted {}\nfpu {:?}\nsimd {:?}",
        s.gpr,
        s.rip,
        s.eflags(),
        s.seg,
        s.ldtr,
        s.tr,
        s.gdtr,
        s.idtr,
        s.cr0,
        s.cr2,
        s.cr3,
        s.cr4,
        s.efer,
        s.cr8,
        s.dr,
        s.msr,
        s.cpl,
        s.mode,
        s.bitness,
        s.icount,
        s.work(),
        s.halted,
        s.fpu,
        s.simd
    )
}

/// Runs `rom` to its end; returns the outcome, the state, a RAM digest
/// and the debug-console output.
fn run(rom: &Path, unthreaded: bool) -> (String, String, u64, Vec<u8>) {
    let out = Captured::default();
    let mut m = Machine::new(config(rom, &out)).expect("machine");
    m.cpu.unthreaded = unthreaded;
    let outcome = m.run(Some(LIMIT));
    let outcome = match outcome {
        RunOutcome::TripleFault(_) => "triple fault".to_owned(),
        o => format!("{o:?}"),
    };
    // FNV-1a over guest RAM.
    let ram = m.board.ram_ref();
    let digest = ram.iter().fold(0xCBF2_9CE4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01B3)
    });
    let state = arch_state(&m.cpu.s);
    let printed = out.0.lock().expect("one writer").clone();
    (outcome, state, digest, printed)
}

#[test]
fn every_test_rom_ends_the_same_threaded_and_one_record_at_a_time() {
    let mut roms: Vec<PathBuf> = std::fs::read_dir(rom_dir())
        .expect("test-roms")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "bin"))
        .collect();
    roms.sort();
    assert!(roms.len() >= 19, "{} ROMs", roms.len());
    for rom in &roms {
        let name = rom.file_name().expect("name").to_string_lossy();
        let threaded = run(rom, false);
        let alone = run(rom, true);
        assert!(!threaded.3.is_empty(), "{name} printed nothing");
        assert_eq!(threaded.0, alone.0, "{name}: outcome");
        assert_eq!(
            String::from_utf8_lossy(&threaded.3),
            String::from_utf8_lossy(&alone.3),
            "{name}: output"
        );
        assert_eq!(threaded.1, alone.1, "{name}: state");
        assert_eq!(threaded.2, alone.2, "{name}: RAM");
    }
}
