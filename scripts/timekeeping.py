#!/usr/bin/env python3
"""Does a Linux guest keep time on anyx86's realtime clock?

Boots a shared guest (target/guests/<arch>) to its shell with the default
`--clock realtime`, then, typing on COM1:

1. `sleep 10` in the idle guest, timed on the host between the two marker
   lines the guest prints around it;
2. a CPU-bound stretch of about a minute (an awk loop), with the guest's
   /proc/uptime read before and after, compared with the host's wall time
   between the two readings.

Prints one line per measurement and exits 1 when `sleep 10` is outside
10 s +- 0.3 s or the uptime drifts by more than 2 %.

    scripts/timekeeping.py [--arch i386|amd64] [--anyx86 PATH] [--loops N]
"""
import argparse
import os
import re
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="i386")
    ap.add_argument("--anyx86", default=os.path.join(ROOT, "target/release/anyx86"))
    ap.add_argument("--loops", type=int, default=6000000,
                    help="iterations of the CPU-bound awk loop (about a minute)")
    args = ap.parse_args()
    g = os.path.join(ROOT, "target/guests", args.arch)
    cmd = [args.anyx86, "run", "--kernel", f"{g}/vmlinuz", "--initrd", f"{g}/initrd.gz",
           "--append", "console=ttyS0,115200 panic=-1 shell=1", "-m", "256",
           "--serial", "stdio", "--debugcon", "null"]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    lines = []  # (host time, line)
    cond = threading.Condition()

    def reader():
        buf = b""
        while True:
            b = p.stdout.read1(4096)
            if not b:
                break
            buf += b
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                with cond:
                    lines.append((time.monotonic(), line.decode("latin-1").rstrip("\r")))
                    cond.notify_all()
        with cond:
            lines.append((time.monotonic(), None))
            cond.notify_all()

    threading.Thread(target=reader, daemon=True).start()

    def wait_for(pattern, timeout):
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        i = 0
        with cond:
            while True:
                while i < len(lines):
                    t, line = lines[i]
                    i += 1
                    if line is None:
                        sys.exit(f"anyx86 ended before {pattern!r}")
                    m = rx.search(line)
                    if m:
                        return t, m
                left = deadline - time.monotonic()
                if left <= 0:
                    sys.exit(f"timed out waiting for {pattern!r}")
                cond.wait(left)

    def send(s):
        p.stdin.write(s.encode() + b"\r")
        p.stdin.flush()

    try:
        wait_for(r"GUEST-READY", 300)
        wait_for(r"WORK-TIME", 600)
        time.sleep(2)
        send("echo SLEEP-A; sleep 10; echo SLEEP-B")
        ta, _ = wait_for(r"^SLEEP-A", 60)
        tb, _ = wait_for(r"^SLEEP-B", 60)
        sleep_s = tb - ta
        send("cat /proc/uptime | sed 's/^/UP-A /'; "
             f"awk 'BEGIN {{ s = 0; for (i = 0; i < {args.loops}; i++) s += i % 7; print \"SUM\", s }}'; "
             "cat /proc/uptime | sed 's/^/UP-B /'")
        t1, m1 = wait_for(r"^UP-A ([0-9.]+)", 60)
        t2, m2 = wait_for(r"^UP-B ([0-9.]+)", 600)
        guest = float(m2.group(1)) - float(m1.group(1))
        host = t2 - t1
        drift = (guest - host) / host * 100
        send("poweroff -f")
        p.wait(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    ok_sleep = abs(sleep_s - 10) <= 0.3
    ok_drift = abs(drift) <= 2
    print(f"{args.arch}: sleep 10 took {sleep_s:.2f} s of wall time "
          f"({'ok' if ok_sleep else 'OUT OF 10 +- 0.3 s'})")
    print(f"{args.arch}: CPU-bound stretch: guest uptime {guest:.2f} s, host wall {host:.2f} s, "
          f"drift {drift:+.2f} % ({'ok' if ok_drift else 'OUT OF +-2 %'})")
    return 0 if ok_sleep and ok_drift else 1


if __name__ == "__main__":
    sys.exit(main())
