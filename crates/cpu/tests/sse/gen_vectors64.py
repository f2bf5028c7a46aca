#!/usr/bin/env python3
"""Generates the 64-bit-mode MMX/SSE/SSE2 test vectors by running each
instruction natively on this x86-64 host (see README.md, "64-bit forms").

Each instruction is assembled by nasm in `BITS 64` and run in a stub placed
in an executable mmap: the stub loads XMM0-XMM15, MM0-MM7, RAX, RCX, RDX,
RSI, R8-R11 and MXCSR, runs the instruction, and stores them all back with
EFLAGS. A 32-byte data block sits 0x200 bytes after the instruction's first
byte, where `[rel $$+0x200]` (RIP-relative) reaches it; RDX holds its
address (so `[rdx]` reaches it too) and is not compared.

The initial state comes from a per-line seed through splitmix64 (the test
computes the same values), overridden by the line's INPUTS. A line is

    BYTES SEED MXCSR_IN INPUTS OUTPUTS MXCSR_OUT FLAGMASK EFLAGS

INPUTS and OUTPUTS are comma-separated `name=hex` lists (or `-`): names
x0-x15, m0-m7, rax rcx rsi r8 r9 r10 r11, d0 d1 (the data block's two
16-byte halves, little-endian). OUTPUTS lists every location whose final
value differs from its initial one, so the test compares the whole state.

Usage: gen_vectors64.py VECTORS64.txt.gz   (deterministic; needs nasm)
"""
import ctypes
import mmap
import random
import struct
import sys

from genlib import assemble, write_vectors

rng = random.Random(20261125)
M64 = 2**64 - 1
GPRS = ["rax", "rcx", "rsi", "r8", "r9", "r10", "r11"]
# io layout: xmm 0..255, mm 256..319, gprs 320.. (rax rcx rdx rsi r8-r11),
# mxcsr in 384, mxcsr out 388, rflags 392, saved mxcsr 400
GPR_OFF = {"rax": 320, "rcx": 328, "rdx": 336, "rsi": 344,
           "r8": 352, "r9": 360, "r10": 368, "r11": 376}


PRE = "stmxcsr [rdi+400]\n"
PRE += "".join(f"movdqu xmm{i}, [rdi+{16 * i}]\n" for i in range(16))
PRE += "".join(f"movq mm{i}, [rdi+{256 + 8 * i}]\n" for i in range(8))
PRE += "".join(f"mov {r}, [rdi+{o}]\n" for r, o in GPR_OFF.items())
PRE += "ldmxcsr [rdi+384]\n"
POST = "stmxcsr [rdi+388]\n"
POST += "".join(f"mov [rdi+{o}], {r}\n" for r, o in GPR_OFF.items())
POST += "pushfq\npop rax\nmov [rdi+392], rax\n"
POST += "".join(f"movdqu [rdi+{16 * i}], xmm{i}\n" for i in range(16))
POST += "".join(f"movq [rdi+{256 + 8 * i}], mm{i}\n" for i in range(8))
POST += "emms\nldmxcsr [rdi+400]\nret\n"
pre = assemble(PRE, 64)
pre += b"\x90" * (-len(pre) % 64)   # the data block 64-byte aligned
post = assemble(POST, 64)
assert len(post) < 0x1E0
code = mmap.mmap(-1, 8192, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
code_addr = ctypes.addressof(ctypes.c_char.from_buffer(code))
fn = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(code_addr)
buf = ctypes.create_string_buffer(512 + 64)
io = ctypes.addressof(buf) + (-ctypes.addressof(buf)) % 64
DATA = len(pre) + 0x200


def splitmix(seed):
    x = seed
    while True:
        x = (x + 0x9E3779B97F4A7C15) & M64
        z = x
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        yield z ^ (z >> 31)


def initial(seed):
    """The seeded state, in the order the test draws it."""
    g = splitmix(seed)
    st = {}
    for i in range(16):
        lo = next(g)
        st[f"x{i}"] = lo | next(g) << 64
    for i in range(8):
        st[f"m{i}"] = next(g)
    for r in GPRS:
        st[r] = next(g)
    for i in range(2):
        lo = next(g)
        st[f"d{i}"] = lo | next(g) << 64
    return st


def run(ins, st, mx):
    code.seek(0)
    code.write(pre + ins + post)
    d = st["d0"].to_bytes(16, "little") + st["d1"].to_bytes(16, "little")
    ctypes.memmove(code_addr + DATA, d, 32)
    raw = bytearray(512)
    for i in range(16):
        struct.pack_into("<QQ", raw, 16 * i, st[f"x{i}"] & M64, st[f"x{i}"] >> 64)
    for i in range(8):
        struct.pack_into("<Q", raw, 256 + 8 * i, st[f"m{i}"])
    for r in GPRS:
        struct.pack_into("<Q", raw, GPR_OFF[r], st[r])
    struct.pack_into("<Q", raw, GPR_OFF["rdx"], code_addr + DATA)
    struct.pack_into("<I", raw, 384, mx)
    ctypes.memmove(io, bytes(raw), 512)
    fn(io)
    out = ctypes.string_at(io, 512)
    res = {}
    for i in range(16):
        lo, hi = struct.unpack_from("<QQ", out, 16 * i)
        res[f"x{i}"] = lo | hi << 64
    for i in range(8):
        res[f"m{i}"] = struct.unpack_from("<Q", out, 256 + 8 * i)[0]
    for r in GPRS:
        res[r] = struct.unpack_from("<Q", out, GPR_OFF[r])[0]
    assert struct.unpack_from("<Q", out, GPR_OFF["rdx"])[0] == code_addr + DATA
    d = ctypes.string_at(code_addr + DATA, 32)
    res["d0"] = int.from_bytes(d[:16], "little")
    res["d1"] = int.from_bytes(d[16:], "little")
    mxo, = struct.unpack_from("<I", out, 388)
    fl, = struct.unpack_from("<Q", out, 392)
    return res, mxo, fl & 0xFFFFFFFF


lines = []
seed_ctr = [0]


def emit(text, inputs=None, modes=(0x1F80,), flagmask=0, n=1):
    ins = assemble(text, 64)
    for _ in range(n):
        for mx in modes:
            seed_ctr[0] += 1
            seed = seed_ctr[0] * 0x1000193
            st = initial(seed)
            ov = inputs() if callable(inputs) else (inputs or {})
            st.update(ov)
            res, mxo, fl = run(ins, st, mx)
            changed = [f"{k}={v:x}" for k, v in res.items() if v != st[k]]
            ins_s = ",".join(f"{k}={v:x}" for k, v in ov.items()) or "-"
            lines.append(f"{ins.hex()} {seed:x} {mx:x} {ins_s} {','.join(changed) or '-'} "
                         f"{mxo:x} {flagmask:x} {fl & flagmask:x}")


MODES = (0x1F80, 0x3F80, 0x5F80, 0x7F80, 0x9FC0)
# 64-bit integer conversion boundaries and FP edge values
F64 = [0, 1 << 63, 1, 0x3FF0000000000000, 0xBFF0000000000000, 0x43E0000000000000,
       0xC3E0000000000000, 0x43DFFFFFFFFFFFFF, 0xC3E0000000000001, 0x7FF0000000000000,
       0xFFF0000000000000, 0x7FF8000000000000, 0x7FF4000000000001, 0x3FE0000000000000,
       0x3FF8000000000000, 0xBFF8000000000000, 0x4330000000000001, 0x000FFFFFFFFFFFFF,
       0xC3DFFFFFFFFFFFFF, 0x41E0000000000000]
F32 = [0, 0x80000000, 0x3F800000, 0xBF800000, 0x5F000000, 0xDF000000, 0x5EFFFFFF,
       0xDF000001, 0x7F800000, 0xFF800000, 0x7FC00000, 0x7FA00000, 0x3F000000,
       0x3FC00000, 0xBFC00000, 0x4F000000, 0x007FFFFF]
I64 = [0, 1, M64, 1 << 63, (1 << 63) - 1, (1 << 53) + 1, (1 << 24) + 1, 0xFFFFFFFF,
       0x80000000, (1 << 64) - (1 << 53) - 1, 0x123456789ABCDEF1]


def rnd128():
    return rng.getrandbits(128)


# ---- REX.W forms -----------------------------------------------------------
for t in ["movq xmm9, rax", "movq xmm0, r11", "movq rcx, xmm13", "movq r10, xmm0",
          "movq mm1, rax", "movq mm7, r9", "movq rcx, mm0", "movq r8, mm5",
          "db 0x66, 0x48, 0x0F, 0x6E, 0x05\ndd 0x200 - ($ + 4 - $$)",   # movq xmm0, [rip]
          "db 0x66, 0x4C, 0x0F, 0x7E, 0x15\ndd 0x200 - ($ + 4 - $$)",   # movq [rip], xmm10
          "db 0x48, 0x0F, 0x6E, 0x1D\ndd 0x200 - ($ + 4 - $$)",         # movq mm3, [rip]
          "db 0x48, 0x0F, 0x7E, 0x25\ndd 0x200 - ($ + 4 - $$)",         # movq [rip], mm4
          "movd xmm12, esi", "movd r9d, xmm14", "movd mm2, r10d", "movd eax, mm6",
          "movq xmm14, [rdx+8]", "movq [rdx+16], xmm15", "movd [rdx+4], xmm11"]:
    emit(t, n=4)
for r, x in [("rax", 9), ("r11", 0), ("rsi", 15)]:
    for op in ["cvtsi2ss", "cvtsi2sd"]:
        for v in I64:
            emit(f"{op} xmm{x}, {r}", {r: v}, modes=MODES[:4])
        for v in I64[:6]:
            emit(f"{op} xmm{x}, qword [rel $$+0x200]", {"d0": v | rnd128() >> 64 << 64}, modes=MODES[:4])
    emit(f"cvtsi2ss xmm{x}, {r[0] == 'r' and r[1:].isdigit() and r + 'd' or 'e' + r[1:]}",
         {r: rng.getrandbits(64)}, n=4)
for op, vals, bits in [("cvtss2si", F32, 32), ("cvttss2si", F32, 32),
                       ("cvtsd2si", F64, 64), ("cvttsd2si", F64, 64)]:
    for dst, src in [("rax", 8), ("r10", 1), ("eax", 12)]:
        for v in vals:
            emit(f"{op} {dst}, xmm{src}", {f"x{src}": rnd128() >> bits << bits | v}, modes=MODES[:4])
    for v in vals[:8]:
        size = "dword" if bits == 32 else "qword"
        emit(f"{op} r9, {size} [rel $$+0x200]", {"d0": rnd128() >> bits << bits | v})
for i in range(4):
    emit(f"pextrw r8, xmm11, {i * 2 + 1}", n=2)
    emit(f"pextrw ecx, xmm{i}, {i + 4}", n=2)
    emit(f"pinsrw xmm{i * 4 + 1}, rax, {i * 2}", n=2)
    emit(f"pinsrw xmm13, r10d, {7 - i}", n=2)
    emit(f"pinsrw xmm{i + 7}, [rel $$+0x200], {i * 2 + 1}", n=2)
    emit(f"pinsrw mm{i}, r9d, {i}", n=2)
    emit(f"db 0x49, 0x0F, 0xC4, 0x{0xC1 + 8 * i:X}, {i}", n=2)   # pinsrw mm{i}, r9
    emit(f"pextrw esi, mm{i + 4}, {i}", n=2)
    emit(f"db 0x48, 0x0F, 0xC5, 0x{0xF4 + i:X}, {i}", n=2)   # pextrw rsi, mm{i + 4}
for t in ["db 0x66, 0x4D, 0x0F, 0xD7, 0xDF",    # pmovmskb r11, xmm15
          "pmovmskb r11d, xmm15", "pmovmskb esi, xmm8", "pmovmskb eax, mm3",
          "db 0x48, 0x0F, 0xD7, 0xCD",          # pmovmskb rcx, mm5
          "db 0x49, 0x0F, 0x50, 0xC0",          # movmskps rax, xmm8
          "db 0x66, 0x4C, 0x0F, 0x50, 0xCA",    # movmskpd r9, xmm2
          "movmskps r10d, xmm14", "movmskpd esi, xmm9"]:
    emit(t, n=4)
# REX.R/REX.B do not extend MMX registers; REX.W on an SSE op is ignored.
for t in ["db 0x41, 0x0F, 0xFC, 0xC1",   # paddb mm0, mm1 (REX.B)
          "db 0x44, 0x0F, 0xFD, 0xD3",   # paddw mm2, mm3 (REX.R)
          "db 0x4D, 0x0F, 0xEF, 0xE5",   # pxor mm4, mm5 (REX.WRB)
          "db 0x48, 0x0F, 0x58, 0xC1",   # addps xmm0, xmm1 (REX.W)
          "db 0x66, 0x4D, 0x0F, 0xFE, 0xC7"]:   # paddd xmm8, xmm15 (REX.WRB)
    emit(t, n=4)

# ---- XMM8-XMM15 in every family -------------------------------------------
fam = """movdqa xmm8, xmm15|movdqu xmm15, xmm1|movaps xmm2, xmm9|movups xmm12, xmm13
movss xmm9, xmm10|movsd xmm11, xmm3|movhlps xmm8, xmm14|movlhps xmm15, xmm8|movq xmm10, xmm12
movapd xmm13, xmm8|movq2dq xmm14, mm3|movdq2q mm6, xmm11|movhps xmm9, [rdx]|movlpd [rdx+8], xmm12
paddb xmm8, xmm9|psubq xmm15, xmm0|pmullw xmm3, xmm12|pmulhuw xmm10, xmm11|pmuludq xmm14, xmm9
pmaddwd xmm8, xmm13|psadbw xmm9, xmm15|pavgb xmm12, xmm8|pminsw xmm13, xmm14|pmaxub xmm10, xmm2
packsswb xmm11, xmm12|packuswb xmm8, xmm15|packssdw xmm14, xmm9|pcmpgtd xmm12, xmm13|pcmpeqb xmm15, xmm15
punpcklbw xmm9, xmm10|punpckhqdq xmm13, xmm8|punpckldq xmm8, xmm1|pandn xmm14, xmm15|por xmm1, xmm10
paddsw xmm11, xmm12|psubusb xmm9, xmm14|pmulhw xmm15, xmm8
psllw xmm9, 3|psrad xmm14, 31|psrlq xmm8, 13|pslldq xmm12, 5|psrldq xmm15, 9|psraw xmm10, xmm11
pshufd xmm10, xmm13, 0x1B|pshuflw xmm14, xmm9, 0xE4|pshufhw xmm8, xmm15, 0x4E|shufps xmm9, xmm12, 0x93
shufpd xmm15, xmm8, 2|unpcklps xmm11, xmm14|unpckhpd xmm13, xmm10
addps xmm8, xmm9|subpd xmm15, xmm10|mulss xmm11, xmm12|divsd xmm13, xmm14|sqrtps xmm9, xmm15
sqrtsd xmm14, xmm8|minps xmm12, xmm13|maxsd xmm10, xmm15|andnpd xmm11, xmm8|xorps xmm8, xmm8
minss xmm9, xmm9|addsd xmm15, xmm1|mulpd xmm2, xmm14
cmpps xmm8, xmm9, 1|cmpsd xmm15, xmm10, 3|cmpss xmm11, xmm12, 4|cmppd xmm13, xmm14, 6
comiss xmm8, xmm15|ucomisd xmm14, xmm9|comisd xmm1, xmm12|ucomiss xmm10, xmm3
cvtdq2ps xmm9, xmm15|cvtps2dq xmm10, xmm8|cvttps2dq xmm14, xmm11|cvtps2pd xmm12, xmm13
cvtpd2ps xmm8, xmm9|cvtpd2dq xmm15, xmm14|cvttpd2dq xmm13, xmm10|cvtdq2pd xmm11, xmm12
cvtss2sd xmm9, xmm14|cvtsd2ss xmm15, xmm8|cvtpi2ps xmm10, mm2|cvtps2pi mm3, xmm12|cvttpd2pi mm7, xmm15
cvtpi2pd xmm13, mm1|cvtsi2sd xmm8, r10d|cvtss2si r9d, xmm13"""
fpflags = 0x8D5


def fp_lanes(bits):
    def f():
        vals = F32 if bits == 32 else F64
        n = 128 // bits
        st = {}
        for x in range(16):
            v = 0
            for j in range(n):
                k = rng.randrange(3)
                lane = rng.choice(vals) if k == 0 else rng.getrandbits(bits) if k == 1 else \
                    (rng.choice([0x3F8, 0x3FF0])) << (bits - 12 if bits == 64 else 20) | rng.getrandbits(bits - 12 if bits == 64 else 20)
                v |= (lane & ((1 << bits) - 1)) << (bits * j)
            st[f"x{x}"] = v
        return st
    return f


for t in fam.replace("\n", "|").split("|"):
    t = t.strip()
    bits = 64 if any(s in t for s in ["pd ", "sd ", "pd2", "sd2", "2pd", "2sd"]) else 32
    flag = fpflags if "comi" in t else 0
    is_fp = any(s in t for s in ["ps", "pd", "ss", "sd", "cvt", "rcp"]) and not t.startswith("p")
    emit(t, fp_lanes(bits) if is_fp else None, modes=MODES if is_fp else (0x1F80,), flagmask=flag,
         n=6 if is_fp else 4)

# ---- RIP-relative operands, with and without a trailing immediate --------
R = "[rel $$+0x200]"
rip = f"""movdqa xmm9, {R}|movdqa {R}, xmm14|movaps xmm0, {R}|movups {R}, xmm8|movdqu xmm15, {R}
movss xmm10, {R}|movss {R}, xmm11|movsd xmm12, {R}|movsd {R}, xmm9|movlps xmm13, {R}|movhpd {R}, xmm13
movq mm3, {R}|movq {R}, mm6|movd mm2, {R}|movd {R}, xmm10|movntdq {R}, xmm12|movnti {R}, r10
addps xmm1, {R}|mulsd xmm9, {R}|subss xmm15, {R}|maxpd xmm8, {R}|sqrtss xmm11, {R}
paddq xmm10, {R}|pmaddwd mm1, {R}|pxor xmm13, {R}|punpckhbw xmm8, {R}|psubsb mm4, {R}
comisd xmm9, {R}|ucomiss xmm1, {R}|cvtps2pd xmm14, {R}|cvtdq2pd xmm8, {R}|cvttsd2si rcx, {R}
cvtpi2ps xmm12, {R}|cvtsi2ss xmm2, dword {R}|cvtss2sd xmm10, {R}
pshufd xmm0, {R}, 0x1B|pshufd xmm13, {R}, 0xB1|pshuflw xmm9, {R}, 0x39|pshufhw xmm2, {R}, 0x93
pshufw mm1, {R}, 0x1B|cmpps xmm1, {R}, 2|cmppd xmm14, {R}, 5|cmpss xmm9, {R}, 1|cmpsd xmm0, {R}, 7
shufps xmm10, {R}, 0x4E|shufpd xmm15, {R}, 1|pinsrw xmm0, {R}, 3|pinsrw xmm12, {R}, 6
pinsrw mm5, {R}, 2|psllw xmm9, {R}|psrlq mm2, {R}"""
for t in rip.replace("\n", "|").split("|"):
    t = t.strip()
    if "psllw" in t or "psrlq" in t:
        inp = lambda: {"d0": rng.choice([0, 1, 7, 15, 31, 63, 64, 1 << 40]) | rnd128() >> 64 << 64}
    elif any(s in t for s in ["ps", "pd", "ss", "sd", "cvt", "comi"]) and not t.startswith("p"):
        bits = 64 if any(s in t for s in ["pd ", "sd ", "sd2", "2pd"]) else 32
        g = fp_lanes(bits)

        def inp(g=g):
            st = g()
            st["d0"] = st.pop("x7")
            st["d1"] = st.pop("x6")
            return st
    else:
        inp = None
    emit(t, inp, flagmask=fpflags if "comi" in t else 0, n=4)

# ---- sequences: RIP-relative SSE operands after other instructions of the
# same block (each displacement counts from its own instruction's end) ------
seqs = [
    f"add rax, rcx\npshufd xmm0, {R}, 0x1B\ncmpps xmm1, [rel $$+0x210], 2\nshufps xmm9, {R}, 0x4E",
    f"cmp rax, rcx\njne $+2\npinsrw xmm0, [rel $$+0x208], 3\npshufhw xmm10, [rel $$+0x210], 0x93",
    f"test eax, eax\nmovdqa xmm9, {R}\naddps xmm1, [rel $$+0x210]\ncmpsd xmm11, [rel $$+0x218], 5",
    f"cmp rsi, [rel $$+0x200]\nsetb al\npshuflw xmm12, [rel $$+0x210], 0xE4\nmovq [rel $$+0x218], xmm12",
    f"movq mm0, [rel $$+0x208]\npshufw mm1, [rel $$+0x200], 0x39\npaddw mm0, mm1\nmovq [rel $$+0x210], mm0",
    f"lea r8, [rel $$+0x200]\nshufpd xmm13, [r8+16], 1\ncmppd xmm14, [rel $$+0x210], 4\nmovdqa [rel $$+0x200], xmm13\nsub r8, rdx",
]
for t in seqs:
    emit(t, n=8)

write_vectors(sys.argv[1], lines, "vectors")
