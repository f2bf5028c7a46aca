//! The board's part of a machine snapshot: every chip's state through its
//! [`Snapshot`] impl, the scheduler's pending events, the idle time the
//! clock skipped, and the board's own latches (A20, NMI, cached interrupt
//! routing). RAM is saved by the machine, page by page.
//!
//! Not saved: host-side outputs and counters (`--stats`), and what the
//! command line builds (CMOS configuration bytes, drives and their media,
//! fw_cfg's items, the ROM): the machine checks that the loading command
//! line describes the same machine. Derived state is re-derived after a
//! load: the PAM map from the host bridge, and the memory-map generation
//! is bumped so that the CPU drops what it decoded.
//!
//! The save side destructures [`Board`] and [`Chipset`] without `..`: a
//! field added to either must be saved or named as skipped here first.

use super::{Board, Event};
use crate::pc::Chipset;
use anyx86_hw::wire::{Reader, Wire, WireError};
use anyx86_hw::{Snapshot, SnapshotError};

anyx86_hw::wire_enum!(Event {
    Pit = 0,
    Rtc = 1,
    Lapic = 2,
    Hpet = 3,
    Pm = 4,
    Kbc = 5
});

/// Why a board state could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum BoardStateError {
    /// The bytes do not decode.
    #[error("{0}")]
    Wire(#[from] WireError),
    /// A device rejected its state.
    #[error("{0}")]
    Device(#[from] SnapshotError),
    /// The snapshot's machine has a part this one lacks, or the reverse.
    #[error("the snapshot's machine {0}")]
    Mismatch(&'static str),
}

fn put_dev<D: Snapshot>(d: &D, out: &mut Vec<u8>) {
    d.save_into(out);
}

fn get_dev<D: Snapshot>(d: &mut D, r: &mut Reader<'_>) -> Result<(), BoardStateError> {
    d.restore(&D::State::get(r)?)?;
    Ok(())
}

impl Board {
    /// Appends the board's state to `out` (RAM excepted).
    pub fn save_state(&self, out: &mut Vec<u8>) {
        let Self {
            mem: _,
            clock,
            sched,
            pit_deadline,
            rtc_deadline,
            pic,
            pit,
            uarts,
            cmos,
            kbc,
            fdc,
            dma,
            port92,
            a20,
            post_code,
            debugcon: _,
            firmware_log: _,
            cmos_config: _,
            serial: _,
            stop: _,
            budget_deadline,
            resched,
            unclaimed: _,
            fpu_error_clear,
            first_serial_byte: _,
            scratch: _,
            pc,
            map_gen: _,
            dma_pages: _,
            apic_intr,
            pic_through,
            nmi,
            host_inputs: _,
            save_request: _,
            saved: _,
        } = self;
        clock.skipped_ns().put(out);
        sched.entries().to_vec().put(out);
        (*pit_deadline, *rtc_deadline, *budget_deadline).put(out);
        put_dev(pic, out);
        put_dev(pit, out);
        uarts.iter().for_each(|u| put_dev(u, out));
        put_dev(cmos, out);
        put_dev(kbc, out);
        put_dev(fdc, out);
        put_dev(dma, out);
        put_dev(port92, out);
        [
            *a20,
            *resched,
            *fpu_error_clear,
            *apic_intr,
            *pic_through,
            *nmi,
        ]
        .put(out);
        post_code.put(out);
        pc.is_some().put(out);
        if let Some(pc) = pc {
            save_chipset(pc, out);
        }
    }

    /// Replaces the board's state with the one `r` holds, at instruction
    /// count `icount` (the CPU's, from the same snapshot). On an error the
    /// board is partly replaced: discard the machine.
    pub fn load_state(&mut self, r: &mut Reader<'_>, icount: u64) -> Result<(), BoardStateError> {
        let skipped = u64::get(r)?;
        self.clock.resume(skipped, icount);
        self.sched.clear();
        for (t, e) in Vec::<(u64, Event)>::get(r)? {
            self.sched.schedule(t, e);
        }
        (self.pit_deadline, self.rtc_deadline, self.budget_deadline) = Wire::get(r)?;
        get_dev(&mut self.pic, r)?;
        get_dev(&mut self.pit, r)?;
        for u in &mut self.uarts {
            get_dev(u, r)?;
        }
        get_dev(&mut self.cmos, r)?;
        get_dev(&mut self.kbc, r)?;
        get_dev(&mut self.fdc, r)?;
        get_dev(&mut self.dma, r)?;
        get_dev(&mut self.port92, r)?;
        [
            self.a20,
            self.resched,
            self.fpu_error_clear,
            self.apic_intr,
            self.pic_through,
            self.nmi,
        ] = Wire::get(r)?;
        self.post_code = Wire::get(r)?;
        self.stop = None;
        match (bool::get(r)?, self.pc.as_deref_mut()) {
            (true, Some(pc)) => load_chipset(pc, r)?,
            (false, None) => {}
            (true, None) => return Err(BoardStateError::Mismatch("is a full PC")),
            (false, Some(_)) => return Err(BoardStateError::Mismatch("is the ISA machine")),
        }
        self.sync_pam();
        Ok(())
    }
}

fn save_chipset(pc: &Chipset, out: &mut Vec<u8>) {
    let Chipset {
        lapic,
        ioapic,
        hpet,
        pci,
        host,
        isa,
        ide,
        ide_bm_base,
        pm_fn,
        vga,
        vga_bars,
        pm,
        fw_cfg,
        pm_base,
        testdev,
    } = pc;
    put_dev(lapic, out);
    put_dev(ioapic, out);
    put_dev(hpet, out);
    put_dev(pci, out);
    put_dev(host, out);
    put_dev(isa, out);
    put_dev(ide, out);
    put_dev(pm_fn, out);
    put_dev(vga, out);
    put_dev(pm, out);
    put_dev(fw_cfg, out);
    (*ide_bm_base, *vga_bars, *pm_base).put(out);
    testdev.as_deref().map(Snapshot::save).put(out);
}

fn load_chipset(pc: &mut Chipset, r: &mut Reader<'_>) -> Result<(), BoardStateError> {
    get_dev(&mut pc.lapic, r)?;
    get_dev(&mut pc.ioapic, r)?;
    get_dev(&mut pc.hpet, r)?;
    get_dev(&mut pc.pci, r)?;
    get_dev(&mut pc.host, r)?;
    get_dev(&mut pc.isa, r)?;
    get_dev(&mut pc.ide, r)?;
    get_dev(&mut pc.pm_fn, r)?;
    get_dev(&mut pc.vga, r)?;
    get_dev(&mut pc.pm, r)?;
    get_dev(&mut pc.fw_cfg, r)?;
    (pc.ide_bm_base, pc.vga_bars, pc.pm_base) = Wire::get(r)?;
    let testdev = Option::get(r)?;
    match (testdev, pc.testdev.as_deref_mut()) {
        (Some(s), Some(t)) => t.restore(&s)?,
        (None, None) => {}
        (Some(_), None) => return Err(BoardStateError::Mismatch("has --device pc-testdev")),
        (None, Some(_)) => return Err(BoardStateError::Mismatch("has no --device pc-testdev")),
    }
    Ok(())
}
