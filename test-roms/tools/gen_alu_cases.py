#!/usr/bin/env python3
"""Generate test-roms/inc/alu-cases.inc for realmode-alu.asm.

The expected results and flags embedded in the ROM are computed here from a
direct transcription of the Intel SDM Vol. 2 "Operation" pseudo-code and
"Flags Affected" sections of each instruction.  Flags that the SDM calls
undefined for a given case are removed from the compared/printed mask (the
last macro argument is the mask of DEFINED arithmetic flags).

This script is only needed to change the case list; the generated include is
committed, so building the ROMs needs nasm only.

    python3 tools/gen_alu_cases.py > inc/alu-cases.inc
"""

CF, PF, AF, ZF, SF, OF = 0x1, 0x4, 0x10, 0x40, 0x80, 0x800
ARITH = CF | PF | AF | ZF | SF | OF


def mask(w):
    return (1 << w) - 1


def msb(v, w):
    return (v >> (w - 1)) & 1


def parity(v):
    return PF if bin(v & 0xFF).count("1") % 2 == 0 else 0


def szp(v, w):
    v &= mask(w)
    f = parity(v)
    if v == 0:
        f |= ZF
    if msb(v, w):
        f |= SF
    return f


def sext(v, w):
    v &= mask(w)
    return v - (1 << w) if msb(v, w) else v


# Each model returns (result, flags, undefined_mask); flags are the full
# arithmetic flags after the instruction (unaffected flags copied from fin).

def add(a, b, w, fin, carry=0):
    r = a + b + carry
    res = r & mask(w)
    f = szp(res, w) | ((r >> w) & 1)
    f |= (a ^ b ^ res) & AF
    if msb((a ^ res) & (b ^ res), w):
        f |= OF
    return res, f, 0


def sub(a, b, w, fin, borrow=0):
    res = (a - b - borrow) & mask(w)
    f = szp(res, w)
    if a < b + borrow:
        f |= CF
    f |= (a ^ b ^ res) & AF
    if msb((a ^ b) & (a ^ res), w):
        f |= OF
    return res, f, 0


def logic(res, w):
    return res, szp(res, w), AF          # OF=CF=0, AF undefined


ALU2 = {
    "add": lambda a, b, w, f: add(a, b, w, f),
    "adc": lambda a, b, w, f: add(a, b, w, f, f & CF),
    "sub": lambda a, b, w, f: sub(a, b, w, f),
    "sbb": lambda a, b, w, f: sub(a, b, w, f, f & CF),
    "cmp": lambda a, b, w, f: (a, sub(a, b, w, f)[1], 0),
    "and": lambda a, b, w, f: logic(a & b, w),
    "or": lambda a, b, w, f: logic(a | b, w),
    "xor": lambda a, b, w, f: logic(a ^ b, w),
    "test": lambda a, b, w, f: (a, logic(a & b, w)[1], AF),
}


def un(op, a, w, fin):
    if op == "inc":
        r, f, u = add(a, 1, w, fin)
        return r, (f & ~CF) | (fin & CF), u
    if op == "dec":
        r, f, u = sub(a, 1, w, fin)
        return r, (f & ~CF) | (fin & CF), u
    if op == "neg":
        r, f, u = sub(0, a, w, fin)
        return r, (f & ~CF) | (CF if a else 0), u
    if op == "not":
        return (~a) & mask(w), fin, 0
    raise ValueError(op)


def shift(op, a, cnt, w, fin):
    c = cnt & 0x1F
    m = mask(w)
    if c == 0:
        return a, fin, 0
    if op in ("shl", "sal", "shr", "sar"):
        undef = AF
        if op in ("shl", "sal"):
            res = (a << c) & m
            cf = (a >> (w - c)) & 1 if c <= w else 0
            of = msb(res, w) ^ cf
            if c >= w:
                undef |= CF
        elif op == "shr":
            res = a >> c
            cf = (a >> (c - 1)) & 1 if c <= w else 0
            of = msb(a, w)
            if c >= w:
                undef |= CF
        else:
            sa = sext(a, w)
            res = (sa >> c) & m
            cf = (sa >> (c - 1)) & 1
            of = 0
        if c != 1:
            undef |= OF
        f = szp(res, w) | cf | (OF if of else 0)
        return res, f, undef
    # rotates: SZAP unaffected; CF affected when masked count != 0;
    # OF defined only for masked count 1.
    f = fin & ~(CF | OF)
    undef = 0 if c == 1 else OF
    if op in ("rol", "ror"):
        tc = c % w
        if op == "rol":
            res = ((a << tc) | (a >> (w - tc))) & m if tc else a
            cf = res & 1
            of = msb(res, w) ^ cf
        else:
            res = ((a >> tc) | (a << (w - tc))) & m if tc else a
            cf = msb(res, w)
            of = msb(res, w) ^ ((res >> (w - 2)) & 1)
    else:
        tc = c % (w + 1) if w < 32 else c
        cf = fin & CF
        res = a
        if op == "rcl":
            for _ in range(tc):
                t = msb(res, w)
                res = ((res << 1) | cf) & m
                cf = t
            of = msb(res, w) ^ cf
        else:
            of = msb(a, w) ^ cf
            for _ in range(tc):
                t = res & 1
                res = (res >> 1) | (cf << (w - 1))
                cf = t
    f |= cf | (OF if of else 0)
    return res, f, undef


def shd(op, a, b, cnt, w, fin):
    c = cnt & 0x1F
    m = mask(w)
    if c == 0:
        return a, fin, 0
    assert c < w or (w == 32)
    if op == "shld":
        res = ((a << c) | (b >> (w - c))) & m
        cf = (a >> (w - c)) & 1
    else:
        res = ((a >> c) | (b << (w - c))) & m
        cf = (a >> (c - 1)) & 1
    of = msb(res, w) ^ msb(a, w)
    undef = AF | (0 if c == 1 else OF)
    return res, szp(res, w) | cf | (OF if of else 0), undef


def mul1(op, a, b, w, fin):
    if op == "mul":
        p = a * b
        hi = p >> w
        ov = hi != 0
    else:
        p = sext(a, w) * sext(b, w)
        ov = p != sext(p, w)
        p &= mask(2 * w)
        hi = p >> w
    f = (CF | OF) if ov else 0
    return p & mask(w), hi, f, SF | ZF | AF | PF


def imul_trunc(a, b, w):
    p = sext(a, w) * sext(b, w)
    res = p & mask(w)
    f = (CF | OF) if p != sext(p, w) else 0
    return res, f, SF | ZF | AF | PF


def daa(al, fin):
    old_al, old_cf = al, fin & CF
    cf = 0
    af = 0
    if (al & 0xF) > 9 or fin & AF:
        cf = old_cf | ((al + 6) >> 8)
        al = (al + 6) & 0xFF
        af = AF
    if old_al > 0x99 or old_cf:
        al = (al + 0x60) & 0xFF
        cf = 1
    else:
        cf = 0
    return al, szp(al, 8) | af | cf, OF


def das(al, fin):
    old_al, old_cf = al, fin & CF
    cf = 0
    af = 0
    if (al & 0xF) > 9 or fin & AF:
        cf = old_cf | (1 if al < 6 else 0)
        al = (al - 6) & 0xFF
        af = AF
    if old_al > 0x99 or old_cf:
        al = (al - 0x60) & 0xFF
        cf = 1
    return al, szp(al, 8) | af | cf, OF


def aaa(ax, fin):
    if (ax & 0xF) > 9 or fin & AF:
        ax = (ax + 0x106) & 0xFFFF
        f = AF | CF
    else:
        f = 0
    ax &= 0xFF0F
    return ax, f, OF | SF | ZF | PF


def aas(ax, fin):
    if (ax & 0xF) > 9 or fin & AF:
        ax = (ax - 6) & 0xFFFF
        ax = (ax - 0x100) & 0xFFFF
        f = AF | CF
    else:
        f = 0
    ax &= 0xFF0F
    return ax, f, OF | SF | ZF | PF


def aam(ax, imm):
    al = ax & 0xFF
    ah, al = al // imm, al % imm
    return (ah << 8) | al, szp(al, 8), OF | AF | CF


def aad(ax, imm):
    al = ((ax & 0xFF) + (ax >> 8) * imm) & 0xFF
    return al, szp(al, 8), OF | AF | CF


def cond(cc, f):
    cf, zf, sf, of, pf = (f & CF) != 0, (f & ZF) != 0, (f & SF) != 0, (f & OF) != 0, (f & PF) != 0
    base = [of, cf, zf, cf or zf, sf, pf, sf != of, zf or (sf != of)][cc >> 1]
    return int(base) ^ (cc & 1)


def h(v):
    return "0x%x" % v


out = []


def emit(s=""):
    out.append(s)


def defmask(undef):
    return h(ARITH & ~undef)


WIDTHS = (8, 16, 32)

emit("; GENERATED by tools/gen_alu_cases.py - do not edit by hand.")
emit("; Each line: MACRO op, width, inputs..., flags_in, expected..., defined-flag mask")
emit("; Expected values follow the Intel SDM Vol. 2 Operation/Flags Affected text;")
emit("; flags the SDM leaves undefined are cleared from the mask.")
emit()

# ---------------------------------------------------------------- two-operand ALU
emit("; --- ADD/ADC/SUB/SBB/CMP/AND/OR/XOR/TEST: carries, overflow at 7F/80,")
emit(";     zero results, AF from bit 3, CF-in for ADC/SBB (SDM Vol.2 ADD..XOR)")
edge = {
    8: [(0x00, 0x00), (0x3F, 0xC1), (0x7F, 0x01), (0x80, 0xFF), (0xFF, 0x01), (0x0F, 0x01), (0x80, 0x80), (0x55, 0xAA)],
    16: [(0x0000, 0x0000), (0x7FFF, 0x0001), (0x8000, 0xFFFF), (0xFFFF, 0xFFFF), (0x00FF, 0x0001), (0x1234, 0x5678)],
    32: [(0x00000000, 0x00000000), (0x7FFFFFFF, 0x00000001), (0x80000000, 0xFFFFFFFF), (0xFFFFFFFF, 0x00000001), (0x12345678, 0x9ABCDEF0), (0x80000000, 0x80000000)],
}
for op in ("add", "adc", "sub", "sbb", "cmp", "and", "or", "xor", "test"):
    for w in WIDTHS:
        pairs = edge[w] if op in ("add", "sub", "cmp") else edge[w][:4] + edge[w][-1:]
        fins = (0, CF) if op in ("adc", "sbb") else (0,)
        for fin in fins:
            for a, b in pairs:
                r, f, u = ALU2[op](a, b, w, fin)
                emit("ALU2 %s, %d, %s, %s, %s, %s, %s, %s" % (op, w, h(a), h(b), h(fin), h(r), h(f & ~u & ARITH), defmask(u)))
# cmp with all flags set beforehand: proves every flag is recomputed
for w in WIDTHS:
    a, b = edge[w][2]
    r, f, u = ALU2["cmp"](a, b, w, ARITH)
    emit("ALU2 cmp, %d, %s, %s, %s, %s, %s, %s" % (w, h(a), h(b), h(ARITH), h(r), h(f & ~u), defmask(u)))
    r, f, u = ALU2["and"](a, b, w, ARITH)
    emit("ALU2 and, %d, %s, %s, %s, %s, %s, %s" % (w, h(a), h(b), h(ARITH), h(r), h(f & ~u), defmask(u)))

emit()
emit("; --- INC/DEC leave CF alone; NEG sets CF unless the operand is 0; NOT changes")
emit(";     no flags (SDM Vol.2 INC, DEC, NEG, NOT)")
un_vals = {8: [0x00, 0x7F, 0x80, 0xFF, 0x0F], 16: [0x0000, 0x7FFF, 0x8000, 0xFFFF], 32: [0, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF]}
for op in ("inc", "dec", "neg", "not"):
    for w in WIDTHS:
        for a in un_vals[w]:
            for fin in ((0, ARITH) if op in ("inc", "dec", "not") and a in (0, mask(w)) else (0,)):
                r, f, u = un(op, a, w, fin)
                emit("UN1 %s, %d, %s, %s, %s, %s, %s" % (op, w, h(a), h(fin), h(r), h(f & ~u & ARITH), defmask(u)))

emit()
emit("; --- shifts and rotates: count 0 leaves flags alone, count masked to 5 bits,")
emit(";     OF only defined for count 1, CF undefined for SHL/SHR count >= width")
emit(";     (SDM Vol.2 SAL/SAR/SHL/SHR and RCL/RCR/ROL/ROR)")
sh_vals = {8: [0x81, 0x40], 16: [0x8001, 0x4000], 32: [0x80000001, 0x40000000]}
counts = {8: [0, 1, 2, 7, 8, 9, 17, 32, 33], 16: [0, 1, 4, 15, 16, 17, 32, 33], 32: [0, 1, 4, 31, 32, 33]}
for op in ("shl", "shr", "sar", "rol", "ror", "rcl", "rcr"):
    for w in WIDTHS:
        for a in sh_vals[w]:
            for c in counts[w]:
                fins = (0, ARITH) if c in (0, 32) else (0,)
                if op in ("rcl", "rcr"):
                    fins += (CF,)
                for fin in fins:
                    r, f, u = shift(op, a, c, w, fin)
                    emit("SHF %s, %d, %s, %d, %s, %s, %s, %s" % (op, w, h(a), c, h(fin), h(r), h(f & ~u & ARITH), defmask(u)))

emit()
emit("; --- SHLD/SHRD: bits come in from the second operand, count masked to 5 bits,")
emit(";     count 0 changes nothing (SDM Vol.2 SHLD, SHRD)")
for op in ("shld", "shrd"):
    for w, a, b, cs in ((16, 0x8001, 0xC003, (0, 1, 4, 15, 32, 33)), (32, 0x80000001, 0xC0000003, (0, 1, 4, 31, 32, 33, 36))):
        for c in cs:
            for fin in ((0, ARITH) if c in (0, 32) else (0,)):
                r, f, u = shd(op, a, b, c, w, fin)
                emit("SHD %s, %d, %s, %s, %d, %s, %s, %s, %s" % (op, w, h(a), h(b), c, h(fin), h(r), h(f & ~u & ARITH), defmask(u)))

emit()
emit("; --- MUL/IMUL one-operand: double-width product, CF=OF=upper half significant;")
emit(";     SF/ZF/AF/PF undefined (SDM Vol.2 MUL, IMUL)")
mvals = {8: [(0xFF, 0xFF), (0x10, 0x10), (0x80, 0x02), (0x7F, 0x01), (0xFF, 0x01), (0x00, 0x55)],
         16: [(0xFFFF, 0xFFFF), (0x0100, 0x0100), (0x8000, 0x0002), (0xFFFF, 0x0001), (0x1234, 0x0002)],
         32: [(0xFFFFFFFF, 0xFFFFFFFF), (0x00010000, 0x00010000), (0x80000000, 0x00000002), (0xFFFFFFFF, 0x00000001), (0x12345678, 0x00000010)]}
for op in ("mul", "imul"):
    for w in WIDTHS:
        for a, b in mvals[w]:
            lo, hi, f, u = mul1(op, a, b, w, 0)
            emit("MUL1 %s, %d, %s, %s, %s, %s, %s, %s" % (op, w, h(a), h(b), h(lo), h(hi), h(f & ~u), defmask(u)))
emit()
emit("; --- IMUL two- and three-operand forms: truncated product, CF=OF=truncation")
for w in (16, 32):
    for a, b in mvals[w]:
        r, f, u = imul_trunc(a, b, w)
        emit("IMUL2 %d, %s, %s, %s, %s, %s" % (w, h(a), h(b), h(r), h(f & ~u), defmask(u)))
for w, a, imm in ((16, 0x1234, -2), (16, 0x4000, 2), (16, 0x0003, 0x7FFF), (32, 0x12345678, -1), (32, 0x40000000, 2), (32, 0xFFFFFFFF, -128), (32, 0x00000003, 0x11111111)):
    r, f, u = imul_trunc(a, imm & mask(w), w)
    emit("IMUL3 %d, %s, %d, %s, %s, %s" % (w, h(a), imm, h(r), h(f & ~u), defmask(u)))

emit()
emit("; --- DIV/IDIV: quotient and remainder (flags undefined, not printed).  IDIV")
emit(";     truncates toward zero; the remainder has the dividend's sign")
dvals = [("div", 8, 0x00FF, 0x10), ("div", 8, 0xFEFF, 0xFF), ("div", 16, 0x0001FFFF, 0x8000), ("div", 32, 0x0000000100000000, 0xFFFFFFFF),
         ("div", 32, 0x12345678, 0x10), ("idiv", 8, 0xFFF9, 0x02), ("idiv", 8, 0x0007, 0xFE), ("idiv", 16, 0xFFFF8000, 0x0002),
         ("idiv", 16, 0xFFFF8000, 0x0100), ("idiv", 32, 0xFFFFFFFFFFFFFFF9, 0x00000002), ("idiv", 32, 0x0000000080000000, 0xFFFFFFFF)]
for op, w, n, d in dvals:
    if op == "div":
        q, r = n // d, n % d
    else:
        sn, sd = sext(n, 2 * w), sext(d, w)
        q = abs(sn) // abs(sd)
        if (sn < 0) != (sd < 0):
            q = -q
        r = sn - q * sd
        assert -(1 << (w - 1)) <= q < (1 << (w - 1))
        q &= mask(w)
        r &= mask(w)
    assert q <= mask(w)
    emit("DIV1 %s, %d, %s, %s, %s, %s" % (op, w, h(n), h(d), h(q), h(r)))

emit()
emit("; --- BCD adjust: DAA/DAS (OF undefined), AAA/AAS (only AF/CF defined),")
emit(";     AAM/AAD (SF/ZF/PF defined) - SDM Vol.2 DAA, DAS, AAA, AAS, AAM, AAD")
for op, ax, fin in (("daa", 0x0009, 0), ("daa", 0x000A, 0), ("daa", 0x0099, 0), ("daa", 0x009A, 0), ("daa", 0x0000, AF), ("daa", 0x0000, CF), ("daa", 0x00FF, 0), ("daa", 0x0012, AF | CF),
                    ("das", 0x000A, 0), ("das", 0x0003, AF), ("das", 0x009A, 0), ("das", 0x0000, CF), ("das", 0x00FF, 0), ("das", 0x0066, AF | CF),
                    ("aaa", 0x0009, 0), ("aaa", 0x000A, 0), ("aaa", 0x0105, AF), ("aaa", 0x02FA, 0), ("aaa", 0x0000, 0),
                    ("aas", 0x0009, 0), ("aas", 0x010A, 0), ("aas", 0x0203, AF), ("aas", 0x0000, AF)):
    if op == "daa":
        al, f, u = daa(ax & 0xFF, fin)
        r = (ax & 0xFF00) | al
    elif op == "das":
        al, f, u = das(ax & 0xFF, fin)
        r = (ax & 0xFF00) | al
    elif op == "aaa":
        r, f, u = aaa(ax, fin)
    else:
        r, f, u = aas(ax, fin)
    emit("BCD %s, %s, %s, %s, %s, %s" % (op, h(ax), h(fin), h(r), h(f & ~u), defmask(u)))
for op, imm, ax in (("aam", 10, 0x0063), ("aam", 10, 0x0000), ("aam", 16, 0x00FF), ("aam", 7, 0x0080), ("aad", 10, 0x0909), ("aad", 10, 0x0000), ("aad", 16, 0x0F0F), ("aad", 10, 0x1A05)):
    r, f, u = (aam if op == "aam" else aad)(ax, imm)
    emit("BCDI %s, %d, %s, %s, %s, %s" % (op, imm, h(ax), h(r), h(f & ~u), defmask(u)))

emit()
emit("; --- BT/BTS/BTR/BTC register forms: offset taken modulo the operand width,")
emit(";     CF = old bit, ZF unaffected, OF/SF/AF/PF undefined (SDM Vol.2 BT..BTC)")
for op in ("bt", "bts", "btr", "btc"):
    for w, a, bit in ((16, 0x8001, 0), (16, 0x8001, 1), (16, 0x8001, 31), (32, 0x80000001, 31), (32, 0x80000001, 33), (32, 0x0F0F0F0F, 4)):
        for fin in ((0, ZF) if bit == 0 else (0,)):
            b = bit % w
            old = (a >> b) & 1
            r = {"bt": a, "bts": a | (1 << b), "btr": a & ~(1 << b), "btc": a ^ (1 << b)}[op] & mask(w)
            f = old | (fin & ZF)
            u = OF | SF | AF | PF
            emit("ALU2 %s, %d, %s, %s, %s, %s, %s, %s" % (op, w, h(a), h(bit), h(fin), h(r), h(f), defmask(u)))

emit()
emit("; --- BSF/BSR: ZF=1 and destination not compared when the source is 0")
emit(";     (destination undefined), otherwise index of lowest/highest set bit")
for op in ("bsf", "bsr"):
    for w, s in ((16, 0x0000), (16, 0x8000), (16, 0x0001), (16, 0x0F00), (32, 0x00000000), (32, 0x80000000), (32, 0x00010000), (32, 0x00000001)):
        if s == 0:
            emit("BSX %s, %d, %s, 0x%x, 0, %s" % (op, w, h(s), ZF, h(ZF)))
        else:
            idx = (s & -s).bit_length() - 1 if op == "bsf" else s.bit_length() - 1
            emit("BSX %s, %d, %s, %s, 0, %s" % (op, w, h(s), h(idx), h(ZF)))

emit()
emit("; --- SETcc/CMOVcc: for each flags pattern, bit n of the printed mask is the")
emit(";     outcome of condition n (0=O 1=NO 2=B 3=AE 4=E 5=NE 6=BE 7=A 8=S 9=NS")
emit(";     A=P B=NP C=L D=GE E=LE F=G), SDM Vol.2 Jcc/SETcc condition table")
for fpat in (0, CF, ZF, SF, OF, PF, SF | OF, ZF | SF, CF | ZF, ARITH):
    m = 0
    for cc in range(16):
        m |= cond(cc, fpat) << cc
    emit("SETCC %s, %s" % (h(fpat), h(m)))

print("\n".join(out))
