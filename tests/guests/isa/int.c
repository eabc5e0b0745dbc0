/* RV32IM/RV64IM integer edge cases via inline asm: division by zero and
 * overflow, shift-amount masking, W-op sign extension (RV64), high
 * multiplies, compares, immediates and lui/auipc. Every result is printed in
 * hex for diffing. Registers are `unsigned long`, XLEN bits on either width;
 * 64-bit constants keep their low half on RV32. */
#include <stdint.h>
#include <stdio.h>

typedef unsigned long u64;

static const u64 vals[] = {
    0, 1, (u64)-1, 2, (u64)0x8000000000000000ull, (u64)0x7fffffffffffffffull,
    (u64)0xffffffff80000000ull /* INT32_MIN sign-extended */, (u64)0x80000000ull, 0x7fffffff, (u64)0xffffffffull,
    (u64)0x123456789abcdef0ull, (u64)0xfedcba9876543210ull,
};
#define NV (sizeof vals / sizeof vals[0])

/* Shift amounts deliberately include values >= 32 and >= 64 to check masking. */
static const u64 shamts[] = {0, 1, 31, 32, 33, 63, 64, 65, (u64)0xffffffffffffffc1ull, (u64)-1};
#define NS (sizeof shamts / sizeof shamts[0])

#define RR(name)                                                               \
    static u64 op_##name(u64 a, u64 b) {                                       \
        u64 r;                                                                 \
        __asm__ volatile(#name " %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));      \
        return r;                                                              \
    }
RR(add) RR(sub) RR(and) RR(or) RR(xor) RR(slt) RR(sltu)
RR(mul) RR(mulh) RR(mulhsu) RR(mulhu)
RR(div) RR(divu) RR(rem) RR(remu)
RR(sll) RR(srl) RR(sra)
#if __riscv_xlen == 64
RR(addw) RR(subw) RR(mulw) RR(divw) RR(divuw) RR(remw) RR(remuw) RR(sllw) RR(srlw) RR(sraw)
#endif

struct op { const char *name; u64 (*f)(u64, u64); int shift; };
static const struct op ops[] = {
    {"add", op_add, 0}, {"sub", op_sub, 0},
    {"and", op_and, 0}, {"or", op_or, 0}, {"xor", op_xor, 0}, {"slt", op_slt, 0}, {"sltu", op_sltu, 0},
    {"mul", op_mul, 0}, {"mulh", op_mulh, 0}, {"mulhsu", op_mulhsu, 0}, {"mulhu", op_mulhu, 0},
    {"div", op_div, 0}, {"divu", op_divu, 0}, {"rem", op_rem, 0}, {"remu", op_remu, 0},
    {"sll", op_sll, 1}, {"srl", op_srl, 1}, {"sra", op_sra, 1},
#if __riscv_xlen == 64
    {"addw", op_addw, 0}, {"subw", op_subw, 0}, {"mulw", op_mulw, 0},
    {"divw", op_divw, 0}, {"divuw", op_divuw, 0}, {"remw", op_remw, 0}, {"remuw", op_remuw, 0},
    {"sllw", op_sllw, 1}, {"srlw", op_srlw, 1}, {"sraw", op_sraw, 1},
#endif
};

/* Immediate forms: the immediate is part of the instruction, so each
 * (op, imm) pair needs its own asm statement. */
#define RI(name, imm)                                                                  \
    do {                                                                               \
        printf("%-6s imm=%-6s:", #name, #imm);                                         \
        for (unsigned i = 0; i < NV; i++) {                                            \
            u64 r;                                                                     \
            __asm__ volatile(#name " %0, %1, " #imm : "=r"(r) : "r"(vals[i]));        \
            printf(" %016llx", (unsigned long long)r);                                \
        }                                                                              \
        printf("\n");                                                                  \
    } while (0)

int main(void) {
    for (unsigned o = 0; o < sizeof ops / sizeof ops[0]; o++) {
        for (unsigned i = 0; i < NV; i++) {
            printf("%-6s %016llx:", ops[o].name, (unsigned long long)vals[i]);
            unsigned n = ops[o].shift ? NS : NV;
            for (unsigned j = 0; j < n; j++) {
                u64 b = ops[o].shift ? shamts[j] : vals[j];
                printf(" %016llx", (unsigned long long)ops[o].f(vals[i], b));
            }
            printf("\n");
        }
    }

    RI(addi, 0); RI(addi, -1); RI(addi, 2047); RI(addi, -2048);
    RI(andi, -1); RI(andi, -2048); RI(andi, 0x7ff);
    RI(ori, -2048); RI(ori, 1); RI(xori, -1); RI(xori, 0x555);
    RI(slti, 0); RI(slti, -1); RI(slti, 2047); RI(slti, -2048);
    RI(sltiu, 0); RI(sltiu, 1); RI(sltiu, -1); RI(sltiu, -2048);
    RI(slli, 0); RI(slli, 1); RI(slli, 31);
    RI(srli, 0); RI(srli, 1); RI(srli, 31);
    RI(srai, 0); RI(srai, 1); RI(srai, 31);
#if __riscv_xlen == 64
    RI(addiw, 0); RI(addiw, 1); RI(addiw, -1); RI(addiw, 2047); RI(addiw, -2048);
    RI(slli, 32); RI(slli, 63);
    RI(srli, 32); RI(srli, 63);
    RI(srai, 32); RI(srai, 63);
    RI(slliw, 0); RI(slliw, 1); RI(slliw, 31);
    RI(srliw, 0); RI(srliw, 1); RI(srliw, 31);
    RI(sraiw, 0); RI(sraiw, 1); RI(sraiw, 31);
#define ADD_IMMEDIATE_WORD "addiw"
#else
#define ADD_IMMEDIATE_WORD "addi"
#endif

    /* lui sign-extends bit 31 into the upper half on RV64. */
    u64 l1, l2, l3, l4, l5;
    __asm__ volatile("lui %0, 0x80000" : "=r"(l1));
    __asm__ volatile("lui %0, 0xfffff" : "=r"(l2));
    __asm__ volatile("lui %0, 0x7ffff" : "=r"(l3));
    __asm__ volatile("lui %0, 0x12345\n\t" ADD_IMMEDIATE_WORD " %0, %0, -1" : "=r"(l4));
    __asm__ volatile("lui %0, 0x80000\n\t" ADD_IMMEDIATE_WORD " %0, %0, -1" : "=r"(l5)); /* wraps to INT32_MAX */
    printf("lui: %016llx %016llx %016llx %016llx %016llx\n", (unsigned long long)l1, (unsigned long long)l2,
           (unsigned long long)l3, (unsigned long long)l4, (unsigned long long)l5);

    /* auipc: only pc-relative differences are deterministic. */
    u64 p0, p1, p2, lab;
    __asm__ volatile("1: auipc %0, 0\n\t"
                     "auipc %1, 1\n\t"
                     "auipc %2, 0xfffff\n\t"
                     "lla %3, 1b"
                     : "=r"(p0), "=r"(p1), "=r"(p2), "=r"(lab));
    printf("auipc: p0-label=%lld p1-p0=%lld p2-p0=%lld\n", (long long)(p0 - lab), (long long)(p1 - p0), (long long)(p2 - p0));

    /* Writes to x0 are discarded. */
    u64 z;
    __asm__ volatile("li t0, 5\n\taddi x0, t0, 1\n\tmv %0, x0" : "=r"(z) : : "t0");
    printf("x0 after write: %llx\n", (unsigned long long)z);

    /* Loads: sign vs zero extension for each width. */
    static const unsigned char mem[16] = {0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x7f, 0xff, 0xff, 0x7f, 0, 0, 0, 0x80};
    u64 lb, lbu, lh, lhu, lw, lwu = 0, ld = 0;
    __asm__ volatile("lb %0, 0(%5)\n\tlbu %1, 0(%5)\n\tlh %2, 2(%5)\n\tlhu %3, 2(%5)\n\tlw %4, 4(%5)"
                     : "=&r"(lb), "=&r"(lbu), "=&r"(lh), "=&r"(lhu), "=&r"(lw)
                     : "r"(mem) : "memory");
#if __riscv_xlen == 64
    __asm__ volatile("lwu %0, 4(%2)\n\tld %1, 8(%2)" : "=&r"(lwu), "=&r"(ld) : "r"(mem) : "memory");
#endif
    printf("loads: lb=%016llx lbu=%016llx lh=%016llx lhu=%016llx lw=%016llx lwu=%016llx ld=%016llx\n",
           (unsigned long long)lb, (unsigned long long)lbu, (unsigned long long)lh, (unsigned long long)lhu,
           (unsigned long long)lw, (unsigned long long)lwu, (unsigned long long)ld);

    /* Misaligned loads/stores: Linux user space either handles them in
     * hardware or emulates them; either way the value is as if aligned. */
    unsigned char buf[24] = {0};
    for (int i = 0; i < 24; i++) buf[i] = (unsigned char)(i * 17 + 3);
    u64 ml = 0, mw, mh;
    __asm__ volatile("lw %0, 3(%2)\n\tlh %1, 5(%2)" : "=&r"(mw), "=&r"(mh) : "r"(buf) : "memory");
#if __riscv_xlen == 64
    __asm__ volatile("ld %0, 1(%1)" : "=&r"(ml) : "r"(buf) : "memory");
    __asm__ volatile("sd %0, 9(%1)" : : "r"(0x1122334455667788ull), "r"(buf) : "memory");
#else
    __asm__ volatile("sw %0, 9(%1)" : : "r"(0x55667788ul), "r"(buf) : "memory");
#endif
    printf("misaligned: ld=%016llx lw=%016llx lh=%016llx after sd:", (unsigned long long)ml, (unsigned long long)mw, (unsigned long long)mh);
    for (int i = 8; i < 18; i++) printf(" %02x", buf[i]);
    printf("\n");

    /* Branches on signed vs unsigned comparison. */
    for (unsigned i = 0; i < 6; i++) {
        u64 a = vals[i], b = vals[(i + 3) % NV];
        int r = 0;
        __asm__ volatile(
            "li %0, 0\n\t"
            "blt %1, %2, 1f\n\tori %0, %0, 1\n1:\n\t"
            "bltu %1, %2, 2f\n\tori %0, %0, 2\n2:\n\t"
            "bge %1, %2, 3f\n\tori %0, %0, 4\n3:\n\t"
            "bgeu %1, %2, 4f\n\tori %0, %0, 8\n4:\n\t"
            "beq %1, %2, 5f\n\tori %0, %0, 16\n5:\n\t"
            "bne %1, %2, 6f\n\tori %0, %0, 32\n6:"
            : "=&r"(r) : "r"(a), "r"(b));
        printf("branches %016llx vs %016llx: not-taken mask %02x\n", (unsigned long long)a, (unsigned long long)b, r);
    }
    return 0;
}
