#!/usr/bin/env python3
"""Times the BIOS boot of the shared boot media on QEMU TCG and anyx86,
in one run: wall seconds from the emulator's start to GUEST-READY and to
its exit (ACPI power-off), medians of RUNS boots.

    scripts/media-anchors.py [--runs N] [--anyx86 PATH] [--media cd.iso,cd-amd64.iso]

The media are ../shared/guests/images.sh's (target/guests/images). QEMU runs
as images.sh runs it: `-accel tcg,thread=single -m 256 -no-reboot
-nographic -cdrom X -boot d` (qemu-system-x86_64 for the amd64 medium,
qemu-system-i386 otherwise); anyx86 as a user would: `run --cdrom X -m 256
--no-reboot`.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGES = os.path.join(ROOT, "target/guests/images")


def boot(cmd, timeout=600):
    """Returns (seconds to GUEST-READY, seconds to exit, exit status)."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    ready = None
    buf = b""
    while True:
        b = p.stdout.read1(4096)
        if not b:
            break
        buf = (buf + b)[-4096:]
        if ready is None and b"GUEST-READY" in buf:
            ready = time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            p.kill()
            break
    p.wait()
    return ready, time.monotonic() - t0, p.returncode


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--anyx86", default=os.path.join(ROOT, "target/release/anyx86"))
    ap.add_argument("--media", default="cd.iso,cd-amd64.iso")
    a = ap.parse_args()
    print(f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, "
          f"{subprocess.run(['qemu-system-x86_64', '--version'], capture_output=True, text=True).stdout.splitlines()[0]}")
    print(f"{'medium':<14} {'emulator':<8} {'ready_s':>8} {'exit_s':>8}  ratio(ready)")
    for medium in a.media.split(","):
        path = os.path.join(IMAGES, medium)
        qemu = "qemu-system-x86_64" if "amd64" in medium else "qemu-system-i386"
        cmds = {
            "qemu": [qemu, "-accel", "tcg,thread=single", "-m", "256", "-no-reboot",
                     "-nographic", "-cdrom", path, "-boot", "d"],
            "anyx86": [a.anyx86, "run", "--cdrom", path, "-m", "256", "--no-reboot"],
        }
        res = {}
        for name, cmd in cmds.items():
            runs = [boot(cmd) for _ in range(a.runs)]
            if any(r[0] is None for r in runs):
                sys.exit(f"{name} {medium}: no GUEST-READY in {runs}")
            res[name] = (statistics.median(r[0] for r in runs),
                         statistics.median(r[1] for r in runs))
        for name, (ready, end) in res.items():
            ratio = ready / res["qemu"][0]
            print(f"{medium:<14} {name:<8} {ready:8.2f} {end:8.2f}  {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
