/* Zba, Zbb, Zbc and Zbs edge cases via inline asm, on RV32 and RV64: bit
 * counts of 0 and all-ones, rotate and bit-index amounts at and beyond XLEN
 * (only the low log2(XLEN) bits count), sign/zero extension of the .uw, .w
 * and byte/halfword forms, and carry-less products of full-width operands.
 * Registers are `unsigned long` (XLEN bits); 64-bit constants keep their low
 * half on RV32. Every result is printed in hex for diffing. */
#include <stdio.h>

typedef unsigned long reg;

/* Each instruction may be a Zbs one, which the RV32 build's -march leaves out (GCC 12
 * cannot compile C for RV32 with Zbs), so every asm turns it on for itself. */
#define ZB(insn) ".option push\n.option arch, +zbs\n" insn "\n.option pop"

static const reg vals[] = {
    0, 1, (reg)-1, 2, (reg)0x8000000000000000ull, (reg)0x7fffffffffffffffull,
    (reg)0xffffffff80000000ull, 0x80000000ul, 0x7fffffff, 0xfffffffful,
    (reg)0x123456789abcdef0ull, (reg)0xfedcba9876543210ull, 0x00ff00ff, (reg)0x0100000000000080ull,
};
#define NV (sizeof vals / sizeof vals[0])

/* Bit indices and rotate amounts, including ones >= 32 and >= 64. */
static const reg amounts[] = {0, 1, 7, 31, 32, 33, 63, 64, 65, (reg)-1};
#define NA (sizeof amounts / sizeof amounts[0])

#define RR(name, insn)                                                            \
    static reg op_##name(reg a, reg b) {                                          \
        reg r;                                                                    \
        __asm__ volatile(ZB(insn " %0, %1, %2") : "=r"(r) : "r"(a), "r"(b));      \
        return r;                                                                 \
    }
#define R1(name, insn)                                                            \
    static reg op_##name(reg a, reg b) {                                          \
        reg r;                                                                    \
        (void)b;                                                                  \
        __asm__ volatile(ZB(insn " %0, %1") : "=r"(r) : "r"(a));                  \
        return r;                                                                 \
    }

/* Zba */
RR(sh1add, "sh1add") RR(sh2add, "sh2add") RR(sh3add, "sh3add")
/* Zbb */
RR(andn, "andn") RR(orn, "orn") RR(xnor, "xnor")
RR(max, "max") RR(maxu, "maxu") RR(min, "min") RR(minu, "minu")
RR(rol, "rol") RR(ror, "ror")
R1(clz, "clz") R1(ctz, "ctz") R1(cpop, "cpop")
R1(sext_b, "sext.b") R1(sext_h, "sext.h") R1(zext_h, "zext.h")
R1(orc_b, "orc.b") R1(rev8, "rev8")
/* Zbc */
RR(clmul, "clmul") RR(clmulh, "clmulh") RR(clmulr, "clmulr")
/* Zbs */
RR(bclr, "bclr") RR(bext, "bext") RR(binv, "binv") RR(bset, "bset")
#if __riscv_xlen == 64
RR(add_uw, "add.uw") RR(sh1add_uw, "sh1add.uw") RR(sh2add_uw, "sh2add.uw") RR(sh3add_uw, "sh3add.uw")
RR(rolw, "rolw") RR(rorw, "rorw")
R1(clzw, "clzw") R1(ctzw, "ctzw") R1(cpopw, "cpopw")
#endif

#if __riscv_xlen == 64
#define op_ctzw_or_null op_ctzw
#else
#define op_ctzw_or_null NULL
#endif

/* How the second operand varies: over the values, over amounts, or not at all. */
enum second { VALUES, AMOUNTS, NONE };

struct op { const char *name; reg (*f)(reg, reg); enum second second; };
static const struct op ops[] = {
    {"sh1add", op_sh1add, VALUES}, {"sh2add", op_sh2add, VALUES}, {"sh3add", op_sh3add, VALUES},
    {"andn", op_andn, VALUES}, {"orn", op_orn, VALUES}, {"xnor", op_xnor, VALUES},
    {"max", op_max, VALUES}, {"maxu", op_maxu, VALUES}, {"min", op_min, VALUES}, {"minu", op_minu, VALUES},
    {"rol", op_rol, AMOUNTS}, {"ror", op_ror, AMOUNTS},
    {"clz", op_clz, NONE}, {"ctz", op_ctz, NONE}, {"cpop", op_cpop, NONE},
    {"sext.b", op_sext_b, NONE}, {"sext.h", op_sext_h, NONE}, {"zext.h", op_zext_h, NONE},
    {"orc.b", op_orc_b, NONE}, {"rev8", op_rev8, NONE},
    {"clmul", op_clmul, VALUES}, {"clmulh", op_clmulh, VALUES}, {"clmulr", op_clmulr, VALUES},
    {"bclr", op_bclr, AMOUNTS}, {"bext", op_bext, AMOUNTS}, {"binv", op_binv, AMOUNTS}, {"bset", op_bset, AMOUNTS},
#if __riscv_xlen == 64
    {"add.uw", op_add_uw, VALUES}, {"sh1add.uw", op_sh1add_uw, VALUES}, {"sh2add.uw", op_sh2add_uw, VALUES},
    {"sh3add.uw", op_sh3add_uw, VALUES}, {"rolw", op_rolw, AMOUNTS}, {"rorw", op_rorw, AMOUNTS},
    {"clzw", op_clzw, NONE}, {"ctzw", op_ctzw, NONE}, {"cpopw", op_cpopw, NONE},
#endif
};

/* Immediate forms: each (op, imm) pair is its own instruction. */
#define RI(name, imm)                                                                  \
    do {                                                                               \
        printf("%-9s imm=%-3s:", #name, #imm);                                         \
        for (unsigned i = 0; i < NV; i++) {                                            \
            reg r;                                                                     \
            __asm__ volatile(ZB(#name " %0, %1, " #imm) : "=r"(r) : "r"(vals[i]));    \
            printf(" %016llx", (unsigned long long)r);                                \
        }                                                                              \
        printf("\n");                                                                  \
    } while (0)

int main(void) {
    for (unsigned o = 0; o < sizeof ops / sizeof ops[0]; o++) {
        for (unsigned i = 0; i < NV; i++) {
            printf("%-9s %016llx:", ops[o].name, (unsigned long long)vals[i]);
            unsigned n = ops[o].second == VALUES ? NV : ops[o].second == AMOUNTS ? NA : 1;
            for (unsigned j = 0; j < n; j++) {
                reg b = ops[o].second == VALUES ? vals[j] : ops[o].second == AMOUNTS ? amounts[j] : 0;
                /* qemu 7.2 gets ctzw wrong when only the high word is set: beyond_qemu.c. */
                if (ops[o].f == op_ctzw_or_null && (unsigned)vals[i] == 0 && vals[i] != 0) {
                    printf(" (see beyond_qemu.c)");
                    continue;
                }
                printf(" %016llx", (unsigned long long)ops[o].f(vals[i], b));
            }
            printf("\n");
        }
    }
    RI(rori, 0); RI(rori, 1); RI(rori, 31);
    RI(bclri, 0); RI(bclri, 1); RI(bclri, 31);
    RI(bexti, 0); RI(bexti, 1); RI(bexti, 31);
    RI(binvi, 0); RI(binvi, 1); RI(binvi, 31);
    RI(bseti, 0); RI(bseti, 1); RI(bseti, 31);
#if __riscv_xlen == 64
    RI(rori, 32); RI(rori, 63);
    RI(bclri, 32); RI(bclri, 63);
    RI(bexti, 32); RI(bexti, 63);
    RI(binvi, 32); RI(binvi, 63);
    RI(bseti, 32); RI(bseti, 63);
    RI(roriw, 0); RI(roriw, 1); RI(roriw, 31);
    RI(slli.uw, 0); RI(slli.uw, 1); RI(slli.uw, 31); RI(slli.uw, 32); RI(slli.uw, 63);
#endif
    return 0;
}
