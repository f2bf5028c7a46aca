#!/usr/bin/env python3
"""Generates the MMX/SSE/SSE2 test vectors by running each instruction on
this host's CPU.

Each instruction is assembled with nasm (BITS 32, so the bytes mean the same
in the 32-bit test harness and on this x86-64 host: only XMM0/XMM1, MM0/MM1
and EAX are used), then run natively inside a small stub placed in an
executable mmap:

    stmxcsr [save]; movdqu xmm0, A; movdqu xmm1, B; movq mm0, A.lo;
    movq mm1, B.lo; mov eax, EAX_IN; ldmxcsr MXCSR_IN; <instruction>;
    stmxcsr MXCSR_OUT; save eax, eflags, xmm0, mm0; emms; ldmxcsr [save]

Only masked exceptions are used (an unmasked one would kill this process).
Output: one line per vector, gzip-compressed:

    BYTES MXCSR_IN A B EAX_IN FLAGMASK XMM0 MM0 EAX MXCSR_OUT EFLAGS

all hex; FLAGMASK says which EFLAGS bits the instruction defines.
A second file holds vectors with exceptions unmasked (see below); its lines
have a twelfth field, 1 when the instruction faulted (#XM).

Usage: gen_vectors.py VECTORS.txt.gz UNMASKED.txt.gz
(deterministic: fixed random seed; needs nasm and gcc)
"""
import ctypes
import mmap
import random
import struct
import sys

from genlib import assemble, load_trap, write_vectors

rng = random.Random(20261124)


PRE = """
stmxcsr [rdi+96]
movdqu xmm0, [rdi]
movdqu xmm1, [rdi+16]
movq mm0, [rdi]
movq mm1, [rdi+16]
mov eax, [rdi+40]
ldmxcsr [rdi+32]
"""
POST = """
stmxcsr [rdi+36]
mov [rdi+40], eax
pushfq
pop rcx
mov [rdi+48], rcx
movdqu [rdi+64], xmm0
movq [rdi+80], mm0
emms
ldmxcsr [rdi+96]
ret
"""
pre = assemble(PRE, 64)
post = assemble(POST, 64)
code = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
code_addr = ctypes.addressof(ctypes.c_char.from_buffer(code))
FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
fn = FN(code_addr)
buf = ctypes.create_string_buffer(256)
base = ctypes.addressof(buf)
off = (-base) % 64
io = base + off


def load(ins):
    code.seek(0)
    code.write(pre + ins + post)


def run(a, b, mx, eax):
    data = struct.pack("<QQQQII", a & (2**64 - 1), a >> 64, b & (2**64 - 1), b >> 64, mx, 0)
    data += struct.pack("<I", eax)
    ctypes.memmove(io, data, len(data))
    fn(io)
    raw = ctypes.string_at(io, 96)
    mxo, = struct.unpack_from("<I", raw, 36)
    eaxo, = struct.unpack_from("<I", raw, 40)
    fl, = struct.unpack_from("<Q", raw, 48)
    lo, hi, mm = struct.unpack_from("<QQQ", raw, 64)
    return lo | hi << 64, mm, eaxo, mxo, fl & 0xFFFFFFFF


# ---- values -------------------------------------------------------------

def f32s():
    v = [0x00000000, 0x80000000, 0x00000001, 0x80000001, 0x007FFFFF, 0x807FFFFF,
         0x00800000, 0x80800000, 0x3F800000, 0xBF800000, 0x3FC00000, 0x40400000,
         0x7F7FFFFF, 0xFF7FFFFF, 0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00000,
         0x7F800001, 0xFFA00005, 0x7FC12345, 0x3F800001, 0x3F7FFFFF, 0x00400000,
         0x4F000000, 0xCF000000, 0x4EFFFFFF, 0xCF000001, 0x3F000000, 0x3FE00000,
         0x40200000, 0xBFC00000, 0x0C000000, 0x33800000, 0x5F000000, 0x1F800000]
    return v


def f64s():
    return [0, 1 << 63, 1, (1 << 63) | 1, 0x000FFFFFFFFFFFFF, 0x800FFFFFFFFFFFFF,
            0x0010000000000000, 0x8010000000000000, 0x3FF0000000000000, 0xBFF0000000000000,
            0x3FF8000000000000, 0x4008000000000000, 0x7FEFFFFFFFFFFFFF, 0xFFEFFFFFFFFFFFFF,
            0x7FF0000000000000, 0xFFF0000000000000, 0x7FF8000000000000, 0xFFF8000000000000,
            0x7FF0000000000001, 0xFFF4000000000005, 0x7FF8123456789ABC, 0x3FF0000000000001,
            0x3FEFFFFFFFFFFFFF, 0x0008000000000000, 0x41E0000000000000, 0xC1E0000000000000,
            0x41DFFFFFFFC00000, 0xC1E0000000200000, 0x3FE0000000000000, 0x3FFC000000000000,
            0x4004000000000000, 0x43E0000000000000, 0xC3E0000000000000, 0x36A0000000000000,
            0x47E0000000000000, 0x3810000000000000, 0x380FFFFFFFFFFFFF, 0x47EFFFFFE0000000]


def rand_f(bits):
    """A random value: random bits, or a random exponent near 1, or near the
    denormal / overflow boundaries."""
    if bits == 32:
        e_bits, f_bits = 8, 23
    else:
        e_bits, f_bits = 11, 52
    k = rng.randrange(6)
    sign = rng.randrange(2) << (e_bits + f_bits)
    frac = rng.getrandbits(f_bits)
    bias = (1 << (e_bits - 1)) - 1
    if k == 0:
        return rng.getrandbits(bits)
    if k in (1, 2):
        e = bias + rng.randrange(-30, 31)
    elif k == 3:
        e = rng.randrange(0, 4)
    elif k == 4:
        e = (1 << e_bits) - 2 - rng.randrange(0, 3)
    else:
        e = bias + rng.randrange(-3, 3)
        frac &= ~((1 << rng.randrange(f_bits)) - 1)  # few significant bits
    return sign | e << f_bits | frac


def fp_pairs(bits):
    vals = f32s() if bits == 32 else f64s()
    pairs = [(a, b) for a in vals for b in vals]
    pairs += [(rand_f(bits), rand_f(bits)) for _ in range(150)]
    # Close values (cancellation, rounding ties).
    for _ in range(60):
        a = rand_f(bits)
        pairs.append((a, a ^ (rng.getrandbits(3)) ^ (rng.randrange(2) << (bits - 1))))
    return pairs


def pack_lanes(pairs, bits):
    n = 128 // bits
    out = []
    for i in range(0, len(pairs), n):
        chunk = pairs[i:i + n]
        while len(chunk) < n:
            chunk.append(chunk[0])
        a = sum(p[0] << (bits * j) for j, p in enumerate(chunk))
        b = sum(p[1] << (bits * j) for j, p in enumerate(chunk))
        out.append((a, b))
    return out


MODES = [0x1F80, 0x3F80, 0x5F80, 0x7F80, 0x9F80, 0x1FC0, 0xFFC0]


def rand128():
    k = rng.randrange(4)
    if k == 0:
        return rng.getrandbits(128)
    pats = [0, 0xFF, 0x7F, 0x80, 0x01, 0xFE]
    if k == 1:
        return sum(rng.choice(pats) << (8 * i) for i in range(16))
    pats = [0, 0xFFFF, 0x7FFF, 0x8000, 0x0001, 0x8001, 0xFF7F]
    return sum(rng.choice(pats) << (16 * i) for i in range(8))


lines = []


def emit(text, inputs, modes=(0x1F80,), flagmask=0):
    ins = assemble(text)
    load(ins)
    for mx in modes:
        for a, b, eax in inputs:
            x, mm, eo, mo, fl = run(a, b, mx, eax)
            lines.append(f"{ins.hex()} {mx:x} {a:x} {b:x} {eax:x} {flagmask:x} "
                         f"{x:x} {mm:x} {eo:x} {mo:x} {fl:x}")


def fp_inputs(bits, scalar=False):
    pairs = fp_pairs(bits)
    if scalar:
        rng.shuffle(pairs)
        return [(a | rng.getrandbits(128) << bits & ((1 << 128) - (1 << bits)),
                 b | rng.getrandbits(128) << bits & ((1 << 128) - (1 << bits)), 0)
                for a, b in pairs[:300]]
    return [(a, b, 0) for a, b in pack_lanes(pairs, bits)]


# ---- floating point -------------------------------------------------------

for op in ["add", "sub", "mul", "div", "min", "max", "sqrt"]:
    emit(f"{op}ps xmm0, xmm1", fp_inputs(32), MODES)
    emit(f"{op}pd xmm0, xmm1", fp_inputs(64), MODES)
    emit(f"{op}ss xmm0, xmm1", fp_inputs(32, True), MODES[:5])
    emit(f"{op}sd xmm0, xmm1", fp_inputs(64, True), MODES[:5])
for p in range(8):
    emit(f"cmpps xmm0, xmm1, {p}", fp_inputs(32), [0x1F80, 0x1FC0])
    emit(f"cmppd xmm0, xmm1, {p}", fp_inputs(64), [0x1F80, 0x1FC0])
    emit(f"cmpss xmm0, xmm1, {p}", fp_inputs(32, True)[:100])
    emit(f"cmpsd xmm0, xmm1, {p}", fp_inputs(64, True)[:100])
for op, bits in [("comiss", 32), ("ucomiss", 32), ("comisd", 64), ("ucomisd", 64)]:
    emit(f"{op} xmm0, xmm1", fp_inputs(bits, True), [0x1F80, 0x1FC0], flagmask=0x8D5)
for op in ["rcpps", "rsqrtps"]:
    pass  # estimates: implementation-specific, checked by bound in the test

def int_inputs(n=300):
    return [(rand128(), rand128(), rng.getrandbits(32)) for _ in range(n)]

def cvt_in(bits):
    pairs = fp_pairs(bits)
    return [(b, a, rng.getrandbits(32)) for a, b in pack_lanes(pairs, bits)]

ints32 = [0, 1, 0xFFFFFFFF, 0x80000000, 0x7FFFFFFF, 0x00FFFFFF, 0x01000001, 0x7FFFFFC0, 0xFFFFFF81]
def int_lanes():
    out = []
    for _ in range(200):
        v = [rng.choice(ints32 + [rng.getrandbits(32)]) for _ in range(4)]
        w = [rng.choice(ints32 + [rng.getrandbits(32)]) for _ in range(4)]
        out.append((sum(x << (32 * i) for i, x in enumerate(v)),
                    sum(x << (32 * i) for i, x in enumerate(w)),
                    rng.choice(ints32 + [rng.getrandbits(32)])))
    return out

for text in ["cvtps2pi mm0, xmm1", "cvttps2pi mm0, xmm1", "cvtps2dq xmm0, xmm1",
             "cvttps2dq xmm0, xmm1", "cvtss2si eax, xmm1", "cvttss2si eax, xmm1",
             "cvtps2pd xmm0, xmm1", "cvtss2sd xmm0, xmm1"]:
    emit(text, cvt_in(32), MODES)
for text in ["cvtpd2pi mm0, xmm1", "cvttpd2pi mm0, xmm1", "cvtpd2dq xmm0, xmm1",
             "cvttpd2dq xmm0, xmm1", "cvtsd2si eax, xmm1", "cvttsd2si eax, xmm1",
             "cvtpd2ps xmm0, xmm1", "cvtsd2ss xmm0, xmm1"]:
    emit(text, cvt_in(64), MODES)
for text in ["cvtpi2ps xmm0, mm1", "cvtdq2ps xmm0, xmm1", "cvtsi2ss xmm0, eax",
             "cvtpi2pd xmm0, mm1", "cvtdq2pd xmm0, xmm1", "cvtsi2sd xmm0, eax"]:
    emit(text, int_lanes(), MODES[:4])

# ---- integer, shuffles, moves -------------------------------------------

binops = """paddb paddw paddd paddq psubb psubw psubd psubq paddsb paddsw psubsb psubsw
paddusb paddusw psubusb psubusw pcmpeqb pcmpeqw pcmpeqd pcmpgtb pcmpgtw pcmpgtd
pand pandn por pxor pmullw pmulhw pmulhuw pmuludq pmaddwd psadbw pavgb pavgw
pminub pmaxub pminsw pmaxsw packsswb packssdw packuswb punpcklbw punpcklwd
punpckldq punpckhbw punpckhwd punpckhdq""".split()
for op in binops:
    emit(f"{op} xmm0, xmm1", int_inputs())
    emit(f"{op} mm0, mm1", int_inputs(100))
for op in "punpcklqdq punpckhqdq andps andpd andnps andnpd orps orpd xorps xorpd unpcklps unpckhps unpcklpd unpckhpd movss movsd movhlps movlhps movq movaps movdqa movupd".split():
    emit(f"{op} xmm0, xmm1", int_inputs(50))

def shift_inputs():
    out = []
    for c in [0, 1, 3, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 255, 1 << 32, 1 << 63]:
        for _ in range(6):
            out.append((rand128(), c | rng.getrandbits(64) << 64, 0))
    return out

for op in "psllw pslld psllq psrlw psrld psrlq psraw psrad".split():
    emit(f"{op} xmm0, xmm1", shift_inputs())
    emit(f"{op} mm0, mm1", shift_inputs())
    for c in [0, 1, 7, 15, 16, 31, 32, 63, 64, 200]:
        emit(f"{op} xmm0, {c}", int_inputs(8))
        emit(f"{op} mm0, {c}", int_inputs(8))
for op in ["pslldq", "psrldq"]:
    for c in [0, 1, 5, 8, 15, 16, 255]:
        emit(f"{op} xmm0, {c}", int_inputs(8))
for imm in [0x00, 0x1B, 0xE4, 0x4E, 0xB1, 0xFF, 0x93, 0x39]:
    for op in ["pshufd xmm0, xmm1", "pshuflw xmm0, xmm1", "pshufhw xmm0, xmm1",
               "pshufw mm0, mm1", "shufps xmm0, xmm1"]:
        emit(f"{op}, {imm}", int_inputs(6))
for imm in range(4):
    emit(f"shufpd xmm0, xmm1, {imm}", int_inputs(6))
for imm in [0, 1, 3, 4, 7, 8, 0xFF]:
    emit(f"pextrw eax, xmm1, {imm}", int_inputs(6))
    emit(f"pextrw eax, mm1, {imm}", int_inputs(6))
    emit(f"pinsrw xmm0, eax, {imm}", int_inputs(6))
    emit(f"pinsrw mm0, eax, {imm}", int_inputs(6))
for text in ["pmovmskb eax, xmm1", "pmovmskb eax, mm1", "movmskps eax, xmm1",
             "movmskpd eax, xmm1", "movd xmm0, eax", "movd eax, xmm1", "movd mm0, eax",
             "movd eax, mm1", "movq2dq xmm0, mm1", "movdq2q mm0, xmm1", "movq mm0, mm1"]:
    emit(text, int_inputs(30))

write_vectors(sys.argv[1], lines, "vectors")

# ---- unmasked exceptions --------------------------------------------------
#
# With an exception unmasked the instruction faults (#XM, SIGFPE under
# Linux); trap.c's handler resumes at the epilogue, which records the
# flags and the untouched destination. Lines get a twelfth field: 1 when
# the instruction faulted.

trap = load_trap()
fn_ptr = ctypes.cast(fn, ctypes.c_void_p)

ulines = []


def uemit(text, inputs, modes):
    ins = assemble(text)
    load(ins)
    resume = code_addr + len(pre) + len(ins)
    for mx in modes:
        for a, b, eax in inputs:
            data = struct.pack("<QQQQII", a & (2**64 - 1), a >> 64, b & (2**64 - 1),
                               b >> 64, mx, 0) + struct.pack("<I", eax)
            ctypes.memmove(io, data, len(data))
            faulted = trap.run_guarded(fn_ptr, io, resume)
            raw = ctypes.string_at(io, 96)
            mxo, = struct.unpack_from("<I", raw, 36)
            eaxo, = struct.unpack_from("<I", raw, 40)
            fl, = struct.unpack_from("<Q", raw, 48)
            lo, hi, mm = struct.unpack_from("<QQQ", raw, 64)
            ulines.append(f"{ins.hex()} {mx:x} {a:x} {b:x} {eax:x} 0 "
                          f"{lo | hi << 64:x} {mm:x} {eaxo:x} {mxo:x} {fl & 0xFFFFFFFF:x} {faulted}")


# One exception unmasked at a time, all unmasked, and FZ/DAZ with all
# unmasked, in two rounding modes.
UMODES = [0x1F80 & ~(1 << (7 + k)) for k in range(6)] + [0x0000, 0x6000, 0x8040]
for op in ["add", "sub", "mul", "div", "min", "max", "sqrt"]:
    for suffix, bits, scalar in [("ps", 32, False), ("pd", 64, False), ("ss", 32, True),
                                 ("sd", 64, True)]:
        inputs = fp_inputs(bits, scalar)
        uemit(f"{op}{suffix} xmm0, xmm1", inputs[:120], UMODES)
for p in [0, 1, 3, 6]:
    uemit(f"cmpps xmm0, xmm1, {p}", fp_inputs(32)[:60], UMODES[:2])
    uemit(f"cmpsd xmm0, xmm1, {p}", fp_inputs(64, True)[:60], UMODES[:2])
for op, bits in [("comiss", 32), ("ucomiss", 32), ("comisd", 64), ("ucomisd", 64)]:
    uemit(f"{op} xmm0, xmm1", fp_inputs(bits, True)[:100], UMODES[:2])
for text, bits in [("cvtps2dq xmm0, xmm1", 32), ("cvttps2dq xmm0, xmm1", 32),
                   ("cvtss2si eax, xmm1", 32), ("cvtps2pd xmm0, xmm1", 32),
                   ("cvtss2sd xmm0, xmm1", 32), ("cvtpd2dq xmm0, xmm1", 64),
                   ("cvttsd2si eax, xmm1", 64), ("cvtpd2ps xmm0, xmm1", 64),
                   ("cvtsd2ss xmm0, xmm1", 64), ("cvtps2pi mm0, xmm1", 32)]:
    uemit(text, cvt_in(bits)[:120], UMODES)
uemit("cvtdq2ps xmm0, xmm1", int_lanes()[:60], UMODES[:6])
uemit("cvtsi2ss xmm0, eax", int_lanes()[:60], UMODES[:6])

write_vectors(sys.argv[2], ulines, "unmasked vectors")
