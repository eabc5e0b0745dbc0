/* RVC: explicit c.* mnemonics (the assembler emits exactly that 16-bit
 * encoding or fails), so every compressed decoding path is exercised,
 * including sign-extended immediates and the RV64-only or RV32-only forms
 * that share encodings (c.addiw/c.jal, c.ld/c.flw, c.sd/c.fsw, ...). */
#include <stdint.h>
#include <stdio.h>

/* Registers: XLEN bits on either width (64-bit constants keep their low half). */
typedef unsigned long u64;

#define P(name, v) printf("%-28s %016llx\n", name, (unsigned long long)(v))

/* Runs `body` with a0 = in (and a1 = in2), returns a0. a0-a5 are in the
 * compressed register set x8-x15. */
#define CASE(name, body, in, in2)                                                  \
    do {                                                                           \
        register u64 a0 __asm__("a0") = (u64)(in);                                 \
        register u64 a1 __asm__("a1") = (u64)(in2);                                \
        __asm__ volatile(body : "+r"(a0), "+r"(a1) : : "a2", "a3", "memory");      \
        P(name, a0);                                                               \
    } while (0)

int main(void) {
    CASE("c.li a0, -32", "c.li a0, -32", 0, 0);
    CASE("c.li a0, 31", "c.li a0, 31", 0, 0);
    CASE("c.lui a0, 1", "c.lui a0, 1", 0, 0);
    CASE("c.lui a0, 31", "c.lui a0, 31", 0, 0);
    CASE("c.lui a0, 0xfffe0 (-32)", "c.lui a0, 0xfffe0", 0, 0);
    CASE("c.lui a0, 0xfffff (-1)", "c.lui a0, 0xfffff", 0, 0);
    CASE("c.addi a0, -32", "c.addi a0, -32", 5, 0);
    CASE("c.addi a0, 31", "c.addi a0, 31", 0x7fffffffffffffffull, 0);
#if __riscv_xlen == 64
    CASE("c.addiw a0, -1", "c.addiw a0, -1", 0x80000000ull, 0);
    CASE("c.addiw a0, 1", "c.addiw a0, 1", 0x7fffffff, 0);
    CASE("c.addiw a0, 0 (sext.w)", "c.addiw a0, 0", 0x12345678fedcba98ull, 0);
    CASE("c.slli a0, 63", "c.slli a0, 63", 3, 0);
    CASE("c.slli a0, 32", "c.slli a0, 32", 0x89abcdef, 0);
    CASE("c.srli a0, 63", "c.srli a0, 63", 0x8000000000000000ull, 0);
    CASE("c.srai a0, 63", "c.srai a0, 63", 0x8000000000000000ull, 0);
    CASE("c.srai a0, 33", "c.srai a0, 33", 0x8000000000000000ull, 0);
    CASE("c.srai a0, 1", "c.srai a0, 1", 0x4000000000000000ull, 0);
#endif
    CASE("c.slli a0, 31", "c.slli a0, 31", 3, 0);
    CASE("c.srli a0, 31", "c.srli a0, 31", 0x80000000ull, 0);
    CASE("c.srli a0, 1", "c.srli a0, 1", (u64)-2, 0);
    CASE("c.srai a0, 31", "c.srai a0, 31", 0x80000000ull, 0);
    CASE("c.srai a0, 1 (negative)", "c.srai a0, 1", (u64)-8, 0);
    CASE("c.andi a0, -32", "c.andi a0, -32", (u64)-1, 0);
    CASE("c.andi a0, 31", "c.andi a0, 31", 0xabcdef, 0);
    CASE("c.andi a0, -1", "c.andi a0, -1", 0x123456789abcdef0ull, 0);
    CASE("c.sub a0, a1", "c.sub a0, a1", 0, 1);
    CASE("c.xor a0, a1", "c.xor a0, a1", 0xff00ff00ff00ff00ull, 0x0ff00ff00ff00ff0ull);
    CASE("c.or a0, a1", "c.or a0, a1", 0xff00ff00ff00ff00ull, 0x0ff00ff00ff00ff0ull);
    CASE("c.and a0, a1", "c.and a0, a1", 0xff00ff00ff00ff00ull, 0x0ff00ff00ff00ff0ull);
#if __riscv_xlen == 64
    CASE("c.subw a0, a1", "c.subw a0, a1", 0x80000000ull, 1);
    CASE("c.subw a0, a1 (wrap)", "c.subw a0, a1", 0, 0x80000000ull);
    CASE("c.addw a0, a1", "c.addw a0, a1", 0x7fffffff, 1);
    CASE("c.addw a0, a1 (high junk)", "c.addw a0, a1", 0xffffffff00000001ull, 0x1234567800000002ull);
#endif
    CASE("c.mv a0, a1", "c.mv a0, a1", 1, 0xdeadbeefcafef00dull);
    CASE("c.add a0, a1", "c.add a0, a1", 0x7fffffffffffffffull, 1);
    CASE("c.mv a2 / c.add via a2", "c.mv a2, a1\n\tc.add a2, a2\n\tc.mv a0, a2", 0, 21);
    CASE("c.nop", "c.nop", 77, 0);

    /* Stack-pointer forms: c.addi16sp, c.addi4spn, c.sdsp/c.ldsp, c.swsp/c.lwsp. */
    CASE("c.addi16sp -64 / +64", "mv a2, sp\n\tc.addi16sp sp, -64\n\tsub a0, a2, sp\n\tc.addi16sp sp, 64\n\tsub a2, a2, sp\n\tc.add a0, a2", 0, 0);
    CASE("c.addi16sp -512 / +496 +16", "mv a2, sp\n\tc.addi16sp sp, -512\n\tsub a0, a2, sp\n\tc.addi16sp sp, 496\n\tc.addi16sp sp, 16\n\tsub a2, a2, sp\n\tc.add a0, a2", 0, 0);
    CASE("c.addi4spn a0, sp, 1020", "c.addi4spn a0, sp, 1020\n\tsub a0, a0, sp", 0, 0);
    CASE("c.addi4spn a1, sp, 4", "c.addi4spn a1, sp, 4\n\tsub a0, a1, sp", 0, 0);
#if __riscv_xlen == 64
    CASE("c.sdsp/c.ldsp", "c.addi16sp sp, -512\n\tc.sdsp a1, 504(sp)\n\tc.sdsp a0, 0(sp)\n\tc.ldsp a0, 504(sp)\n\tc.ldsp a2, 0(sp)\n\tc.add a0, a2\n\tc.addi16sp sp, 496\n\tc.addi16sp sp, 16", 1, 0x1000000000000000ull);
#endif
    CASE("c.swsp/c.lwsp (sign ext)", "c.addi16sp sp, -256\n\tc.swsp a1, 252(sp)\n\tc.lwsp a0, 252(sp)\n\tc.addi16sp sp, 256", 0, 0x1234567887654321ull);
    /* c.ld/c.sd/c.lw/c.sw with the 3-bit register fields and scaled offsets. */
    {
        static uint64_t buf[32];
#if __riscv_xlen == 64
        CASE("c.sd/c.ld offset 248", "c.sd a0, 248(a1)\n\tc.li a0, 0\n\tc.ld a0, 248(a1)", 0xfedcba9876543210ull, (u64)buf);
#endif
        CASE("c.sw/c.lw offset 124", "c.sw a0, 124(a1)\n\tc.li a0, 0\n\tc.lw a0, 124(a1)", 0x00000000f0000001ull, (u64)buf);
        CASE("c.lw offset 0", "c.sw a0, 0(a1)\n\tc.lw a0, 0(a1)", 0x7fffffff, (u64)buf);
        printf("%-28s %016llx\n", "buf[15] after c.sw at 124", (unsigned long long)buf[15]);
    }
    /* FP compressed loads/stores: c.fsd/c.fld (fa0-fa5 in x8-x15 set) and c.fsdsp/c.fldsp. */
#if __riscv_xlen == 64
    {
        static u64 dbuf[32];
        register u64 a0 __asm__("a0") = 0x400921fb54442d18ull; /* pi */
        register u64 a1 __asm__("a1") = (u64)dbuf;
        u64 out1, out2;
        __asm__ volatile("fmv.d.x fa2, a0\n\t"
                         "c.fsd fa2, 248(a1)\n\t"
                         "c.fld fa3, 248(a1)\n\t"
                         "fmv.x.d %0, fa3\n\t"
                         "c.addi16sp sp, -512\n\t"
                         "c.fsdsp fa3, 504(sp)\n\t"
                         "c.fldsp ft5, 504(sp)\n\t"
                         "c.addi16sp sp, 496\n\t"
                         "c.addi16sp sp, 16\n\t"
                         "fadd.d ft5, ft5, ft5\n\t"
                         "fmv.x.d %1, ft5"
                         : "=&r"(out1), "=&r"(out2) : "r"(a0), "r"(a1) : "fa2", "fa3", "ft5", "memory");
        P("c.fsd/c.fld", out1);
        P("c.fsdsp/c.fldsp then 2x", out2);
        P("dbuf[31] raw", dbuf[31]);
    }
#else
    /* RV32 only: c.flw/c.fsw and c.flwsp/c.fswsp take the encodings of c.ld/c.sd and
     * c.ldsp/c.sdsp, c.jal that of c.addiw; and c.fld/c.fsd move doubles through memory. */
    {
        static uint32_t fbuf[32];
        static uint64_t dbuf[32];
        static const uint64_t pi = 0x400921fb54442d18ull;
        register u64 a0 __asm__("a0") = 0x40490fdb; /* pi as a float */
        register u64 a1 __asm__("a1") = (u64)fbuf;
        register u64 a2 __asm__("a2") = (u64)dbuf;
        register u64 a3 __asm__("a3") = (u64)&pi;
        u64 out1, out2;
        __asm__ volatile("fmv.w.x fa2, a0\n\t"
                         "c.fsw fa2, 124(a1)\n\t"
                         "c.flw fa3, 124(a1)\n\t"
                         "fmv.x.w %0, fa3\n\t"
                         "c.addi16sp sp, -256\n\t"
                         "c.fswsp fa3, 252(sp)\n\t"
                         "c.flwsp ft5, 252(sp)\n\t"
                         "c.addi16sp sp, 256\n\t"
                         "fadd.s ft5, ft5, ft5\n\t"
                         "fmv.x.w %1, ft5\n\t"
                         "c.fld fa4, 0(a3)\n\t"
                         "fadd.d fa4, fa4, fa4\n\t"
                         "c.fsd fa4, 248(a2)\n\t"
                         "c.addi16sp sp, -512\n\t"
                         "c.fsdsp fa4, 504(sp)\n\t"
                         "c.fldsp fa5, 504(sp)\n\t"
                         "c.addi16sp sp, 496\n\t"
                         "c.addi16sp sp, 16\n\t"
                         "c.fsd fa5, 240(a2)"
                         : "=&r"(out1), "=&r"(out2) : "r"(a0), "r"(a1), "r"(a2), "r"(a3)
                         : "fa2", "fa3", "fa4", "fa5", "ft5", "memory");
        P("c.fsw/c.flw", out1);
        P("c.fswsp/c.flwsp then 2x", out2);
        printf("%-28s %016llx %016llx\n", "c.fld/c.fsd/c.fsdsp/c.fldsp", (unsigned long long)dbuf[31],
               (unsigned long long)dbuf[30]);
    }
    {
        register u64 a0 __asm__("a0") = 0;
        __asm__ volatile("c.jal 1f\n\t"
                         "c.addi a0, 8\n\t"
                         "c.j 2f\n"
                         "1:\n\t"
                         "c.addi a0, 2\n\t"
                         "c.jr ra\n"
                         "2:"
                         : "+r"(a0) : : "ra");
        P("c.jal path", a0);
    }
#endif

    /* Control flow: c.j, c.beqz, c.bnez (taken and not), c.jr, c.jalr. */
    for (u64 v = 0; v < 3; v++) {
        register u64 a0 __asm__("a0") = v;
        register u64 a1 __asm__("a1") = 0;
        __asm__ volatile("c.beqz a0, 1f\n\t"
                         "c.addi a1, 1\n"
                         "1:\n\t"
                         "c.bnez a0, 2f\n\t"
                         "c.addi a1, 2\n"
                         "2:\n\t"
                         "c.j 3f\n\t"
                         "c.addi a1, 16\n" /* skipped */
                         "3:\n\t"
                         "c.addi a1, 4"
                         : "+r"(a0), "+r"(a1));
        printf("branches a0=%llu -> %llu\n", (unsigned long long)v, (unsigned long long)a1);
    }
    {
        register u64 a0 __asm__("a0") = 0;
        __asm__ volatile("lla a2, 1f\n\t"
                         "c.jr a2\n\t"
                         "c.addi a0, 1\n" /* skipped */
                         "1:\n\t"
                         "lla a3, 2f\n\t"
                         "c.jalr a3\n\t"  /* ra = address of the next instruction */
                         "c.addi a0, 8\n\t"
                         "c.j 3f\n"
                         "2:\n\t"
                         "c.addi a0, 2\n\t"
                         "c.jr ra\n"
                         "3:"
                         : "+r"(a0) : : "a2", "a3", "ra");
        P("c.jr/c.jalr path", a0);
    }
    /* c.beqz/c.bnez with a long backward offset (the branch range is +-256 bytes). */
    {
        register u64 a0 __asm__("a0") = 5;
        register u64 a1 __asm__("a1") = 0;
        __asm__ volatile("1:\n\t"
                         ".rept 100\n\tc.addi a1, 1\n\t.endr\n\t"
                         "c.addi a0, -1\n\t"
                         "c.bnez a0, 1b"
                         : "+r"(a0), "+r"(a1));
        P("c.bnez loop (-202 bytes)", a1);
    }

    /* A 32-bit instruction straddling a page boundary: 2047 c.addi put it
     * at page offset 4094. */
    {
        register u64 a0 __asm__("a0") = 0;
        __asm__ volatile("j 2f\n\t"
                         ".p2align 12\n"
                         "2:\n\t"
                         ".rept 2047\n\tc.addi a0, 1\n\t.endr\n\t"
                         ".option push\n\t.option norvc\n\t"
                         "addi a0, a0, 1000\n\t"
                         ".option pop"
                         : "+r"(a0));
        P("page-straddling addi", a0);
    }
    return 0;
}
