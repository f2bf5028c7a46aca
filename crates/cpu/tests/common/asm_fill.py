#!/usr/bin/env python3
"""Fills the instruction bytes of the CPU tests from their assembly source.

A test writes its code as a comment block, then the byte array:

    // bits 64
    //   add eax, ebx
    let e = m.run(&[]);

This script assembles each block with nasm and rewrites the first `&[...]`
after it (it may span lines) with the bytes, so the source in the comment
and the bytes stay in step. Usage: asm_fill.py FILE.rs... then cargo fmt.
"""
import re, subprocess, sys, tempfile, os

BITS = re.compile(r'^\s*// bits (16|32|64)\s*$')
LINE = re.compile(r'^\s*//   (.*)$')

def assemble(bits, lines):
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, 'a.asm'); out = os.path.join(d, 'a.bin')
        with open(src, 'w') as f:
            f.write(f'bits {bits}\n' + '\n'.join(lines) + '\n')
        r = subprocess.run(['nasm', '-Werror', '-f', 'bin', '-o', out, src], capture_output=True, text=True)
        if r.returncode:
            sys.exit(f'{lines}: {r.stderr}')
        return open(out, 'rb').read()

def fill(path):
    text = open(path).read()
    lines = text.split('\n')
    out = []
    i = 0
    while i < len(lines):
        m = BITS.match(lines[i])
        if not m:
            out.append(lines[i]); i += 1; continue
        bits = m.group(1); out.append(lines[i]); i += 1
        asm = []
        while i < len(lines) and LINE.match(lines[i]):
            asm.append(LINE.match(lines[i]).group(1)); out.append(lines[i]); i += 1
        code = assemble(bits, asm)
        rest = '\n'.join(lines[i:])
        s = re.search(r'&\[(?!u8\])', rest).start() + 2
        between = rest[:s]
        if '#[test]' in between or 'poke(' in between or between.count(';') > 3:
            sys.exit(f'{path}: the array after {asm} is not in the next statements')
        e = rest.index(']', s)
        arr = ', '.join(f'0x{b:02X}' for b in code)
        rest = rest[:s] + arr + rest[e:]
        lines = lines[:i] + rest.split('\n')
        # copy the statement line(s) up to the array's end
        n = rest[:s + len(arr)].count('\n') + 1
        out.extend(lines[i:i + n]); i += n
    open(path, 'w').write('\n'.join(out))

for p in sys.argv[1:]:
    fill(p)
