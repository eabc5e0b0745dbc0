/* Jumps into the middle of a 32-bit instruction, whose upper half is itself a
 * valid compressed instruction: hardware executes from wherever pc lands, so
 * an emulator that decodes ahead of time must cope with entry points it did
 * not see, by an indirect jump and by direct ones. Also counts on straight-line
 * code after such a jump continuing at the right place. */
#include <stdio.h>

static long jump_into_lui(long start) {
    register long a0 __asm__("a0") = start;
    __asm__ volatile(
        "la t1, 1f\n"
        "addi t1, t1, 2\n"
        "jr t1\n"
        /* lui t0, 0x45050; bytes 2..3 are 0x4505 = c.li a0, 1 */
        "1: .4byte 0x450502b7\n"
        "addi a0, a0, 40\n"
        : "+r"(a0)
        :
        : "t0", "t1");
    return a0;
}

/* The same, by a direct jump (`jump`: "beq zero, zero," or "jal zero,"), whose target
 * the loader resolves ahead of time. */
#define DIRECT_JUMP_INTO_LUI(name, jump)                                                   \
    static long name(long start) {                                                         \
        register long a0 __asm__("a0") = start;                                            \
        __asm__ volatile(jump " 1f + 2\n"                                                  \
                         "1: .4byte 0x450502b7\n"                                          \
                         "addi a0, a0, 40\n"                                               \
                         : "+r"(a0)                                                        \
                         :                                                                 \
                         : "t0");                                                          \
        return a0;                                                                         \
    }
DIRECT_JUMP_INTO_LUI(branch_into_lui, "beq zero, zero,")
DIRECT_JUMP_INTO_LUI(jal_into_lui, "jal zero,")

static long straight_through_lui(long start) {
    register long a0 __asm__("a0") = start;
    register long t0 __asm__("t0");
    __asm__ volatile(
        ".4byte 0x450502b7\n"
        "addi a0, a0, 40\n"
        : "+r"(a0), "=r"(t0));
    return a0 + (t0 >> 12);
}

int main(void) {
    printf("into the middle: %ld\n", jump_into_lui(7));
    printf("branch into the middle: %ld\n", branch_into_lui(7));
    printf("jal into the middle: %ld\n", jal_into_lui(7));
    printf("straight through: %#lx\n", straight_through_lui(7));
    for (int i = 0; i < 3; i++) printf("again %d: %ld\n", i, jump_into_lui(i));
    return 0;
}
