/* gen_v2.c - computes POPCNT and CMPXCHG16B results on the host CPU (an
 * x86-64 with POPCNT and CX16) for crates/cpu/tests/v2.rs. Prints
 * v2-cases.txt to standard output:
 *
 *   popcnt SIZE SRC DST_IN FLAGS_IN DST_OUT FLAGS_OUT
 *   cx16 MEM_LO MEM_HI RAX RDX RBX RCX FLAGS_IN MEM_LO' MEM_HI' RAX' RDX' FLAGS_OUT
 *
 * (hex, 64-bit registers; FLAGS_* are RFLAGS & 0x8D5, the arithmetic
 * flags). Build and run: gcc -O1 -o /tmp/gen_v2 gen_v2.c && /tmp/gen_v2
 */
#include <stdint.h>
#include <stdio.h>

#define ARITH 0x8D5ULL

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint64_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void popcnt_case(int size, uint64_t src, uint64_t dst, uint64_t fin) {
    uint64_t f = fin | 0x202, fout, out = dst;
    switch (size) {
    case 2:
        __asm__ volatile("pushq %2; popfq; popcntw %w3, %w0; pushfq; popq %1"
                         : "+r"(out), "=&r"(fout) : "r"(f), "r"(src) : "cc");
        break;
    case 4:
        __asm__ volatile("pushq %2; popfq; popcntl %k3, %k0; pushfq; popq %1"
                         : "+r"(out), "=&r"(fout) : "r"(f), "r"(src) : "cc");
        break;
    default:
        __asm__ volatile("pushq %2; popfq; popcntq %3, %0; pushfq; popq %1"
                         : "+r"(out), "=&r"(fout) : "r"(f), "r"(src) : "cc");
    }
    printf("popcnt %d %llx %llx %llx %llx %llx\n", size, (unsigned long long)src,
           (unsigned long long)dst, (unsigned long long)fin, (unsigned long long)out,
           (unsigned long long)(fout & ARITH));
}

static void cx16_case(uint64_t lo, uint64_t hi, uint64_t rax, uint64_t rdx,
                      uint64_t rbx, uint64_t rcx, uint64_t fin) {
    uint64_t mem[2] __attribute__((aligned(16))) = {lo, hi};
    uint64_t a = rax, d = rdx, f = fin | 0x202, fout;
    __asm__ volatile("pushq %4; popfq; lock cmpxchg16b %2; pushfq; popq %3"
                     : "+a"(a), "+d"(d), "+m"(mem[0]), "=&r"(fout)
                     : "r"(f), "b"(rbx), "c"(rcx), "m"(mem[1])
                     : "cc", "memory");
    printf("cx16 %llx %llx %llx %llx %llx %llx %llx %llx %llx %llx %llx %llx\n",
           (unsigned long long)lo, (unsigned long long)hi, (unsigned long long)rax,
           (unsigned long long)rdx, (unsigned long long)rbx, (unsigned long long)rcx,
           (unsigned long long)fin, (unsigned long long)mem[0],
           (unsigned long long)mem[1], (unsigned long long)a, (unsigned long long)d,
           (unsigned long long)(fout & ARITH));
}

int main(void) {
    static const uint64_t edge[] = {
        0, 1, 0x80, 0xFF, 0x8000, 0xFFFF, 0x10000, 0x80000000, 0xFFFFFFFF,
        0x100000000ULL, 0x8000000000000000ULL, 0xFFFFFFFFFFFFFFFFULL,
        0x5555555555555555ULL, 0xAAAAAAAAAAAAAAAAULL, 0xFFFF0000FFFF0000ULL,
        0x0000FFFF00000000ULL, 0x123456789ABCDEF0ULL,
    };
    static const int sizes[] = {2, 4, 8};
    for (unsigned s = 0; s < 3; s++) {
        for (unsigned i = 0; i < sizeof edge / sizeof edge[0]; i++) {
            popcnt_case(sizes[s], edge[i], 0xDEADBEEFCAFEF00DULL, ARITH);
            popcnt_case(sizes[s], edge[i], 0, 0);
        }
        for (int i = 0; i < 40; i++)
            popcnt_case(sizes[s], next(), next(), next() & ARITH);
    }
    for (int i = 0; i < 40; i++) {
        uint64_t lo = next(), hi = next(), rbx = next(), rcx = next();
        uint64_t fin = next() & ARITH;
        switch (i % 4) {
        case 0: /* equal */
            cx16_case(lo, hi, lo, hi, rbx, rcx, fin);
            break;
        case 1: /* low halves differ */
            cx16_case(lo, hi, lo ^ 1, hi, rbx, rcx, fin);
            break;
        case 2: /* high halves differ */
            cx16_case(lo, hi, lo, hi ^ 0x8000000000000000ULL, rbx, rcx, fin);
            break;
        default: /* both differ */
            cx16_case(lo, hi, next(), next(), rbx, rcx, fin);
        }
    }
    return 0;
}
