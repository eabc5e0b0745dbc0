/* What Debian bookworm's qemu (7.2) cannot be the reference for, checked
 * against definitions computed in C instead; the exit status is the number of
 * mismatches.
 * - Zicond, which qemu and the assembler predate (so .insn spells it):
 *   czero.eqz rd, rs1, rs2 is 0 if rs2 == 0, else rs1; czero.nez is 0 if
 *   rs2 != 0, else rs1 (the whole register is tested, on either width).
 * - RV64 ctzw of a value whose low word is 0: 32 by the Zbb spec (qemu 7.2
 *   counts into the high word). bitmanip.c leaves such inputs out. */
#include <stdio.h>

typedef unsigned long reg;

static reg czero_eqz(reg value, reg condition) {
    reg r;
    __asm__ volatile(".insn r 0x33, 5, 7, %0, %1, %2" : "=r"(r) : "r"(value), "r"(condition));
    return r;
}

static reg czero_nez(reg value, reg condition) {
    reg r;
    __asm__ volatile(".insn r 0x33, 7, 7, %0, %1, %2" : "=r"(r) : "r"(value), "r"(condition));
    return r;
}

int main(void) {
    static const reg values[] = {0, 1, (reg)-1, 0x80000000ul, (reg)0x8000000000000000ull,
                                 (reg)0x123456789abcdef0ull};
    /* Conditions with only high bits set, or only bit 0, must count as nonzero. */
    static const reg conditions[] = {0, 1, (reg)-1, 0x80000000ul, (reg)0x100000000ull,
                                     (reg)0x8000000000000000ull, 2};
    int mismatches = 0;
    for (unsigned i = 0; i < sizeof values / sizeof values[0]; i++) {
        for (unsigned j = 0; j < sizeof conditions / sizeof conditions[0]; j++) {
            reg value = values[i], condition = conditions[j];
            reg eqz = czero_eqz(value, condition), nez = czero_nez(value, condition);
            reg want_eqz = condition == 0 ? 0 : value, want_nez = condition != 0 ? 0 : value;
            printf("czero %016llx cond %016llx: eqz %016llx nez %016llx\n", (unsigned long long)value,
                   (unsigned long long)condition, (unsigned long long)eqz, (unsigned long long)nez);
            mismatches += (eqz != want_eqz) + (nez != want_nez);
        }
    }
    /* rd = rs1 and rd = rs2 aliasing. */
    reg x = 5, y = 0;
    __asm__ volatile(".insn r 0x33, 5, 7, %0, %0, %1" : "+r"(x) : "r"(y));
    mismatches += x != 0;
    x = 7;
    y = 3;
    __asm__ volatile(".insn r 0x33, 7, 7, %0, %1, %0" : "+r"(y) : "r"(x));
    mismatches += y != 0;
#if __riscv_xlen == 64
    static const reg zero_low_words[] = {0x8000000000000000ull, 0x100000000ull, 0};
    for (unsigned i = 0; i < sizeof zero_low_words / sizeof zero_low_words[0]; i++) {
        reg count;
        __asm__ volatile("ctzw %0, %1" : "=r"(count) : "r"(zero_low_words[i]));
        printf("ctzw %016llx: %llu\n", (unsigned long long)zero_low_words[i], (unsigned long long)count);
        mismatches += count != 32;
    }
#endif
    printf("mismatches: %d\n", mismatches);
    return mismatches;
}
