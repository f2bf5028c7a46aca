#!/bin/sh
# Second opinion: run one test ROM on Bochs and print what it wrote to port
# 0xE9.  Used only to cross-check behaviours where QEMU disagrees with the SDM
# (see README.md); the golden files in expected/ always come from QEMU.
#
#   tools/run-bochs.sh NAME [CPU_MODEL]     (default model core_duo_t2400_yonah:
#   P6-family, PAE and NX)
#
# Bochs has no isa-debug-exit device: the ROM's final OUT to port 0xF4 is
# ignored and the ROM halts, so the run is ended by a timeout; only the text
# output is meaningful.  Needs the Debian package "bochs" (and bochsbios for
# the VGA ROM it insists on loading).
set -eu
cd "$(dirname "$0")/.."
strict=0
if [ "${1:-}" = "--strict" ]; then
    strict=1
    shift
fi
name=${1%.asm}
name=${name%.bin}
model=${2:-core_duo_t2400_yonah}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
rom=$PWD/$name.bin
if [ $strict -eq 1 ]; then
    rom=$tmp/$name.bin
    nasm -f bin -I inc/ -DQEMU_DIVERGENT -o "$rom" "$name.asm"
fi
cat > "$tmp/bochsrc" <<EOR
megs: 32
romimage: file=$rom, address=0xffff0000
vgaromimage: file=/usr/share/bochs/VGABIOS-lgpl-latest
cpu: model=$model, count=1, ips=50000000
port_e9_hack: enabled=1
display_library: term
log: $tmp/log.txt
panic: action=fatal
error: action=report
info: action=ignore
debug: action=ignore
boot: disk
EOR
# Bochs is built with its debugger: "c" makes it run without stopping.
echo c > "$tmp/cmds"
timeout -s KILL "${BOCHS_TIMEOUT:-20}" bochs -q -f "$tmp/bochsrc" -rc "$tmp/cmds" \
    < /dev/null > "$tmp/out" 2>&1 || true
# drop Bochs' own banner/log/debugger lines; what remains is the ROM output
tr -d '\033\r' < "$tmp/out" | grep -a -v -E \
    -e '^[0-9]{11}[iedp]\[' -e 'Bochs|Built from|Timestamp|^=+$|^ALSA|^Next at|^\(0\)|^<bochs|^debugger|^Killed|^$' || true
