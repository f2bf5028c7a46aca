#!/usr/bin/env python3
"""Generates the x86-64-v2 SIMD test vectors (SSE3, SSSE3, SSE4.1, SSE4.2)
by running each instruction on this host's CPU, in the format and with the
stub of gen_vectors.py (whose helpers this imports without running its own
generation):

    BYTES MXCSR_IN A B EAX_IN FLAGMASK XMM0 MM0 EAX MXCSR_OUT EFLAGS

BYTES may be a short sequence: a few plain instructions around the one
under test give it operands the stub does not load (EDX for the PCMPESTRx
lengths, XMM2 for the BLENDV destination, an x87 value for FISTTP) or
bring its result to EAX/XMM0 (ECX of PCMPxSTRI). Everything stays
meaningful in both BITS 32 and on the 64-bit host.

Usage: gen_v2.py V2.txt.gz V2_UNMASKED.txt.gz   (deterministic; nasm, gcc)
"""
import ctypes
import os
import random
import struct
import sys

from genlib import load_trap, write_vectors

# The stub, the value generators and emit() are gen_vectors.py's: its text
# up to its first vectors is run here (so both files stay one format).
HERE = os.path.dirname(os.path.abspath(__file__))
_src = open(os.path.join(HERE, "gen_vectors.py")).read()
exec(_src.split("# ---- floating point")[0])
rng = random.Random(20261125)


def int_inputs(n=300):
    return [(rand128(), rand128(), rng.getrandbits(32)) for _ in range(n)]


ALL_MODES = MODES + [0x3FC0, 0x5FC0, 0xDF80]


class G:
    f32s = staticmethod(f32s)
    f64s = staticmethod(f64s)
    rand_f = staticmethod(rand_f)
    pack_lanes = staticmethod(pack_lanes)


g = G()

# ---- SSE3 -------------------------------------------------------------------
for op in ["addsub", "hadd", "hsub"]:
    emit(f"{op}ps xmm0, xmm1", fp_inputs(32), MODES)
    emit(f"{op}pd xmm0, xmm1", fp_inputs(64), MODES)
for op in ["movshdup", "movsldup", "movddup"]:
    emit(f"{op} xmm0, xmm1", int_inputs(60))


def f80(sign, exp, sig):
    return sig | exp << 64 | sign << 79


def x87_values():
    v = []
    for s in (0, 1):
        v += [f80(s, 0, 0), f80(s, 0x3FFF, 1 << 63), f80(s, 0x3FFF, 3 << 62),
              f80(s, 0x3FFE, 1 << 63), f80(s, 0x3FFE, 0xFFFFFFFFFFFFFFFF),
              f80(s, 0x4000, 5 << 61), f80(s, 0x7FFF, 1 << 63), f80(s, 0x7FFF, 3 << 62),
              f80(s, 0x7FFF, (1 << 63) | 1), f80(s, 0, 1), f80(s, 0, 1 << 63),
              f80(s, 0x4001, 0), f80(s, 0x7FFF, 0), f80(s, 0x7FFF, 5),
              f80(s, 0x3FFD, 1 << 63), f80(s, 0x4040, 1 << 63), f80(s, 0x7FFE, 1 << 63)]
        for e in (14, 15, 16, 30, 31, 32, 62, 63, 64):
            for d in (-2, -1, 0, 1, 2):
                sig = ((1 << 63) + d * (1 << (63 - e + 1))) & (2**64 - 1) if e < 63 else (1 << 63) + d
                v.append(f80(s, 0x3FFF + e, (sig | 1 << 63) & (2**64 - 1)))
                v.append(f80(s, 0x3FFF + e, ((1 << 64) - 1 - d * 3) & (2**64 - 1) | 1 << 63))
    for _ in range(120):
        e = 0x3FFF + rng.randrange(-3, 66)
        v.append(f80(rng.randrange(2), e, rng.getrandbits(64) | 1 << 63))
    return v


FIST_PRE = "push eax\n" * 8 + "movdqu [esp], xmm1\nmovdqu [esp+16], xmm0\n"
FIST_POST = "fnstsw ax\nfninit\nmovdqu xmm0, [esp+16]\n" + "pop ecx\n" * 8
for size in ["word", "dword", "qword"]:
    ins = f"fisttp {size} [esp+16]"
    ins_in = [(rng.getrandbits(128), x | rng.getrandbits(48) << 80, rng.getrandbits(32))
              for x in x87_values()]
    emit(FIST_PRE + f"fninit\nfld tword [esp]\n{ins}\n" + FIST_POST, ins_in)
    for cw in (0x37E, 0x35F, 0x37F & ~0x20, 0x77F, 0xB7F, 0xF7F):
        emit(FIST_PRE + f"mov word [esp+12], {cw}\nfninit\nfldcw [esp+12]\n"
             f"fld tword [esp]\n{ins}\n" + FIST_POST, ins_in[::3])

# ---- SSSE3 ------------------------------------------------------------------
for op in ("pshufb phaddw phaddd phaddsw phsubw phsubd phsubsw pmaddubsw pmulhrsw "
           "psignb psignw psignd pabsb pabsw pabsd").split():
    emit(f"{op} xmm0, xmm1", int_inputs(300))
    emit(f"{op} mm0, mm1", int_inputs(100))
for imm in [0, 1, 5, 8, 9, 15, 16, 17, 24, 31, 32, 33, 255]:
    emit(f"palignr xmm0, xmm1, {imm}", int_inputs(8))
    emit(f"palignr mm0, mm1, {imm}", int_inputs(8))

# ---- SSE4.1 -----------------------------------------------------------------
for imm in [0, 0xFF, 0xA5, 0x5A, 0x01, 0x80, 0x3C]:
    emit(f"pblendw xmm0, xmm1, {imm}", int_inputs(6))
for imm in range(16):
    emit(f"blendps xmm0, xmm1, {imm}", int_inputs(4))
for imm in [0, 1, 2, 3, 0xFE]:
    emit(f"blendpd xmm0, xmm1, {imm}", int_inputs(4))
for op in ["blendvps", "blendvpd", "pblendvb"]:
    emit(f"pshufd xmm2, xmm1, 0x1B\n{op} xmm2, xmm1, xmm0\nmovdqa xmm0, xmm2", int_inputs(100))


def dp_inputs(bits, n):
    vals = g.f32s() if bits == 32 else g.f64s()
    out = []
    lanes = 128 // bits
    for _ in range(n):
        a = b = 0
        for j in range(lanes):
            k = rng.randrange(3)
            x = rng.choice(vals) if k == 0 else g.rand_f(bits)
            y = rng.choice(vals) if k == 0 else g.rand_f(bits)
            if k == 2:  # near-cancelling products
                y = x ^ (rng.randrange(2) << (bits - 1))
            a |= x << (bits * j)
            b |= y << (bits * j)
        out.append((a, b, 0))
    return out


for imm in [0xFF, 0xF1, 0x31, 0x72, 0xB4, 0xD8, 0x1F, 0x0F, 0xF0, 0x55, 0xAA, 0x3C, 0xE7]:
    emit(f"dpps xmm0, xmm1, {imm}", dp_inputs(32, 120), MODES)
for imm in [0x33, 0x31, 0x13, 0x11, 0x23, 0x03, 0x30, 0xF3, 0x12, 0x21, 0x32]:
    emit(f"dppd xmm0, xmm1, {imm}", dp_inputs(64, 120), MODES)
for imm in [0, 1, 2, 3, 7, 0xFF]:
    emit(f"extractps eax, xmm1, {imm}", int_inputs(6))
    emit(f"pextrb eax, xmm1, {imm}", int_inputs(4))
    emit(f"pextrd eax, xmm1, {imm}", int_inputs(4))
    emit(f"pextrw eax, xmm1, {imm}", int_inputs(4))
for imm in [0, 1, 5, 8, 15, 16, 0xFF]:
    emit(f"pinsrb xmm0, eax, {imm}", int_inputs(4))
for imm in [0, 1, 2, 3, 4, 0xFF]:
    emit(f"pinsrd xmm0, eax, {imm}", int_inputs(4))
for imm in range(256):
    emit(f"insertps xmm0, xmm1, {imm}", int_inputs(3))
for imm in range(8):
    emit(f"mpsadbw xmm0, xmm1, {imm}", int_inputs(30))
emit("mpsadbw xmm0, xmm1, 0xF8", int_inputs(10))
for op in ("packusdw pcmpeqq pmaxsb pmaxsd pmaxuw pmaxud pminsb pminsd pminuw pminud "
           "pmuldq pmulld phminposuw").split():
    emit(f"{op} xmm0, xmm1", int_inputs(200))
for op in ("pmovsxbw pmovsxbd pmovsxbq pmovsxwd pmovsxwq pmovsxdq "
           "pmovzxbw pmovzxbd pmovzxbq pmovzxwd pmovzxwq pmovzxdq").split():
    emit(f"{op} xmm0, xmm1", int_inputs(60))
ptest_in = int_inputs(200) + [(a, a, 0) for a, _, _ in int_inputs(20)] + \
    [(a, ~a & (2**128 - 1), 0) for a, _, _ in int_inputs(20)] + [(0, 0, 0), (2**128 - 1, 0, 0)]
emit("ptest xmm0, xmm1", ptest_in, flagmask=0x8D5)


def round_inputs(bits, scalar):
    vals = g.f32s() if bits == 32 else g.f64s()
    one = 0x3F800000 if bits == 32 else 0x3FF0000000000000
    fb = 23 if bits == 32 else 52
    extra = []
    for e in range(-3, fb + 3):
        for frac in (0, 1 << (fb - 1) >> max(e, 0) if e < fb else 0, 3 << max(fb - 2 - e, 0)):
            x = one + (e << fb) + (frac & ((1 << fb) - 1))
            extra += [x, x | 1 << (bits - 1), x + 1, x - 1]
    vals = vals + extra + [g.rand_f(bits) for _ in range(100)]
    return [(rng.getrandbits(128), a, 0) for a, _ in g.pack_lanes([(v, 0) for v in vals], bits)] \
        if not scalar else [(rng.getrandbits(128), v | rng.getrandbits(128) << bits & ((1 << 128) - (1 << bits)), 0) for v in vals]


for imm in range(16):
    emit(f"roundps xmm0, xmm1, {imm}", round_inputs(32, False), MODES if imm & 4 else MODES[:1] + MODES[5:])
    emit(f"roundpd xmm0, xmm1, {imm}", round_inputs(64, False), MODES if imm & 4 else MODES[:1] + MODES[5:])
    emit(f"roundss xmm0, xmm1, {imm}", round_inputs(32, True)[::2], [0x1F80, 0x5F80, 0x1FC0])
    emit(f"roundsd xmm0, xmm1, {imm}", round_inputs(64, True)[::2], [0x1F80, 0x5F80, 0x1FC0])
emit("roundps xmm0, xmm1, 0xF9", round_inputs(32, False)[:20])

# ---- SSE4.2 -----------------------------------------------------------------
emit("pcmpgtq xmm0, xmm1", int_inputs(200) +
     [(x, y, 0) for x in (0, 1, 2**63, 2**63 - 1, 2**64 - 1) for y in (0, 1, 2**63, 2**63 - 1, 2**64 - 1)])


def str128(kind):
    """A string operand: random bytes, bytes from a small alphabet (so that
    matches happen), ranges-like pairs, or with embedded zeros."""
    alpha = rng.choice([b"ab", b"abc\x00", b"a\x80\xff", bytes(range(0x40, 0x48)), b"\x00\x01"])
    if kind == 0:
        return rng.getrandbits(128)
    b = bytes(rng.choice(alpha) for _ in range(16))
    if kind == 2:
        b = bytearray(b)
        b[rng.randrange(16)] = 0
        if rng.randrange(2):
            b[rng.randrange(16)] = 0
        b = bytes(b)
    if kind == 3:
        b = bytes(rng.choice(b"\x41\x5a\x61\x7a\x30\x39\x80\xff\x7f") for _ in range(16))
    return int.from_bytes(b, "little")


LENS = [0, 1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 100, -1, -5, -8, -9, -16, -17, -32768, 32767]


def str_inputs(n, e):
    out = []
    for i in range(n):
        a, b = str128(i % 4), str128((i // 4) % 4)
        if i % 7 == 0:
            b = a
        if i % 11 == 0:
            b = (a << (8 * rng.randrange(1, 5))) & (2**128 - 1)
        la, ld = (rng.choice(LENS), rng.choice(LENS)) if e else (0, 0)
        out.append((a, b, (la & 0xFFFF) | (ld & 0xFFFF) << 16))
    return out


E_PRE = "mov edx, eax\nsar edx, 16\nmovsx eax, ax\n"
for imm in range(0x80):
    emit(E_PRE + f"pcmpestri xmm0, xmm1, {imm}\nmov eax, ecx", str_inputs(40, True), flagmask=0x8D5)
    emit(E_PRE + f"pcmpestrm xmm0, xmm1, {imm}", str_inputs(24, True), flagmask=0x8D5)
    emit(f"pcmpistri xmm0, xmm1, {imm}\nmov eax, ecx", str_inputs(40, False), flagmask=0x8D5)
    emit(f"pcmpistrm xmm0, xmm1, {imm}", str_inputs(24, False), flagmask=0x8D5)
for imm in [0x80, 0xC0, 0xFF, 0xBF]:
    emit(E_PRE + f"pcmpestri xmm0, xmm1, {imm}\nmov eax, ecx", str_inputs(10, True), flagmask=0x8D5)
    emit(f"pcmpistrm xmm0, xmm1, {imm}", str_inputs(10, False), flagmask=0x8D5)
for src in ["cl", "cx", "ecx"]:
    emit(f"movd ecx, xmm1\ncrc32 eax, {src}", int_inputs(60) +
         [(0, b, e) for b in (0, 2**32 - 1) for e in (0, 2**32 - 1)])

write_vectors(sys.argv[1], lines, "vectors")

# ---- unmasked exceptions ----------------------------------------------------
trap = load_trap()
fn_ptr = ctypes.cast(fn, ctypes.c_void_p)
ulines = []
_u = _src[_src.index("def uemit"):_src.index("# One exception unmasked")]
exec(_u)
UMODES = [0x1F80 & ~(1 << (7 + k)) for k in range(6)] + [0x0000, 0x6000, 0x8040]
UM = UMODES
for op in ["addsubps", "haddps", "hsubps"]:
    uemit(f"{op} xmm0, xmm1", fp_inputs(32)[:100], UM)
for op in ["addsubpd", "haddpd", "hsubpd"]:
    uemit(f"{op} xmm0, xmm1", fp_inputs(64)[:100], UM)
for imm in [0, 4, 8, 0xB]:
    uemit(f"roundps xmm0, xmm1, {imm}", round_inputs(32, False)[:60], UM)
    uemit(f"roundsd xmm0, xmm1, {imm}", round_inputs(64, True)[:60], UM)
write_vectors(sys.argv[2], ulines, "unmasked vectors")
