//! Direct kernel boot: turns a loader's [`BootPlan`] into guest memory and
//! CPU state, as a boot loader would leave them.
//!
//! With `--kernel` there is no firmware at the reset vector: a reset
//! reloads the kernel and initrd and enters them again (see
//! [`Machine::reset`]).

use crate::layout::mem;
use crate::machine::{Machine, MachineError};
use anyx86_boot::{BootPlan, MemoryLayout};
use anyx86_cpu::arch::{cr0, sreg, Segment};
use std::path::PathBuf;

/// A kernel to boot directly.
#[derive(Debug, Clone, Default)]
pub struct KernelBoot {
    /// bzImage or Multiboot kernel.
    pub kernel: PathBuf,
    /// Initrd (Linux: at most one) or Multiboot modules.
    pub initrd: Vec<PathBuf>,
    /// Kernel command line.
    pub append: String,
}

/// True when `kernel` is a bzImage with the 64-bit entry point
/// (`XLF_KERNEL_64`): a kernel that needs a long-mode CPU. Unreadable or
/// other files give false (loading them reports the error).
pub fn kernel_is_64bit(kernel: &std::path::Path) -> bool {
    // The header checks want the whole file (the protected-mode size).
    std::fs::read(kernel)
        .is_ok_and(|k| anyx86_boot::parse_setup_header(&k).is_ok_and(|h| h.kernel_64()))
}

fn read(path: &PathBuf, what: &'static str) -> Result<Vec<u8>, MachineError> {
    std::fs::read(path).map_err(|source| MachineError::FileRead {
        what,
        path: path.clone(),
        source,
    })
}

impl Machine {
    /// The memory map a loader may use: RAM below the EBDA and from 1 MiB
    /// up, the EBDA and BIOS area reserved.
    pub fn memory_layout(&self) -> MemoryLayout {
        MemoryLayout {
            ram_bytes: self.board.mem.ram().len() as u64,
            low_ram_end: mem::EBDA_START,
            reserved: vec![
                (mem::EBDA_START, mem::LOW_RAM_END - mem::EBDA_START),
                (
                    mem::BIOS_AREA_START,
                    mem::HIGH_RAM_START - mem::BIOS_AREA_START,
                ),
            ],
            acpi: match self.board.pc {
                Some(_) => vec![(self.acpi_tables_addr(), crate::platform::ACPI_TABLES_LEN)],
                None => vec![],
            },
            acpi_rsdp: self.board.pc.as_ref().map(|_| crate::platform::RSDP_ADDR),
        }
    }

    /// Loads `k` (Multiboot first, then the Linux boot protocol) and puts
    /// the CPU at its entry point.
    pub fn boot_kernel(&mut self, k: &KernelBoot) -> Result<(), MachineError> {
        let kernel = read(&k.kernel, "kernel")?;
        self.setup_direct_platform();
        let layout = self.memory_layout();
        let mut modules = Vec::new();
        for p in &k.initrd {
            let name = p.display().to_string();
            modules.push((read(p, "initrd")?, name));
        }
        // Multiboot loaders (QEMU, GRUB) put the kernel's name first.
        let mb_cmdline = anyx86_boot::multiboot_cmdline(&k.kernel.display().to_string(), &k.append);
        let plan = match anyx86_boot::load_multiboot(&kernel, &modules, &mb_cmdline, &layout)? {
            Some(plan) => plan,
            None => {
                if modules.len() > 1 {
                    return Err(MachineError::TooManyInitrds(modules.len()));
                }
                let initrd = modules.first().map(|(d, _)| d.as_slice());
                anyx86_boot::load_linux(&kernel, initrd, &k.append, &layout)?
            }
        };
        self.add_identity(format!("kernel {}", crate::machine::content_id(&kernel)));
        for (m, _) in &modules {
            self.add_identity(format!("initrd {}", crate::machine::content_id(m)));
        }
        self.add_identity(format!("append {}", k.append));
        let mut plan = plan;
        if self.screen_shown && self.board.pc.is_some() {
            // setup_direct_platform put the VGA in mode 3.
            anyx86_boot::set_vga_text_console(&mut plan);
        }
        self.apply_plan(&plan);
        self.boot_plan = Some(plan);
        Ok(())
    }

    /// Writes the plan's loads and sets the entry state.
    pub(crate) fn apply_plan(&mut self, plan: &BootPlan) {
        for l in &plan.loads {
            self.board.mem.load(l.addr, &l.data);
            let zero_start = l.addr + l.data.len() as u64;
            let ram = self.board.mem.ram_mut().as_mut_slice();
            // Saturate rather than truncate: on a 32-bit host a load ending
            // near 4 GiB must not wrap to a small offset.
            let len = ram.len();
            let clamp = |a: u64| usize::try_from(a).map_or(len, |a| a.min(len));
            let start = clamp(zero_start);
            let end = clamp(zero_start.saturating_add(l.zero_fill));
            ram[start..end].fill(0);
        }
        self.cpu.flush_code_cache();
        let e = &plan.entry;
        let s = &mut self.cpu.s;
        let r = &e.regs;
        s.gpr[..8].copy_from_slice(
            &[r.eax, r.ecx, r.edx, r.ebx, r.esp, r.ebp, r.esi, r.edi].map(u64::from),
        );
        s.gdtr.base = e.gdt.base;
        s.gdtr.limit = e.gdt.limit();
        s.cr0 |= cr0::PE;
        s.cr0 &= !cr0::PG;
        let cache = |seg: Option<anyx86_boot::Segment>| {
            seg.map(|d| {
                let raw = e
                    .gdt
                    .descriptors
                    .get(usize::from(d.selector >> 3))
                    .copied()
                    .unwrap_or(0);
                Segment::from_descriptor(d.selector, raw)
            })
        };
        if let Some(cs) = cache(e.code_segment()) {
            s.seg[sreg::CS] = cs;
        }
        if let Some(ds) = cache(e.data_segment()) {
            for i in [sreg::ES, sreg::SS, sreg::DS, sreg::FS, sreg::GS] {
                s.seg[i] = ds;
            }
        }
        s.flags = r.eflags | 2;
        s.lazy.op = anyx86_cpu::FlagOp::None;
        s.rip = u64::from(r.eip);
        s.next_rip = s.rip;
        s.cpl = 0;
        s.halted = false;
        s.update_mode();
        s.tlb.flush_all();
    }
}
