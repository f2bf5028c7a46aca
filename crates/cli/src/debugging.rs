//! How `run` and `debug` drive a built machine: plain, with the GDB stub,
//! with the execution trace, or in the built-in debugger (TUI or batch).

use crate::args::{DebugArgs, RunArgs, Stream};
use crate::display::window::WindowLink;
use crate::{console, tui};
use anyx86_debugger::gdb::{self, GdbConfig};
use anyx86_debugger::trace::{TraceFilter, Tracer};
use anyx86_debugger::{Debugger, Session};
use anyx86_machine::{Board, HostControl, Machine, RunOutcome};
use std::io::{BufRead, Write};
use std::time::Duration;

/// `anyx86 run`: the guest on the console, optionally under the GDB stub
/// or with the execution trace.
pub fn run_machine(
    m: &mut Machine,
    a: &RunArgs,
    inputs: Vec<crate::SerialInput>,
    mut window: Option<WindowLink>,
) -> Result<RunOutcome, String> {
    let terminal = a.display == "terminal";
    let mut con = console::Console::new(a.serial == Stream::Stdio || terminal);
    con.add_inputs(inputs);
    let mut display = terminal.then(crate::display::TerminalDisplay::new);
    if terminal {
        con.use_keyboard();
    }
    let mut hook = |b: &mut Board, n: u64, idle: Option<Duration>| {
        if let Some(d) = display.as_mut() {
            d.refresh(b);
        }
        match window.as_mut() {
            // The window waits for its input while the guest idles; the
            // console then only polls.
            Some(w) => match w.poll(b, n, idle) {
                HostControl::Quit => HostControl::Quit,
                HostControl::Continue => con.hook(b, n, None),
            },
            None => con.hook(b, n, idle),
        }
    };
    let mut dbg = Debugger::new();
    dbg.trace = tracer(a)?;
    let out = if let Some(addr) = &a.gdb {
        let cfg = GdbConfig {
            addr: addr.clone(),
            wait: a.gdb_wait,
            allow_remote: a.gdb_allow_remote,
        };
        gdb::run(m, &cfg, a.max_instructions, &mut hook).map_err(|e| e.to_string())?
    } else {
        dbg.run(m, a.max_instructions, &mut hook)
    };
    if let Some(t) = dbg.trace.as_mut() {
        t.settle(&m.cpu.s);
        t.flush();
    }
    if let Some(w) = window.as_mut() {
        w.finish(&m.board, m.cpu.s.icount, &out);
    }
    Ok(out)
}

/// The tracer `--trace` asks for.
fn tracer(a: &RunArgs) -> Result<Option<Tracer>, String> {
    let Some(p) = &a.trace else {
        return Ok(None);
    };
    let mut items = Vec::new();
    if let Some(r) = &a.trace_range {
        items.push(format!("range={r}"));
    }
    if let Some(m) = &a.trace_mode {
        items.push(format!("mode={m}"));
    }
    if let Some(n) = a.trace_after {
        items.push(format!("after={n}"));
    }
    let filter = TraceFilter::parse(items.iter().map(String::as_str))?;
    let f = std::fs::File::create(p).map_err(|e| format!("cannot create {}: {e}", p.display()))?;
    Ok(Some(Tracer::new(
        Box::new(std::io::BufWriter::new(f)),
        filter,
    )))
}

/// `anyx86 debug`: the built-in debugger, full-screen or `--batch`.
pub fn debug(
    m: &mut Machine,
    a: &RunArgs,
    d: &DebugArgs,
    inputs: Vec<crate::SerialInput>,
) -> Result<RunOutcome, String> {
    // The built-in debugger feeds no host input to the guest yet: output
    // still goes to tcp: ports, input from them is not read.
    drop(inputs);
    let mut sess = Session::new(a.max_instructions);
    sess.dbg.trace = tracer(a)?;
    let out = match &d.batch {
        Some(p) => batch(m, &mut sess, p)?,
        None => tui::run(m, &mut sess, a)?,
    };
    if let Some(t) = sess.dbg.trace.as_mut() {
        t.settle(&m.cpu.s);
        t.flush();
    }
    Ok(out)
}

/// Runs the commands of `path` (`-`: standard input), echoing each one
/// and printing its result.
fn batch(
    m: &mut Machine,
    sess: &mut Session,
    path: &std::path::Path,
) -> Result<RunOutcome, String> {
    let input: Box<dyn BufRead> = if path.as_os_str() == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        let f = std::fs::File::open(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Box::new(std::io::BufReader::new(f))
    };
    let mut hook = |_: &mut Board, _: u64, idle: Option<Duration>| {
        if console::stop::requested().is_some() {
            console::stop::finishing();
            return HostControl::Quit;
        }
        if let Some(d) = idle {
            console::nap(d);
        }
        HostControl::Continue
    };
    let mut out = std::io::stdout();
    for line in input.lines() {
        let line = line.map_err(|e| format!("reading {}: {e}", path.display()))?;
        let cmd = line.trim();
        if cmd.is_empty() || cmd.starts_with('#') {
            continue;
        }
        if console::stop::requested().is_some() {
            break;
        }
        let _ = writeln!(out, "(anyx86) {cmd}");
        let r = sess.exec(m, cmd, Some(&mut hook));
        m.board.flush();
        if !r.text.is_empty() {
            let _ = writeln!(out, "{}", r.text);
        }
        let _ = out.flush();
        if r.quit {
            break;
        }
    }
    Ok(sess.ended.clone().unwrap_or(RunOutcome::HostQuit))
}
