/* RV32A/RV64A: LR/SC reservation behaviour and every AMO in .w and (RV64)
 * .d forms. Prints old value (rd) and new memory contents in hex; .w results
 * must be sign-extended to XLEN, and only the low 32 bits of rs2 may matter.
 * Memory cells are 64-bit on both widths; registers are `unsigned long`. */
#include <stdint.h>
#include <stdio.h>

typedef uint64_t u64;
typedef unsigned long reg;
#if __riscv_xlen == 64
#define LR_X "lr.d"
#define SC_X "sc.d"
#else
#define LR_X "lr.w"
#define SC_X "sc.w"
#endif

static volatile u64 cell[4] __attribute__((aligned(64)));

#define AMO(fn, insn)                                                                   \
    static void t_##fn(u64 mem0, reg src) {                                             \
        reg old;                                                                        \
        cell[0] = mem0;                                                                 \
        __asm__ volatile(#insn " %0, %2, (%1)" : "=&r"(old) : "r"(&cell[0]), "r"(src) : "memory"); \
        printf("%-15s mem=%016llx src=%016llx -> rd=%016llx mem=%016llx\n", #insn,      \
               (unsigned long long)mem0, (unsigned long long)src, (unsigned long long)old, \
               (unsigned long long)cell[0]);                                             \
    }
AMO(amoswap_w, amoswap.w) AMO(amoadd_w, amoadd.w) AMO(amoand_w, amoand.w) AMO(amoor_w, amoor.w) AMO(amoxor_w, amoxor.w)
AMO(amomax_w, amomax.w) AMO(amomin_w, amomin.w) AMO(amomaxu_w, amomaxu.w) AMO(amominu_w, amominu.w)
AMO(amoadd_w_aq, amoadd.w.aq) AMO(amoswap_w_aqrl, amoswap.w.aqrl)
#if __riscv_xlen == 64
AMO(amoswap_d, amoswap.d) AMO(amoadd_d, amoadd.d) AMO(amoand_d, amoand.d) AMO(amoor_d, amoor.d) AMO(amoxor_d, amoxor.d)
AMO(amomax_d, amomax.d) AMO(amomin_d, amomin.d) AMO(amomaxu_d, amomaxu.d) AMO(amominu_d, amominu.d)
AMO(amoor_d_rl, amoor.d.rl) AMO(amomaxu_d_aqrl, amomaxu.d.aqrl)
#endif

typedef void (*amo_fn)(u64, reg);
static const struct { amo_fn f; int w; } amos[] = {
    {t_amoswap_w, 1}, {t_amoadd_w, 1}, {t_amoand_w, 1}, {t_amoor_w, 1}, {t_amoxor_w, 1},
    {t_amomax_w, 1}, {t_amomin_w, 1}, {t_amomaxu_w, 1}, {t_amominu_w, 1},
#if __riscv_xlen == 64
    {t_amoswap_d, 0}, {t_amoadd_d, 0}, {t_amoand_d, 0}, {t_amoor_d, 0}, {t_amoxor_d, 0},
    {t_amomax_d, 0}, {t_amomin_d, 0}, {t_amomaxu_d, 0}, {t_amominu_d, 0},
#endif
};

static reg lr_w(volatile u64 *p) { reg r; __asm__ volatile("lr.w %0, (%1)" : "=r"(r) : "r"(p) : "memory"); return r; }
static reg sc_w(volatile u64 *p, reg v) { reg r; __asm__ volatile("sc.w %0, %2, (%1)" : "=&r"(r) : "r"(p), "r"(v) : "memory"); return r; }
/* The XLEN-wide forms: .d on RV64, .w on RV32. */
static reg lr_x(volatile u64 *p) { reg r; __asm__ volatile(LR_X " %0, (%1)" : "=r"(r) : "r"(p) : "memory"); return r; }
static reg sc_x(volatile u64 *p, reg v) { reg r; __asm__ volatile(SC_X " %0, %2, (%1)" : "=&r"(r) : "r"(p), "r"(v) : "memory"); return r; }

int main(void) {
    /* .w pairs: operands carry junk in the upper half that must be ignored. */
    static const u64 wmem[] = {0, 1, 0xffffffff, 0x7fffffff, 0x80000000, 0x12345678};
    static const u64 wsrc[] = {0, 0xdeadbeef00000001ull, 0xffffffffffffffffull, 0x80000000, 0x000000017fffffffull};
    static const u64 dval[] = {0, 1, (u64)-1, 0x7fffffffffffffffull, 0x8000000000000000ull, 0xffffffff, 0x123456789abcdef0ull};
    for (unsigned a = 0; a < sizeof amos / sizeof amos[0]; a++) {
        if (amos[a].w) {
            for (unsigned i = 0; i < sizeof wmem / sizeof wmem[0]; i++)
                for (unsigned j = 0; j < sizeof wsrc / sizeof wsrc[0]; j++)
                    /* Upper half of the cell is set to a marker: a .w AMO must not touch it. */
                    amos[a].f(wmem[i] | 0xa5a5a5a500000000ull, (reg)wsrc[j]);
        } else {
            for (unsigned i = 0; i < sizeof dval / sizeof dval[0]; i++)
                for (unsigned j = 0; j < sizeof dval / sizeof dval[0]; j += 2)
                    amos[a].f(dval[i], (reg)dval[j]);
        }
    }
    t_amoadd_w_aq(0xffffffff, 1);
    t_amoswap_w_aqrl(0x80000000, 5);
#if __riscv_xlen == 64
    t_amoor_d_rl(0xf0, 0x0f);
    t_amomaxu_d_aqrl(1, (u64)-1);
#endif

    /* LR/SC. */
    cell[1] = 0x1111111180000000ull;
    reg v = lr_w(&cell[1]);
    reg r = sc_w(&cell[1], 0x42);
    printf("lr.w value=%016llx sc.w result=%llu mem=%016llx\n", (unsigned long long)v, (unsigned long long)r, (unsigned long long)cell[1]);
    r = sc_w(&cell[1], 0x43); /* reservation was consumed by the previous sc */
    printf("second sc.w without lr: result=%s mem=%016llx\n", r ? "fail" : "success", (unsigned long long)cell[1]);

    cell[2] = 0x8000000000000001ull;
    v = lr_x(&cell[2]);
    r = sc_x(&cell[2], v + 1);
    printf(LR_X " value=%016llx " SC_X " result=%llu mem=%016llx\n", (unsigned long long)v, (unsigned long long)r, (unsigned long long)cell[2]);
    r = sc_x(&cell[2], 7);
    printf("second " SC_X " without lr: result=%s mem=%016llx\n", r ? "fail" : "success", (unsigned long long)cell[2]);

    /* SC to a different address than the LR. */
    cell[1] = 5; cell[2] = 6;
    (void)lr_x(&cell[1]);
    r = sc_x(&cell[2], 99);
    printf(SC_X " to other address: result=%s cell1=%llu cell2=%llu\n", r ? "fail" : "success", (unsigned long long)cell[1], (unsigned long long)cell[2]);
    (void)sc_x(&cell[1], 5); /* drop any reservation left over */

    /* Intervening plain store by the same hart: the spec leaves this open;
     * print what happens (qemu compares the reserved value). */
    cell[1] = 10;
    (void)lr_x(&cell[1]);
    cell[1] = 11;
    r = sc_x(&cell[1], 12);
    printf(SC_X " after same-hart store of a different value: result=%s mem=%llu\n", r ? "fail" : "success", (unsigned long long)cell[1]);
    (void)sc_x(&cell[1], 0);
    cell[1] = 20;
    (void)lr_x(&cell[1]);
    cell[1] = 20;
    r = sc_x(&cell[1], 21);
    printf(SC_X " after same-hart store of the same value: result=%s mem=%llu\n", r ? "fail" : "success", (unsigned long long)cell[1]);
    (void)sc_x(&cell[1], 0);

    /* Typical CAS loop built from LR/SC. */
    cell[3] = 0;
    unsigned fails = 0;
    for (int i = 0; i < 1000; i++) {
        reg tmp, res;
        __asm__ volatile("1: " LR_X ".aq %0, (%2)\n\t"
                         "addi %0, %0, 3\n\t"
                         SC_X ".rl %1, %0, (%2)\n\t"
                         "bnez %1, 1b"
                         : "=&r"(tmp), "=&r"(res) : "r"(&cell[3]) : "memory");
        fails += (unsigned)res;
    }
    /* Without interference every SC should succeed first time. */
    printf("lr/sc increment loop: %llu, sc failures %u\n", (unsigned long long)cell[3], fails);

    /* Compiler-generated atomics (GCC __atomic builtins). */
    uint32_t w32 = 0xfffffff0u;
    uint32_t prev = __atomic_fetch_add(&w32, 0x20, __ATOMIC_SEQ_CST);
    uint32_t expected = 0x10;
    int ok = __atomic_compare_exchange_n(&w32, &expected, 0x99, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    printf("builtins: prev=%08x cas=%d now=%08x\n", (unsigned)prev, ok, (unsigned)w32);
    return 0;
}
