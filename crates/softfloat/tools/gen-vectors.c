/*
 * gen-vectors.c: run x87 instructions on the host's real FPU and print one
 * test vector per line, for anyx86-softfloat's tests (tests/x87_vectors.rs).
 *
 * Build and run with gen-vectors.sh (x86-64 Linux, gcc). Not part of the
 * emulator and never built by cargo.
 *
 * Every vector runs in one inline-asm block:
 *   fninit; fld tbyte [st1 operand]; fld tbyte [st0 operand];
 *   fnstenv; patch the control word and clear the status word (keeping TOP);
 *   fldenv; <the instruction>; fnstsw; fstp tbyte r1; fstp tbyte r2; fninit
 * so the instruction starts from a known status word (all flags and C0-C3
 * clear) under the control word of the vector. Every control word masks all
 * six exceptions (bits 0-5 set): the vectors record masked responses.
 *
 * Line format (whitespace separated, '#' starts a comment line):
 *   OP CW IN... -> OUT... SW
 * CW and SW are 4 hex digits; SW has TOP (bits 11-13) cleared. An 80-bit
 * value is 20 hex digits (sign+exponent, then the 64-bit significand);
 * memory operands are printed as the integer they hold (4, 8 or 16 hex
 * digits; packed BCD as 20 hex digits, byte 9 first).
 * For two-register instructions IN is "ST0 ST1" (before), and OUT is the
 * new ST0 (and the new ST1 for FXTRACT, FSINCOS, FPTAN).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint16_t se;
    uint64_t sig;
} f80;

static void put80(uint8_t *p, f80 v) {
    memcpy(p, &v.sig, 8);
    memcpy(p + 8, &v.se, 2);
}
static f80 get80(const uint8_t *p) {
    f80 v;
    memcpy(&v.sig, p, 8);
    memcpy(&v.se, p + 8, 2);
    return v;
}
static f80 mk(uint16_t se, uint64_t sig) {
    f80 v = {se, sig};
    return v;
}

/* ---- the instruction runner ---- */

typedef uint16_t (*runner)(uint16_t cw, const uint8_t *a, const uint8_t *b, uint8_t *m,
                           uint8_t *r1, uint8_t *r2);

#define DEF(name, body)                                                                    \
    static uint16_t x_##name(uint16_t cw, const uint8_t *a, const uint8_t *b, uint8_t *m,  \
                             uint8_t *r1, uint8_t *r2) {                                   \
        uint8_t env[28];                                                                   \
        uint16_t sw;                                                                       \
        __asm__ volatile("fninit\n\t"                                                      \
                         "fldt (%[b])\n\t"                                                 \
                         "fldt (%[a])\n\t"                                                 \
                         "fnstenv (%[env])\n\t"                                            \
                         "movw %[cw], (%[env])\n\t"                                        \
                         "andw $0x3800, 4(%[env])\n\t"                                     \
                         "fldenv (%[env])\n\t" body "\n\t"                                 \
                         "fnstsw %[sw]\n\t"                                                \
                         "fstpt (%[r1])\n\t"                                               \
                         "fstpt (%[r2])\n\t"                                               \
                         "fninit\n\t"                                                      \
                         : [sw] "=m"(sw)                                                   \
                         : [a] "r"(a), [b] "r"(b), [m] "r"(m), [env] "r"(env),             \
                           [cw] "r"(cw), [r1] "r"(r1), [r2] "r"(r2)                        \
                         : "memory", "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)",    \
                           "st(6)", "st(7)");                                              \
        return sw & (uint16_t)~0x3800;                                                     \
    }

DEF(add, "fadd %%st(1), %%st")
DEF(sub, "fsub %%st(1), %%st")
DEF(mul, "fmul %%st(1), %%st")
DEF(div, "fdiv %%st(1), %%st")
DEF(sqrt, "fsqrt")
DEF(prem, "fprem")
DEF(prem1, "fprem1")
DEF(rndint, "frndint")
DEF(scale, "fscale")
DEF(xtract, "fxtract")
DEF(fcom, "fcom %%st(1)")
DEF(fucom, "fucom %%st(1)")
DEF(ftst, "ftst")
DEF(fxam, "fxam")
DEF(fild16, "filds (%[m])")
DEF(fild32, "fildl (%[m])")
DEF(fild64, "fildll (%[m])")
DEF(fist16, "fistps (%[m])")
DEF(fist32, "fistpl (%[m])")
DEF(fist64, "fistpll (%[m])")
DEF(fisttp16, "fisttps (%[m])")
DEF(fisttp32, "fisttpl (%[m])")
DEF(fisttp64, "fisttpll (%[m])")
DEF(fld32, "flds (%[m])")
DEF(fld64, "fldl (%[m])")
DEF(fst32, "fstps (%[m])")
DEF(fst64, "fstpl (%[m])")
DEF(fbld, "fbld (%[m])")
DEF(fbstp, "fbstp (%[m])")
DEF(fld1, "fld1")
DEF(fldl2t, "fldl2t")
DEF(fldl2e, "fldl2e")
DEF(fldpi, "fldpi")
DEF(fldlg2, "fldlg2")
DEF(fldln2, "fldln2")
DEF(fldz, "fldz")
DEF(fsin, "fsin")
DEF(fcos, "fcos")
DEF(fsincos, "fsincos")
DEF(fptan, "fptan")
DEF(fpatan, "fpatan")
DEF(f2xm1, "f2xm1")
DEF(fyl2x, "fyl2x")
DEF(fyl2xp1, "fyl2xp1")

/* ---- deterministic random numbers (xorshift64*) ---- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}
static int rint_(int lo, int hi) { /* inclusive */
    return lo + (int)(rnd() % (uint64_t)(hi - lo + 1));
}

/* A significand with interesting bit patterns: uniform, long runs of ones or
 * zeros (to hit carries and exact ties), or few set bits. */
static uint64_t rsig64(void) {
    uint64_t r = rnd();
    switch (r % 6) {
    case 0:
    case 1:
        return rnd();
    case 2: { /* ones from the top, then random low bits */
        int k = rint_(1, 63);
        return (~0ull << k) | (rnd() >> (64 - k) >> (rnd() & 1 ? 0 : 16));
    }
    case 3: { /* few significant bits */
        int k = rint_(1, 40);
        return rnd() & (~0ull << (64 - k));
    }
    case 4: { /* a run of ones somewhere */
        int lo = rint_(0, 63), hi = rint_(lo, 63);
        uint64_t m = (hi == 63 ? ~0ull : ((1ull << (hi + 1)) - 1)) & (~0ull << lo);
        return m ^ (rnd() & rnd() & rnd());
    }
    default: { /* near a rounding boundary of 24/53/64-bit precision */
        int p = (int[]){24, 53, 64}[rint_(0, 2)];
        uint64_t s = rnd();
        if (p < 64) {
            uint64_t half = 1ull << (63 - p);
            s = (s & ~((half << 1) - 1)) | half;
            s += (uint64_t)rint_(-2, 2);
        }
        return s;
    }
    }
}
static f80 rnormal(int elo, int ehi) {
    uint16_t e = (uint16_t)rint_(elo, ehi);
    return mk((uint16_t)((rnd() & 1) << 15 | e), rsig64() | (1ull << 63));
}
static uint16_t rcw(void) {
    static const uint16_t pcs[3] = {0x000, 0x200, 0x300};
    return (uint16_t)(0x7F | pcs[rint_(0, 2)] | (rint_(0, 3) << 10));
}
static uint16_t cw_of(int i) { /* i in 0..11: every precision x rounding */
    static const uint16_t pcs[3] = {0x000, 0x200, 0x300};
    return (uint16_t)(0x7F | pcs[i % 3] | ((i / 3) << 10));
}

/* ---- special operands ---- */

static const f80 specials[] = {
    {0x0000, 0},                      /* +0 */
    {0x8000, 0},                      /* -0 */
    {0x0000, 1},                      /* smallest denormal */
    {0x8000, 0x7FFFFFFFFFFFFFFFull},  /* largest denormal */
    {0x0000, 0x4000000000000000ull},  /* denormal */
    {0x8000, 0x0000000123456789ull},  /* denormal */
    {0x0000, 0x8000000000000000ull},  /* pseudo-denormal */
    {0x8000, 0xC000000000000001ull},  /* pseudo-denormal */
    {0x0001, 0x8000000000000000ull},  /* smallest normal */
    {0x8001, 0xFFFFFFFFFFFFFFFFull},  /* */
    {0x7FFE, 0xFFFFFFFFFFFFFFFFull},  /* largest normal */
    {0xFFFE, 0x8000000000000000ull},  /* */
    {0x3FFF, 0x8000000000000000ull},  /* 1 */
    {0xBFFF, 0x8000000000000000ull},  /* -1 */
    {0x3FFF, 0xC000000000000000ull},  /* 1.5 */
    {0x4000, 0x8000000000000000ull},  /* 2 */
    {0x4000, 0xC000000000000000ull},  /* 3 */
    {0x3FFE, 0x8000000000000000ull},  /* 0.5 */
    {0x3FFF, 0x8000000000000001ull},  /* 1 + ulp */
    {0x3FFE, 0xFFFFFFFFFFFFFFFFull},  /* 1 - ulp/2 */
    {0x4000, 0xC90FDAA22168C235ull},  /* pi */
    {0x403E, 0x8000000000000000ull},  /* 2^63 */
    {0x403D, 0xFFFFFFFFFFFFFFFFull},  /* 2^63 - 1 */
    {0x7FFF, 0x8000000000000000ull},  /* +inf */
    {0xFFFF, 0x8000000000000000ull},  /* -inf */
    {0x7FFF, 0xC000000000000000ull},  /* +QNaN */
    {0xFFFF, 0xC000000000000000ull},  /* real indefinite */
    {0x7FFF, 0xC123456789ABCDEFull},  /* QNaN with payload */
    {0xFFFF, 0xFFFFFFFFFFFFFFFFull},  /* QNaN, all ones */
    {0x7FFF, 0x8000000000000001ull},  /* SNaN */
    {0xFFFF, 0xA000000000000000ull},  /* SNaN */
    {0x7FFF, 0xBFFFFFFFFFFFFFFFull},  /* SNaN */
    {0x7FFF, 0x0000000000000000ull},  /* pseudo-infinity */
    {0xFFFF, 0x4000000000000000ull},  /* pseudo-NaN */
    {0x3FFF, 0x4000000000000000ull},  /* unnormal */
    {0x0001, 0x0000000000000000ull},  /* unnormal (pseudo-zero) */
    {0xC000, 0x0000000000000001ull},  /* unnormal */
    {0x3F80, 0x8000000000000000ull},  /* 2^-127, near float limits */
    {0x3C01, 0x8000000000000000ull},  /* 2^-1022 */
    {0x407E, 0xFFFFFF8000000000ull},  /* near FLT_MAX */
};
#define NSPEC ((int)(sizeof specials / sizeof specials[0]))

static f80 rspecial(void) { return specials[rint_(0, NSPEC - 1)]; }

/* ---- output ---- */

static FILE *out;
static void p80(f80 v) { fprintf(out, " %04X%016llX", v.se, (unsigned long long)v.sig); }

/* Run an instruction on ST0 = a, ST1 = b and print the line. nin: 0, 1 or 2
 * register inputs printed; nout: register outputs printed. */
static void emit(const char *op, runner fn, uint16_t cw, f80 a, f80 b, int nin, int nout) {
    uint8_t ba[10], bb[10], m[16], r1[10], r2[10];
    put80(ba, a);
    put80(bb, b);
    memset(m, 0xAA, sizeof m);
    uint16_t sw = fn(cw, ba, bb, m, r1, r2);
    fprintf(out, "%s %04X", op, cw);
    if (nin >= 1) p80(a);
    if (nin >= 2) p80(b);
    fprintf(out, " ->");
    if (nout >= 1) p80(get80(r1));
    if (nout >= 2) p80(get80(r2));
    fprintf(out, " %04X\n", sw);
}

/* Memory-operand forms: min bytes in (loads) or out (stores). */
static void emit_load(const char *op, runner fn, uint16_t cw, const uint8_t *mem, int bytes) {
    uint8_t ba[10], bb[10], m[16], r1[10], r2[10];
    put80(ba, mk(0, 0));
    put80(bb, mk(0, 0));
    memset(m, 0, sizeof m);
    memcpy(m, mem, (size_t)bytes);
    uint16_t sw = fn(cw, ba, bb, m, r1, r2);
    fprintf(out, "%s %04X ", op, cw);
    for (int i = bytes - 1; i >= 0; i--) fprintf(out, "%02X", mem[i]);
    fprintf(out, " ->");
    p80(get80(r1));
    fprintf(out, " %04X\n", sw);
}
static void emit_store(const char *op, runner fn, uint16_t cw, f80 a, int bytes) {
    uint8_t ba[10], bb[10], m[16], r1[10], r2[10];
    put80(ba, a);
    put80(bb, mk(0, 0));
    memset(m, 0xAA, sizeof m);
    uint16_t sw = fn(cw, ba, bb, m, r1, r2);
    fprintf(out, "%s %04X", op, cw);
    p80(a);
    fprintf(out, " -> ");
    for (int i = bytes - 1; i >= 0; i--) fprintf(out, "%02X", m[i]);
    fprintf(out, " %04X\n", sw);
}

static void open_out(const char *dir, const char *name, const char *what) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s.txt", dir, name);
    out = fopen(path, "w");
    if (!out) {
        perror(path);
        exit(1);
    }
    fprintf(out, "# %s\n# OP CW IN... -> OUT... SW (see tools/README.md)\n", what);
}

/* ---- generators per family ---- */

/* Operand pair for a binary arithmetic op: a mix of strategies. */
static void pair_for(const char *op, f80 *a, f80 *b) {
    int k = rint_(0, 9);
    if (k == 0) { /* special with a normal */
        *a = rspecial();
        *b = rnormal(0x3FF0, 0x400F);
        if (rnd() & 1) {
            f80 t = *a;
            *a = *b;
            *b = t;
        }
    } else if (k <= 3) { /* general rounding: moderate exponents */
        *a = rnormal(0x3FFF - 70, 0x3FFF + 70);
        int e = (*a).se & 0x7FFF;
        *b = rnormal(e - 70, e + 70);
    } else if (k == 4) { /* any exponent, including denormals */
        *a = rnormal(0, 0x7FFE);
        *b = rnormal(0, 0x7FFE);
        if (((*a).se & 0x7FFF) == 0) (*a).sig >>= rint_(0, 63);
        if (((*b).se & 0x7FFF) == 0) (*b).sig >>= rint_(0, 63);
    } else if (k == 5) { /* denormal operand(s) */
        *a = mk((uint16_t)((rnd() & 1) << 15), rsig64() >> rint_(0, 63));
        *b = (rnd() & 1) ? rnormal(0, 0x3FFF + 70) : mk((uint16_t)((rnd() & 1) << 15), rsig64() >> rint_(1, 63));
        if (rnd() & 1) {
            f80 t = *a;
            *a = *b;
            *b = t;
        }
    } else { /* results near the overflow / underflow thresholds */
        int ea, eb;
        int near_over = rnd() & 1;
        int target = near_over ? 0x7FFE + rint_(-2, 2) : rint_(-70, 3);
        if (!strcmp(op, "add") || !strcmp(op, "sub")) {
            ea = near_over ? 0x7FFE - rint_(0, 1) : rint_(0, 3);
            eb = near_over ? ea - rint_(0, 3) : rint_(0, 3);
            if (near_over) { ea = 0x7FFE; }
        } else if (!strcmp(op, "mul")) {
            ea = rint_(0x1000, 0x6000);
            eb = target + 0x3FFF - ea;
        } else { /* div */
            ea = rint_(0x1000, 0x7FFE);
            eb = ea + 0x3FFF - target;
            if (eb < 1 || eb > 0x7FFE) {
                eb = rint_(0x1000, 0x6000);
                ea = target - 0x3FFF + eb;
            }
        }
        if (ea < 1) ea = 1;
        if (eb < 1) eb = 1;
        if (ea > 0x7FFE) ea = 0x7FFE;
        if (eb > 0x7FFE) eb = 0x7FFE;
        *a = rnormal(ea, ea);
        *b = rnormal(eb, eb);
    }
}

static void gen_binary(const char *dir, const char *op, runner fn, int nrand) {
    open_out(dir, op, op);
    int i = 0;
    for (int x = 0; x < NSPEC; x++)
        for (int y = 0; y < NSPEC; y++) emit(op, fn, cw_of(i++ % 12), specials[x], specials[y], 2, 1);
    for (int n = 0; n < nrand; n++) {
        f80 a, b;
        pair_for(op, &a, &b);
        emit(op, fn, rcw(), a, b, 2, 1);
    }
    fclose(out);
}

static void gen_sqrt(const char *dir) {
    open_out(dir, "sqrt", "fsqrt");
    for (int x = 0; x < NSPEC; x++)
        for (int c = 0; c < 12; c += 5) emit("sqrt", x_sqrt, cw_of(c + x % 5), specials[x], specials[0], 1, 1);
    for (int n = 0; n < 3000; n++) {
        f80 a;
        int k = rint_(0, 4);
        if (k == 0) { /* exact squares and near-exact */
            uint64_t s = (rnd() >> 32) | (1ull << 31);
            unsigned __int128 sq = (unsigned __int128)s * s;
            int sh = sq >> 127 ? 0 : 1;
            a = mk((uint16_t)(0x3FFF + rint_(-100, 100) * 2 + 1 - sh), (uint64_t)((sq << sh) >> 64));
            a.sig += (uint64_t)rint_(-1, 1);
            a.sig |= 1ull << 63;
        } else if (k == 1) {
            a = rnormal(0, 0x7FFE);
        } else if (k == 2) {
            a = mk((uint16_t)((rnd() % 8 == 0) << 15), rsig64() >> rint_(0, 63));
        } else {
            a = rnormal(0x3FFF - 80, 0x3FFF + 80);
            if (rnd() % 8) a.se &= 0x7FFF;
        }
        emit("sqrt", x_sqrt, rcw(), a, specials[0], 1, 1);
    }
    fclose(out);
}

static void gen_rem(const char *dir, const char *op, runner fn) {
    open_out(dir, op, op);
    int i = 0;
    for (int x = 0; x < NSPEC; x++)
        for (int y = 0; y < NSPEC; y++) emit(op, fn, cw_of(i++ % 12), specials[x], specials[y], 2, 1);
    for (int n = 0; n < 2500; n++) {
        f80 a, b;
        int k = rint_(0, 5);
        if (k <= 2) {
            b = rnormal(0x3FFF - 100, 0x3FFF + 100);
            int d = rint_(-3, 70);
            a = rnormal((b.se & 0x7FFF) + d, (b.se & 0x7FFF) + d);
        } else if (k == 3) {
            b = rnormal(0x3FFF - 1000, 0x3FFF + 1000);
            int d = rint_(60, 300);
            a = rnormal((b.se & 0x7FFF) + d, (b.se & 0x7FFF) + d);
        } else if (k == 4) {
            a = rnormal(1, 0x7FFE);
            b = rnormal(1, 0x7FFE);
        } else { /* denormals */
            a = mk((uint16_t)((rnd() & 1) << 15), rsig64() >> rint_(0, 63));
            b = mk((uint16_t)((rnd() & 1) << 15), rsig64() >> rint_(0, 63));
            if (rnd() & 1) a = rnormal(1, 80);
        }
        if (b.sig == 0) b.sig = 1;
        emit(op, fn, rcw(), a, b, 2, 1);
    }
    fclose(out);
}

static void gen_rndint(const char *dir) {
    open_out(dir, "rndint", "frndint");
    for (int x = 0; x < NSPEC; x++)
        for (int c = 0; c < 12; c += 3) emit("rndint", x_rndint, cw_of(c + x % 3), specials[x], specials[0], 1, 1);
    for (int n = 0; n < 2000; n++) {
        f80 a;
        if (rnd() % 4 == 0) { /* halves and near integers */
            int e = rint_(0x3FFF - 2, 0x3FFF + 63);
            a = mk((uint16_t)((rnd() & 1) << 15 | e), (1ull << 63) | (rnd() & ~(~0ull >> (e - 0x3FFF + 2))));
        } else if (rnd() % 8 == 0) {
            a = mk((uint16_t)((rnd() & 1) << 15), rsig64() >> rint_(0, 63));
        } else {
            a = rnormal(0x3FFF - 8, 0x3FFF + 66);
        }
        emit("rndint", x_rndint, rcw(), a, specials[0], 1, 1);
    }
    fclose(out);
}

static f80 int_to_f80(int64_t v) {
    if (v == 0) return mk(0, 0);
    uint16_t s = v < 0 ? 0x8000 : 0;
    uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    int e = 0x3FFF + 63;
    while (!(m >> 63)) {
        m <<= 1;
        e--;
    }
    return mk((uint16_t)(s | e), m);
}

static void gen_scale(const char *dir) {
    open_out(dir, "scale", "fscale");
    int i = 0;
    for (int x = 0; x < NSPEC; x++)
        for (int y = 0; y < NSPEC; y++) emit("scale", x_scale, cw_of(i++ % 12), specials[x], specials[y], 2, 1);
    for (int n = 0; n < 2500; n++) {
        f80 a, b;
        int k = rint_(0, 4);
        a = (k == 4) ? mk((uint16_t)((rnd() & 1) << 15), rsig64() >> rint_(0, 63)) : rnormal(1, 0x7FFE);
        if (k <= 1) {
            b = int_to_f80(rint_(-0x8000, 0x8000));
        } else if (k == 2) {
            b = rnormal(0x3FFF - 3, 0x3FFF + 20);
        } else {
            int e = a.se & 0x7FFF;
            b = int_to_f80(rint_(-e - 70, -e + 5)); /* into the denormal range */
            if (rnd() & 1) b = int_to_f80(0x7FFE - e + rint_(-3, 3));
        }
        emit("scale", x_scale, rcw(), a, b, 2, 1);
    }
    fclose(out);
}

static void gen_unary(const char *dir, const char *op, runner fn, int nout, int nrand, int elo, int ehi) {
    open_out(dir, op, op);
    for (int x = 0; x < NSPEC; x++)
        for (int c = 0; c < 12; c += 4) emit(op, fn, cw_of(c + x % 4), specials[x], specials[12], 1, nout);
    for (int n = 0; n < nrand; n++) {
        f80 a;
        if (rnd() % 10 == 0)
            a = mk((uint16_t)((rnd() & 1) << 15), rsig64() >> rint_(0, 63));
        else
            a = rnormal(elo, ehi);
        emit(op, fn, rcw(), a, specials[12], 1, nout);
    }
    fclose(out);
}

static void gen_compare(const char *dir) {
    open_out(dir, "compare", "fcom, fucom, ftst, fxam (SW only)");
    for (int x = 0; x < NSPEC; x++) {
        for (int y = 0; y < NSPEC; y++) {
            emit("fcom", x_fcom, 0x037F, specials[x], specials[y], 2, 0);
            emit("fucom", x_fucom, 0x037F, specials[x], specials[y], 2, 0);
        }
        emit("ftst", x_ftst, 0x037F, specials[x], specials[0], 1, 0);
        emit("fxam", x_fxam, 0x037F, specials[x], specials[0], 1, 0);
    }
    for (int n = 0; n < 1500; n++) {
        f80 a = rnormal(0, 0x7FFE), b;
        int k = rint_(0, 3);
        if (k == 0) b = a;
        else if (k == 1) b = mk(a.se, a.sig + (uint64_t)rint_(-1, 1));
        else if (k == 2) b = mk(a.se ^ 0x8000, a.sig);
        else b = rnormal(0, 0x7FFE);
        if ((b.se & 0x7FFF) == 0) b.sig >>= 1;
        if (n & 1) emit("fcom", x_fcom, rcw(), a, b, 2, 0);
        else emit("fucom", x_fucom, rcw(), a, b, 2, 0);
    }
    fclose(out);
}

static void gen_int(const char *dir) {
    open_out(dir, "int", "fild/fistp/fisttp m16/m32/m64");
    static const char *lname[3] = {"fild16", "fild32", "fild64"};
    static const runner lfn[3] = {x_fild16, x_fild32, x_fild64};
    static const char *sname[3] = {"fist16", "fist32", "fist64"};
    static const runner sfn[3] = {x_fist16, x_fist32, x_fist64};
    static const char *tname[3] = {"fisttp16", "fisttp32", "fisttp64"};
    static const runner tfn[3] = {x_fisttp16, x_fisttp32, x_fisttp64};
    static const int bytes[3] = {2, 4, 8};
    static const int bits[3] = {16, 32, 64};
    for (int w = 0; w < 3; w++) {
        for (int n = 0; n < 300; n++) {
            uint64_t v = rnd() >> rint_(0, 63);
            if (rnd() & 1) v = (uint64_t)0 - v;
            if (n < 4) v = (uint64_t[]){0, 1, ~0ull, 1ull << 63}[n];
            uint8_t mem[8];
            memcpy(mem, &v, 8);
            emit_load(lname[w], lfn[w], rcw(), mem, bytes[w]);
        }
        for (int x = 0; x < NSPEC; x++)
            for (int c = 0; c < 4; c++) {
                emit_store(sname[w], sfn[w], cw_of(c * 3 + 2), specials[x], bytes[w]);
                if (c == 0) emit_store(tname[w], tfn[w], cw_of(x % 12), specials[x], bytes[w]);
            }
        int lim = bits[w] - 1; /* 2^lim is the first out-of-range magnitude */
        for (int n = 0; n < 1200; n++) {
            f80 a;
            int k = rint_(0, 3);
            if (k == 0) { /* at the limits: 2^lim +- a few halves */
                a = int_to_f80((int64_t)rint_(-6, 6));
                int64_t base = (int64_t)1 << (lim > 62 ? 62 : lim);
                (void)base;
                int e = 0x3FFF + lim;
                uint64_t s = 1ull << 63;
                int which = rint_(0, 3);
                if (which == 0) a = mk((uint16_t)e, s);                                  /* 2^lim */
                else if (which == 1) a = mk((uint16_t)(e - 1), ~0ull << (64 - lim - 1)); /* 2^lim - 0.5 */
                else if (which == 2) a = mk((uint16_t)(e - 1), ~0ull << (64 - lim));     /* 2^lim - 1 */
                else a = mk((uint16_t)e, s | (1ull << (63 - lim - 1)));                  /* 2^lim + 0.5 */
                if (lim > 62 && which == 1) a = mk((uint16_t)(e - 1), ~0ull);            /* below 2^63 */
                if (rnd() & 1) a.se |= 0x8000;
            } else if (k == 1) {
                a = rnormal(0x3FFF - 3, 0x3FFF + lim + 2);
            } else if (k == 2) { /* halves */
                int e = rint_(0x3FFF - 1, 0x3FFF + lim);
                int fb = e - 0x3FFF + 1; /* bits kept: integer part + one half bit */
                a = mk((uint16_t)((rnd() & 1) << 15 | e), (1ull << 63) | (rnd() & ~(~0ull >> fb)));
            } else {
                a = (rnd() & 1) ? rnormal(0, 0x7FFE) : rspecial();
            }
            uint16_t cw = rcw();
            if (rnd() % 3 == 0) emit_store(tname[w], tfn[w], cw, a, bytes[w]);
            else emit_store(sname[w], sfn[w], cw, a, bytes[w]);
        }
    }
    fclose(out);
}

static void gen_float(const char *dir) {
    open_out(dir, "float", "fld/fstp m32/m64");
    static const uint32_t s32[] = {0, 0x80000000u, 1, 0x807FFFFFu, 0x00400000u, 0x00800000u,
                                   0x3F800000u, 0x7F7FFFFFu, 0x7F800000u, 0xFF800000u,
                                   0x7FC00000u, 0xFFC00000u, 0x7FC12345u, 0x7F800001u,
                                   0xFFBFFFFFu, 0x7FA00000u};
    static const uint64_t s64[] = {0, 0x8000000000000000ull, 1, 0x800FFFFFFFFFFFFFull,
                                   0x0010000000000000ull, 0x3FF0000000000000ull,
                                   0x7FEFFFFFFFFFFFFFull, 0x7FF0000000000000ull,
                                   0xFFF0000000000000ull, 0x7FF8000000000000ull,
                                   0xFFF8000000000000ull, 0x7FF8123456789ABCull,
                                   0x7FF0000000000001ull, 0xFFF7FFFFFFFFFFFFull,
                                   0x0008000000000000ull};
    for (size_t i = 0; i < sizeof s32 / 4; i++) {
        uint8_t m[4];
        memcpy(m, &s32[i], 4);
        emit_load("fld32", x_fld32, cw_of((int)i % 12), m, 4);
    }
    for (size_t i = 0; i < sizeof s64 / 8; i++) {
        uint8_t m[8];
        memcpy(m, &s64[i], 8);
        emit_load("fld64", x_fld64, cw_of((int)i % 12), m, 8);
    }
    for (int n = 0; n < 300; n++) {
        uint64_t v = rnd();
        uint8_t m[8];
        if (n % 4 == 0) v &= 0x807FFFFF807FFFFFull; /* denormals */
        memcpy(m, &v, 8);
        emit_load("fld32", x_fld32, rcw(), m, 4);
        if (n % 4 == 0) v &= 0x800FFFFFFFFFFFFFull;
        if (n % 4 == 1) v |= 0x7FF0000000000000ull;
        memcpy(m, &v, 8);
        emit_load("fld64", x_fld64, rcw(), m, 8);
    }
    for (int x = 0; x < NSPEC; x++)
        for (int c = 0; c < 12; c += 3) {
            emit_store("fst32", x_fst32, cw_of(c + x % 3), specials[x], 4);
            emit_store("fst64", x_fst64, cw_of(c + x % 3), specials[x], 8);
        }
    for (int w = 0; w < 2; w++) {
        int emax = w ? 1023 : 127, mant = w ? 52 : 23;
        for (int n = 0; n < 2000; n++) {
            f80 a;
            int k = rint_(0, 4);
            if (k == 0) a = rnormal(0x3FFF - emax - mant - 3, 0x3FFF - emax + 2); /* underflow */
            else if (k == 1) a = rnormal(0x3FFF + emax - 1, 0x3FFF + emax + 1);   /* overflow */
            else if (k == 2) a = rnormal(0x3FFF - emax, 0x3FFF + emax);
            else if (k == 3) {
                a = rnormal(0x3FFF - emax - mant - 2, 0x3FFF + emax);
                /* a tie or near-tie at the destination's precision */
                int e = (a.se & 0x7FFF) - 0x3FFF;
                int keep = e < 1 - emax ? mant + 1 - (1 - emax - e) : mant + 1;
                if (keep < 1) keep = 1;
                uint64_t half = 1ull << (63 - keep);
                a.sig = (a.sig & ~((half << 1) - 1)) | half;
                a.sig += (uint64_t)rint_(-1, 1);
                a.sig |= 1ull << 63;
            } else a = rspecial();
            if (w) emit_store("fst64", x_fst64, rcw(), a, 8);
            else emit_store("fst32", x_fst32, rcw(), a, 4);
        }
    }
    fclose(out);
}

static void gen_bcd(const char *dir) {
    open_out(dir, "bcd", "fbld/fbstp");
    for (int n = 0; n < 600; n++) {
        uint8_t m[10];
        int digits = rint_(0, 18);
        memset(m, 0, sizeof m);
        for (int d = 0; d < digits; d++) {
            int v = rint_(0, 9);
            m[d / 2] |= (uint8_t)(v << ((d & 1) * 4));
        }
        if (rnd() & 1) m[9] = 0x80;
        emit_load("fbld", x_fbld, rcw(), m, 10);
    }
    for (int x = 0; x < NSPEC; x++)
        for (int c = 0; c < 12; c += 4) emit_store("fbstp", x_fbstp, cw_of(c + x % 4), specials[x], 10);
    for (int n = 0; n < 1500; n++) {
        f80 a;
        int k = rint_(0, 3);
        if (k == 0) { /* around 10^18 */
            a = mk(0x403A, 0xDE0B6B3A76400000ull);
            a.sig += (uint64_t)rint_(-3, 3) << rint_(0, 6);
            a.se += (uint16_t)rint_(-1, 0);
        } else if (k == 1) {
            a = rnormal(0x3FFF - 3, 0x3FFF + 60);
        } else if (k == 2) { /* halves */
            int e = rint_(0x3FFF - 1, 0x3FFF + 59);
            int fb = e - 0x3FFF + 1;
            a = mk((uint16_t)e, (1ull << 63) | (rnd() & ~(~0ull >> fb)));
        } else {
            a = (rnd() & 1) ? rnormal(0, 0x7FFE) : rspecial();
        }
        if (rnd() & 1) a.se |= 0x8000;
        emit_store("fbstp", x_fbstp, rcw(), a, 10);
    }
    fclose(out);
}

static void gen_const(const char *dir) {
    open_out(dir, "const", "fld1, fldl2t, fldl2e, fldpi, fldlg2, fldln2, fldz");
    static const char *names[7] = {"fld1", "fldl2t", "fldl2e", "fldpi", "fldlg2", "fldln2", "fldz"};
    static const runner fns[7] = {x_fld1, x_fldl2t, x_fldl2e, x_fldpi, x_fldlg2, x_fldln2, x_fldz};
    for (int i = 0; i < 7; i++)
        for (int c = 0; c < 12; c++) emit(names[i], fns[i], cw_of(c), mk(0, 0), mk(0, 0), 0, 1);
    fclose(out);
}

/* The transcendentals: register operands, domain-aware random inputs. */
static void gen_trig(const char *dir, const char *op, runner fn, int nout) {
    open_out(dir, op, op);
    for (int x = 0; x < NSPEC; x++)
        for (int c = 0; c < 12; c += 6) emit(op, fn, cw_of(c + x % 6), specials[x], specials[12], 1, nout);
    static const uint64_t pi_sig = 0xC90FDAA22168C234ull; /* pi, 64 bits truncated */
    for (int n = 0; n < 1500; n++) {
        f80 a;
        int k = rint_(0, 5);
        if (k <= 1) a = rnormal(0x3FFF - 4, 0x3FFF + 4);
        else if (k == 2) a = rnormal(0x3FFF - 70, 0x3FFF + 64);
        else if (k == 3) { /* near multiples of pi/4 */
            int m = rint_(1, 64);
            unsigned __int128 p = (unsigned __int128)pi_sig * (uint64_t)m;
            int e = 0x4000 - 2;
            while (p >> 64) {
                p >>= 1;
                e++;
            }
            uint64_t s = (uint64_t)p;
            while (!(s >> 63)) {
                s <<= 1;
                e--;
            }
            a = mk((uint16_t)((rnd() & 1) << 15 | e), s + (uint64_t)rint_(-2, 2));
        } else if (k == 4) a = rnormal(0x3FFF + 20, 0x3FFF + 62); /* large arguments */
        else a = rnormal(0x3FFF + 62, 0x3FFF + 64);
        emit(op, fn, rcw(), a, specials[12], 1, nout);
    }
    fclose(out);
}

static void gen_f2xm1(const char *dir) {
    open_out(dir, "f2xm1", "f2xm1");
    for (int x = 0; x < NSPEC; x++)
        for (int c = 0; c < 12; c += 6) emit("f2xm1", x_f2xm1, cw_of(c + x % 6), specials[x], specials[12], 1, 1);
    for (int n = 0; n < 2000; n++) {
        f80 a = rnormal(0x3FFF - 70, 0x3FFE);
        if (n % 10 == 0) a = mk(a.se & 0x8000, rsig64() >> rint_(0, 63));
        emit("f2xm1", x_f2xm1, rcw(), a, specials[12], 1, 1);
    }
    fclose(out);
}

static void gen_log(const char *dir, const char *op, runner fn) {
    open_out(dir, op, op);
    int i = 0;
    for (int x = 0; x < NSPEC; x++)
        for (int y = 0; y < NSPEC; y += 2) emit(op, fn, cw_of(i++ % 12), specials[x], specials[y + (x & 1)], 2, 1);
    int p1 = !strcmp(op, "fyl2xp1");
    for (int n = 0; n < 2000; n++) {
        f80 x, y;
        if (p1) {
            x = rnormal(0x3FFF - 70, 0x3FFD); /* |x| < 0.25 < 1 - sqrt(2)/2 */
        } else {
            int k = rint_(0, 2);
            x = k == 0 ? rnormal(1, 0x7FFE) : rnormal(0x3FFF - 2, 0x3FFF + 1);
            if (k == 2) x = mk(0x3FFF - (uint16_t)rint_(0, 1), rint_(0, 1) ? ~0ull - (rnd() >> rint_(8, 63)) : (1ull << 63) + (rnd() >> rint_(8, 63)));
            x.se &= 0x7FFF;
        }
        y = rnormal(0x3FFF - 20, 0x3FFF + 20);
        if (n % 8 == 0) y = mk(0x3FFF, 1ull << 63);
        emit(op, fn, rcw(), x, y, 2, 1);
    }
    fclose(out);
}

static void gen_patan(const char *dir) {
    open_out(dir, "fpatan", "fpatan: ST0 = x, ST1 = y, result atan2(y, x)");
    int i = 0;
    for (int x = 0; x < NSPEC; x++)
        for (int y = 0; y < NSPEC; y++) emit("fpatan", x_fpatan, cw_of(i++ % 12), specials[x], specials[y], 2, 1);
    for (int n = 0; n < 2000; n++) {
        f80 x = rnormal(0x3FFF - 30, 0x3FFF + 30), y;
        int e = x.se & 0x7FFF;
        y = rnormal(e - 70, e + 70);
        emit("fpatan", x_fpatan, rcw(), x, y, 2, 1);
    }
    fclose(out);
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : ".";
    gen_binary(dir, "add", x_add, 2500);
    gen_binary(dir, "sub", x_sub, 1500);
    gen_binary(dir, "mul", x_mul, 2500);
    gen_binary(dir, "div", x_div, 2500);
    gen_sqrt(dir);
    gen_compare(dir);
    gen_int(dir);
    gen_float(dir);
    gen_rem(dir, "prem", x_prem);
    gen_rem(dir, "prem1", x_prem1);
    gen_rndint(dir);
    gen_scale(dir);
    gen_unary(dir, "xtract", x_xtract, 2, 1000, 0, 0x7FFE);
    gen_bcd(dir);
    gen_const(dir);
    gen_trig(dir, "fsin", x_fsin, 1);
    gen_trig(dir, "fcos", x_fcos, 1);
    gen_trig(dir, "fsincos", x_fsincos, 2);
    gen_trig(dir, "fptan", x_fptan, 2);
    gen_patan(dir);
    gen_f2xm1(dir);
    gen_log(dir, "fyl2x", x_fyl2x);
    gen_log(dir, "fyl2xp1", x_fyl2xp1);
    return 0;
}
