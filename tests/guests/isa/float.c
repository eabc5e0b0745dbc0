/* RV32FD and RV64FD edge cases via inline asm. Inputs are moved in as raw bits
 * (fmv.w.x / fmv.d.x, fld on RV32) so the compiler never rounds them; each result is
 * printed as raw bits plus the accrued fflags (NV DZ OF UF NX = 10 8 4 2 1),
 * cleared before every operation with fsflags. */
#include <stdint.h>
#include <stdio.h>

typedef uint64_t u64;
typedef uint32_t u32;
struct res { u64 v; u64 fl; };

/* Single-precision operands: zeros, normals, extremes, denormals, infinities,
 * quiet/signalling NaNs and a negative NaN with payload. */
static const u32 sv[] = {
    0x00000000, 0x80000000, 0x3f800000 /* 1 */, 0xbfc00000 /* -1.5 */, 0x3dcccccd /* 0.1 */,
    0x7f7fffff /* FLT_MAX */, 0x00800000 /* min normal */, 0x00000001 /* min denormal */,
    0x7f800000, 0xff800000, 0x7fc00000 /* qNaN */, 0x7f800001 /* sNaN */, 0xffc12345 /* -qNaN payload */,
};
static const u64 dv[] = {
    0x0000000000000000ull, 0x8000000000000000ull, 0x3ff0000000000000ull, 0xbff8000000000000ull,
    0x3fb999999999999aull, 0x7fefffffffffffffull, 0x0010000000000000ull, 0x0000000000000001ull,
    0x7ff0000000000000ull, 0xfff0000000000000ull, 0x7ff8000000000000ull, 0x7ff0000000000001ull,
    0xfff8000000012345ull,
};
#define NSV (sizeof sv / sizeof sv[0])
#define NDV (sizeof dv / sizeof dv[0])

/* Operands and results travel between integer and FP registers as raw bits: singles
 * with fmv.w.x / fmv.x.w (XLEN-wide registers), doubles with fmv.d.x / fmv.x.d on RV64
 * and through memory (fld / fsd) on RV32, which has no 64-bit moves. For each precision
 * P (S or D): IN_P puts asm operand N into FP register F, OUT_P the reverse, OPERAND_P
 * and RESULT_P are the matching constraints, value_P the C type of a result. */
typedef unsigned long reg;
typedef reg value_S;
#define IN_S(f, n) "fmv.w.x " f ", %" #n
#define OUT_S(n, f) "fmv.x.w %" #n ", " f
#define OPERAND_S(x) "r"((reg)(x))
#define RESULT_S(x) "=&r"(x)
#define MASK_S 0xffffffffull
typedef u64 value_D;
#if __riscv_xlen == 64
#define IN_D(f, n) "fmv.d.x " f ", %" #n
#define OUT_D(n, f) "fmv.x.d %" #n ", " f
#define OPERAND_D(x) "r"(x)
#define RESULT_D(x) "=&r"(x)
#else
#define IN_D(f, n) "fld " f ", %" #n
#define OUT_D(n, f) "fsd " f ", %" #n
#define OPERAND_D(x) "m"(x)
#define RESULT_D(x) "=m"(x)
#endif
#define MASK_D 0xffffffffffffffffull

#define BIN(fn, insn, sfx, P)                                                                \
    static struct res fn(u64 a, u64 b) {                                                     \
        value_##P v;                                                                         \
        reg fl;                                                                              \
        __asm__ volatile("fsflags zero\n\t" IN_##P("ft0", 2) "\n\t" IN_##P("ft1", 3) "\n\t"   \
                         insn " ft2, ft0, ft1" sfx "\n\t" OUT_##P(0, "ft2") "\n\tfrflags %1"  \
                         : RESULT_##P(v), "=&r"(fl) : OPERAND_##P(a), OPERAND_##P(b)          \
                         : "ft0", "ft1", "ft2", "memory");                                    \
        return (struct res){(u64)v & MASK_##P, fl};                                          \
    }
#define BIN_S(fn, insn, sfx) BIN(fn, insn, sfx, S)
#define BIN_D(fn, insn, sfx) BIN(fn, insn, sfx, D)
#define CMP(fn, insn, P)                                                                     \
    static struct res fn(u64 a, u64 b) {                                                     \
        reg v, fl;                                                                           \
        __asm__ volatile("fsflags zero\n\t" IN_##P("ft0", 2) "\n\t" IN_##P("ft1", 3) "\n\t"   \
                         insn " %0, ft0, ft1\n\tfrflags %1"                                  \
                         : "=&r"(v), "=&r"(fl) : OPERAND_##P(a), OPERAND_##P(b) : "ft0", "ft1"); \
        return (struct res){v, fl};                                                          \
    }

BIN_S(fadd_s, "fadd.s", "") BIN_S(fsub_s, "fsub.s", "") BIN_S(fmul_s, "fmul.s", "") BIN_S(fdiv_s, "fdiv.s", "")
BIN_S(fmin_s, "fmin.s", "") BIN_S(fmax_s, "fmax.s", "")
BIN_S(fsgnj_s, "fsgnj.s", "") BIN_S(fsgnjn_s, "fsgnjn.s", "") BIN_S(fsgnjx_s, "fsgnjx.s", "")
CMP(feq_s, "feq.s", S) CMP(flt_s, "flt.s", S) CMP(fle_s, "fle.s", S)
BIN_D(fadd_d, "fadd.d", "") BIN_D(fsub_d, "fsub.d", "") BIN_D(fmul_d, "fmul.d", "") BIN_D(fdiv_d, "fdiv.d", "")
BIN_D(fmin_d, "fmin.d", "") BIN_D(fmax_d, "fmax.d", "")
BIN_D(fsgnj_d, "fsgnj.d", "") BIN_D(fsgnjn_d, "fsgnjn.d", "") BIN_D(fsgnjx_d, "fsgnjx.d", "")
CMP(feq_d, "feq.d", D) CMP(flt_d, "flt.d", D) CMP(fle_d, "fle.d", D)

typedef struct res (*binf)(u64, u64);
static const struct { const char *name; binf f; int dbl; } bins[] = {
    {"fadd.s", fadd_s, 0}, {"fsub.s", fsub_s, 0}, {"fmul.s", fmul_s, 0}, {"fdiv.s", fdiv_s, 0},
    {"fmin.s", fmin_s, 0}, {"fmax.s", fmax_s, 0}, {"fsgnj.s", fsgnj_s, 0}, {"fsgnjn.s", fsgnjn_s, 0},
    {"fsgnjx.s", fsgnjx_s, 0}, {"feq.s", feq_s, 0}, {"flt.s", flt_s, 0}, {"fle.s", fle_s, 0},
    {"fadd.d", fadd_d, 1}, {"fsub.d", fsub_d, 1}, {"fmul.d", fmul_d, 1}, {"fdiv.d", fdiv_d, 1},
    {"fmin.d", fmin_d, 1}, {"fmax.d", fmax_d, 1}, {"fsgnj.d", fsgnj_d, 1}, {"fsgnjn.d", fsgnjn_d, 1},
    {"fsgnjx.d", fsgnjx_d, 1}, {"feq.d", feq_d, 1}, {"flt.d", flt_d, 1}, {"fle.d", fle_d, 1},
};

/* Unary ops. FUN: FP source ft0 -> FP result ft1. TOI: FP source ft0 -> integer
 * result %0. FROMI: integer source %2 -> FP result ft1. The instruction text
 * is passed whole so that it can carry a rounding-mode suffix. */
#define FUN(fn, insn, PIN, POUT)                                                             \
    static struct res fn(u64 a) {                                                            \
        value_##POUT v;                                                                      \
        reg fl;                                                                              \
        __asm__ volatile("fsflags zero\n\t" IN_##PIN("ft0", 2) "\n\t" insn "\n\t"            \
                         OUT_##POUT(0, "ft1") "\n\tfrflags %1"                               \
                         : RESULT_##POUT(v), "=&r"(fl) : OPERAND_##PIN(a) : "ft0", "ft1", "memory"); \
        return (struct res){(u64)v & MASK_##POUT, fl};                                       \
    }
#define TOI(fn, insn, PIN)                                                                   \
    static struct res fn(u64 a) {                                                            \
        reg v, fl;                                                                           \
        __asm__ volatile("fsflags zero\n\t" IN_##PIN("ft0", 2) "\n\t" insn "\n\tfrflags %1"  \
                         : "=&r"(v), "=&r"(fl) : OPERAND_##PIN(a) : "ft0");                   \
        return (struct res){v, fl};                                                          \
    }
#define FROMI(fn, insn, POUT)                                                                \
    static struct res fn(u64 a) {                                                            \
        value_##POUT v;                                                                      \
        reg fl;                                                                              \
        __asm__ volatile("fsflags zero\n\t" insn "\n\t" OUT_##POUT(0, "ft1") "\n\tfrflags %1" \
                         : RESULT_##POUT(v), "=&r"(fl) : "r"((reg)a) : "ft1", "memory");      \
        return (struct res){(u64)v & MASK_##POUT, fl};                                       \
    }
FUN(fsqrt_s, "fsqrt.s ft1, ft0", S, S)
FUN(fsqrt_d, "fsqrt.d ft1, ft0", D, D)
FUN(fcvt_d_s, "fcvt.d.s ft1, ft0", S, D)
FUN(fcvt_s_d, "fcvt.s.d ft1, ft0", D, S)
TOI(fclass_s, "fclass.s %0, ft0", S) TOI(fclass_d, "fclass.d %0, ft0", D)

/* Conversions to integer, one function per rounding mode (rm is encoded in the
 * instruction); the 64-bit ones exist on RV64 only. */
#if __riscv_xlen == 64
#define TOI_RM(rm)                                                                           \
    TOI(fcvt_w_s_##rm, "fcvt.w.s %0, ft0, " #rm, S)                                          \
    TOI(fcvt_wu_s_##rm, "fcvt.wu.s %0, ft0, " #rm, S)                                        \
    TOI(fcvt_l_s_##rm, "fcvt.l.s %0, ft0, " #rm, S)                                          \
    TOI(fcvt_lu_s_##rm, "fcvt.lu.s %0, ft0, " #rm, S)                                        \
    TOI(fcvt_w_d_##rm, "fcvt.w.d %0, ft0, " #rm, D)                                          \
    TOI(fcvt_wu_d_##rm, "fcvt.wu.d %0, ft0, " #rm, D)                                        \
    TOI(fcvt_l_d_##rm, "fcvt.l.d %0, ft0, " #rm, D)                                          \
    TOI(fcvt_lu_d_##rm, "fcvt.lu.d %0, ft0, " #rm, D)
#define CVT_FUNCTIONS(rm) {fcvt_w_s_##rm, fcvt_wu_s_##rm, fcvt_l_s_##rm, fcvt_lu_s_##rm, fcvt_w_d_##rm, fcvt_wu_d_##rm, fcvt_l_d_##rm, fcvt_lu_d_##rm}
#define NCVT 8
static const char *cvt_names[NCVT] = {"fcvt.w.s", "fcvt.wu.s", "fcvt.l.s", "fcvt.lu.s", "fcvt.w.d", "fcvt.wu.d", "fcvt.l.d", "fcvt.lu.d"};
#else
#define TOI_RM(rm)                                                                           \
    TOI(fcvt_w_s_##rm, "fcvt.w.s %0, ft0, " #rm, S)                                          \
    TOI(fcvt_wu_s_##rm, "fcvt.wu.s %0, ft0, " #rm, S)                                        \
    TOI(fcvt_w_d_##rm, "fcvt.w.d %0, ft0, " #rm, D)                                          \
    TOI(fcvt_wu_d_##rm, "fcvt.wu.d %0, ft0, " #rm, D)
#define CVT_FUNCTIONS(rm) {fcvt_w_s_##rm, fcvt_wu_s_##rm, fcvt_w_d_##rm, fcvt_wu_d_##rm}
#define NCVT 4
static const char *cvt_names[NCVT] = {"fcvt.w.s", "fcvt.wu.s", "fcvt.w.d", "fcvt.wu.d"};
#endif
TOI_RM(rne) TOI_RM(rtz) TOI_RM(rdn) TOI_RM(rup) TOI_RM(rmm) TOI_RM(dyn)

typedef struct res (*unf)(u64);
struct cvt_set { const char *rm; unf f[NCVT]; };
#define CVT_SET(rm) {#rm, CVT_FUNCTIONS(rm)}
static const struct cvt_set cvts[] = {CVT_SET(rne), CVT_SET(rtz), CVT_SET(rdn), CVT_SET(rup), CVT_SET(rmm), CVT_SET(dyn)};

/* Fused multiply-add family: three operands. */
#define FMA(fn, insn, sfx, P)                                                                \
    static struct res fn(u64 a, u64 b, u64 c) {                                              \
        value_##P v;                                                                         \
        reg fl;                                                                              \
        __asm__ volatile("fsflags zero\n\t" IN_##P("ft0", 2) "\n\t" IN_##P("ft1", 3) "\n\t"   \
                         IN_##P("ft2", 4) "\n\t" insn " ft3, ft0, ft1, ft2" sfx "\n\t"        \
                         OUT_##P(0, "ft3") "\n\tfrflags %1"                                  \
                         : RESULT_##P(v), "=&r"(fl) : OPERAND_##P(a), OPERAND_##P(b), OPERAND_##P(c) \
                         : "ft0", "ft1", "ft2", "ft3", "memory");                             \
        return (struct res){(u64)v & MASK_##P, fl};                                          \
    }
/* Arithmetic and int->float conversions under each static rounding mode. The
 * conversions from integers are those of 64-bit integers and fcvt.s.w on RV64,
 * of 32-bit ones on RV32. */
#if __riscv_xlen == 64
#define FROM_INTEGERS(rm)                                                                    \
    FROMI(fcvt_s_l_##rm, "fcvt.s.l ft1, %2, " #rm, S)                                        \
    FROMI(fcvt_s_lu_##rm, "fcvt.s.lu ft1, %2, " #rm, S)                                      \
    FROMI(fcvt_s_w_##rm, "fcvt.s.w ft1, %2, " #rm, S)                                        \
    FROMI(fcvt_d_l_##rm, "fcvt.d.l ft1, %2, " #rm, D)
#define FROM_INTEGER_FUNCTIONS(rm) fcvt_s_l_##rm, fcvt_s_lu_##rm, fcvt_s_w_##rm, fcvt_d_l_##rm
static const char *from_integer_names[] = {"fcvt.s.l", "fcvt.s.lu", "fcvt.s.w", "fcvt.d.l"};
static const int from_integer_wide[] = {0, 0, 0, 1};
#else
#define FROM_INTEGERS(rm)                                                                    \
    FROMI(fcvt_s_w_##rm, "fcvt.s.w ft1, %2, " #rm, S)                                        \
    FROMI(fcvt_s_wu_##rm, "fcvt.s.wu ft1, %2, " #rm, S)                                      \
    /* Exact: the assembler takes no rounding mode. */                                    \
    FROMI(fcvt_d_w_##rm, "fcvt.d.w ft1, %2", D)                                              \
    FROMI(fcvt_d_wu_##rm, "fcvt.d.wu ft1, %2", D)
#define FROM_INTEGER_FUNCTIONS(rm) fcvt_s_w_##rm, fcvt_s_wu_##rm, fcvt_d_w_##rm, fcvt_d_wu_##rm
static const char *from_integer_names[] = {"fcvt.s.w", "fcvt.s.wu", "fcvt.d.w", "fcvt.d.wu"};
static const int from_integer_wide[] = {0, 0, 1, 1};
#endif
#define ARITH_RM(rm)                                                                         \
    BIN_S(fadd_s_##rm, "fadd.s", ", " #rm) BIN_S(fmul_s_##rm, "fmul.s", ", " #rm)              \
    BIN_S(fdiv_s_##rm, "fdiv.s", ", " #rm) BIN_D(fadd_d_##rm, "fadd.d", ", " #rm)              \
    BIN_D(fdiv_d_##rm, "fdiv.d", ", " #rm)                                                   \
    FUN(fsqrt_d_##rm, "fsqrt.d ft1, ft0, " #rm, D, D)                                        \
    FUN(fcvt_s_d_##rm, "fcvt.s.d ft1, ft0, " #rm, D, S)                                      \
    FROM_INTEGERS(rm)                                                                        \
    FMA(fmadd_s_##rm, "fmadd.s", ", " #rm, S)                                                \
    FMA(fnmsub_d_##rm, "fnmsub.d", ", " #rm, D)
ARITH_RM(rne) ARITH_RM(rtz) ARITH_RM(rdn) ARITH_RM(rup) ARITH_RM(rmm) ARITH_RM(dyn)
typedef struct res (*fmaf)(u64, u64, u64);
struct arith_set { const char *rm; binf b[5]; unf u[6]; fmaf m[2]; };
#define ARITH_SET(rm) {#rm, {fadd_s_##rm, fmul_s_##rm, fdiv_s_##rm, fadd_d_##rm, fdiv_d_##rm}, \
                       {fsqrt_d_##rm, fcvt_s_d_##rm, FROM_INTEGER_FUNCTIONS(rm)}, \
                       {fmadd_s_##rm, fnmsub_d_##rm}}
static const struct arith_set ariths[] = {ARITH_SET(rne), ARITH_SET(rtz), ARITH_SET(rdn), ARITH_SET(rup), ARITH_SET(rmm), ARITH_SET(dyn)};

FMA(fmadd_s, "fmadd.s", "", S) FMA(fmsub_s, "fmsub.s", "", S)
FMA(fnmadd_s, "fnmadd.s", "", S) FMA(fnmsub_s, "fnmsub.s", "", S)
FMA(fmadd_d, "fmadd.d", "", D) FMA(fmsub_d, "fmsub.d", "", D)
FMA(fnmadd_d, "fnmadd.d", "", D) FMA(fnmsub_d, "fnmsub.d", "", D)

static void set_frm(unsigned rm) { __asm__ volatile("fsrm %0" : : "r"((reg)rm)); }

static void pr(struct res r, int wide) {
    if (wide) printf(" %016llx/%02llx", (unsigned long long)r.v, (unsigned long long)r.fl);
    else printf(" %08llx/%02llx", (unsigned long long)r.v, (unsigned long long)r.fl);
}

int main(void) {
    set_frm(0);
    printf("operands s:");
    for (unsigned i = 0; i < NSV; i++) printf(" %08x", (unsigned)sv[i]);
    printf("\noperands d:");
    for (unsigned i = 0; i < NDV; i++) printf(" %016llx", (unsigned long long)dv[i]);
    printf("\n");

    /* Full cross product of binary ops, printed as result/flags. */
    for (unsigned o = 0; o < sizeof bins / sizeof bins[0]; o++) {
        int d = bins[o].dbl;
        unsigned n = d ? NDV : NSV;
        int cmp = bins[o].name[1] == 'e' || bins[o].name[1] == 'l';
        for (unsigned i = 0; i < n; i++) {
            printf("%-8s a%-2u:", bins[o].name, i);
            for (unsigned j = 0; j < n; j++) {
                struct res r = bins[o].f(d ? dv[i] : sv[i], d ? dv[j] : sv[j]);
                if (cmp) printf(" %llu/%02llx", (unsigned long long)r.v, (unsigned long long)r.fl);
                else pr(r, d);
            }
            printf("\n");
        }
    }

    printf("fsqrt.s:");
    for (unsigned i = 0; i < NSV; i++) pr(fsqrt_s(sv[i]), 0);
    printf("\nfsqrt.d:");
    for (unsigned i = 0; i < NDV; i++) pr(fsqrt_d(dv[i]), 1);
    printf("\nfcvt.d.s:");
    for (unsigned i = 0; i < NSV; i++) pr(fcvt_d_s(sv[i]), 1);
    printf("\nfcvt.s.d:");
    for (unsigned i = 0; i < NDV; i++) pr(fcvt_s_d(dv[i]), 0);
    printf("\n");

    /* fclass: one input per class, both precisions. */
    static const u32 cls_s[] = {0xff800000, 0xbf800000, 0x807fffff, 0x80000000, 0x00000000, 0x00000001, 0x3f800000, 0x7f800000, 0x7f800001, 0x7fc00000, 0xffffffff};
    static const u64 cls_d[] = {0xfff0000000000000ull, 0xbff0000000000000ull, 0x800fffffffffffffull, 0x8000000000000000ull, 0, 1,
                                0x3ff0000000000000ull, 0x7ff0000000000000ull, 0x7ff4000000000000ull, 0x7ff8000000000000ull, 0xffffffffffffffffull};
    printf("fclass.s:");
    for (unsigned i = 0; i < sizeof cls_s / sizeof cls_s[0]; i++) printf(" %03llx", (unsigned long long)fclass_s(cls_s[i]).v);
    printf("\nfclass.d:");
    for (unsigned i = 0; i < sizeof cls_d / sizeof cls_d[0]; i++) printf(" %03llx", (unsigned long long)fclass_d(cls_d[i]).v);
    printf("\n");

    /* Float -> int conversions, each rounding mode; dyn uses frm = RDN. Includes
     * saturation (out of range, +-inf, NaN) and -1.0 -> unsigned. */
    static const u32 cs[] = {0x00000000, 0x80000000, 0x3f000000 /* .5 */, 0x3fc00000 /* 1.5 */, 0x40200000 /* 2.5 */,
                             0xbf000000 /* -.5 */, 0xbf800000 /* -1 */, 0xbfc00000 /* -1.5 */, 0x4effffff /* 2^31-128 */,
                             0x4f000000 /* 2^31 */, 0xcf000000 /* -2^31 */, 0xcf000001, 0x4f800000 /* 2^32 */,
                             0x5f000000 /* 2^63 */, 0xdf000000 /* -2^63 */, 0x5f800000 /* 2^64 */, 0x7f800000, 0xff800000,
                             0x7fc00000, 0xffc00000, 0x7f800001, 0x00000001};
    static const u64 cd[] = {0, 0x8000000000000000ull, 0x3fe0000000000000ull, 0x3ff8000000000000ull, 0x4004000000000000ull,
                             0xbfe0000000000000ull, 0xbff0000000000000ull, 0xbff8000000000000ull, 0x41dfffffffffffffull /* 2^31-eps */,
                             0x41e0000000000000ull /* 2^31 */, 0xc1e0000000000000ull /* -2^31 */, 0xc1e0000000200000ull /* -2^31-1 */,
                             0x41efffffffe00000ull /* 2^32-1 */, 0x41f0000000000000ull /* 2^32 */, 0x43e0000000000000ull /* 2^63 */,
                             0xc3e0000000000000ull /* -2^63 */, 0x43f0000000000000ull /* 2^64 */, 0x7ff0000000000000ull,
                             0xfff0000000000000ull, 0x7ff8000000000000ull, 0xfff8000000000000ull, 0x7ff0000000000001ull, 1};
    set_frm(2);
    for (unsigned m = 0; m < sizeof cvts / sizeof cvts[0]; m++) {
        for (unsigned k = 0; k < NCVT; k++) {
            printf("%-9s %s:", cvt_names[k], cvts[m].rm);
            if (k < NCVT / 2)
                for (unsigned i = 0; i < sizeof cs / sizeof cs[0]; i++) pr(cvts[m].f[k](cs[i]), 1);
            else
                for (unsigned i = 0; i < sizeof cd / sizeof cd[0]; i++) pr(cvts[m].f[k](cd[i]), 1);
            printf("\n");
        }
    }

    /* Rounding of arithmetic: static rm in the instruction, then dyn with
     * every frm value. Operands are chosen so the exact result lies between
     * two representable values (ties and non-ties, both signs). */
    static const u32 ra_s[][2] = {{0x3f800000, 0x33c00000} /* 1 + 1.5ulp/2 */, {0x3f800000, 0x33800000} /* tie */,
                                  {0xbf800000, 0xb3c00000}, {0x3f800001, 0x33800000} /* tie, odd */, {0x3f800000, 0x40400000} /* 1,3 */,
                                  {0xbf800000, 0x40400000}, {0x7f7fffff, 0x7f7fffff} /* overflow */};
    static const u64 ra_d[][2] = {{0x3ff0000000000000ull, 0x3ca8000000000000ull}, {0x3ff0000000000000ull, 0x3ca0000000000000ull},
                                  {0xbff0000000000000ull, 0xbca8000000000000ull}, {0x3ff0000000000000ull, 0x4008000000000000ull},
                                  {0xbff0000000000000ull, 0x4008000000000000ull}, {0x7fefffffffffffffull, 0x7fefffffffffffffull}};
    static const u64 sq_d[] = {0x4000000000000000ull /* 2 */, 0x4008000000000000ull, 0x3ff0000000000001ull};
    static const u64 ints[] = {16777217, 16777219, (u64)-16777217, 0x7fffffffffffffffull, 0x8000000000000001ull,
                               0xffffffffffffffffull, 0x20000000000001ull, 0x2000000000000011ull, 0x00000000ffffffffull};
    static const u64 narrow[] = {0x3ff0000010000000ull /* 1 + tie for single */, 0x3ff0000030000000ull, 0xbff0000010000001ull,
                                 0x47efffffefffffffull /* just under FLT_MAX rounding boundary */, 0x47effffff0000000ull,
                                 0x36a0000000000000ull /* 2^-149 */, 0x3690000000000000ull /* 2^-150 tie to 0 */,
                                 0x3690000000000001ull, 0x7ff4000000000000ull};
    static const char *rm_names[] = {"rne", "rtz", "rdn", "rup", "rmm"};
    for (unsigned pass = 0; pass < 2; pass++) {
        /* pass 0: static rm; pass 1: dyn with frm = 0..4 */
        for (unsigned m = 0; m < 5; m++) {
            const struct arith_set *as = pass == 0 ? &ariths[m] : &ariths[5];
            if (pass == 1) set_frm(m);
            printf("rounding %s%s:\n", pass ? "dyn frm=" : "static ", rm_names[m]);
            static const char *bn[] = {"fadd.s", "fmul.s", "fdiv.s"};
            for (unsigned k = 0; k < 3; k++) {
                printf("  %-9s", bn[k]);
                for (unsigned i = 0; i < sizeof ra_s / sizeof ra_s[0]; i++) pr(as->b[k](ra_s[i][0], ra_s[i][1]), 0);
                printf("\n");
            }
            static const char *dn[] = {"fadd.d", "fdiv.d"};
            for (unsigned k = 0; k < 2; k++) {
                printf("  %-9s", dn[k]);
                for (unsigned i = 0; i < sizeof ra_d / sizeof ra_d[0]; i++) pr(as->b[3 + k](ra_d[i][0], ra_d[i][1]), 1);
                printf("\n");
            }
            printf("  fsqrt.d  ");
            for (unsigned i = 0; i < sizeof sq_d / sizeof sq_d[0]; i++) pr(as->u[0](sq_d[i]), 1);
            printf("\n  fcvt.s.d ");
            for (unsigned i = 0; i < sizeof narrow / sizeof narrow[0]; i++) pr(as->u[1](narrow[i]), 0);
            for (unsigned k = 0; k < 4; k++) {
                printf("\n  %-9s", from_integer_names[k]);
                for (unsigned i = 0; i < sizeof ints / sizeof ints[0]; i++) pr(as->u[2 + k](ints[i]), from_integer_wide[k]);
            }
            printf("\n  fmadd.s  ");
            for (unsigned i = 0; i < sizeof ra_s / sizeof ra_s[0]; i++) pr(as->m[0](ra_s[i][0], 0x3f800000, ra_s[i][1]), 0);
            printf("\n  fnmsub.d ");
            for (unsigned i = 0; i < sizeof ra_d / sizeof ra_d[0]; i++) pr(as->m[1](ra_d[i][0], 0x3ff0000000000000ull, ra_d[i][1]), 1);
            printf("\n");
        }
    }
    set_frm(0);

    /* Fused multiply-add: single rounding, inf*0 + qNaN raises NV, signs of zero. */
    static const u32 fs3[][3] = {
        {0x3f800800, 0x3f7ff000, 0xbf800000} /* (1+2^-12)(1-2^-12)-1 = -2^-24 exactly */, {0x7f800000, 0x00000000, 0x7fc00000},
        {0x00000000, 0x7f800000, 0x3f800000}, {0x7f800000, 0x3f800000, 0xff800000}, {0x00000000, 0x80000000, 0x00000000},
        {0x80000000, 0x3f800000, 0x80000000}, {0x7f7fffff, 0x40000000, 0xff7fffff}, {0x3f800000, 0x3f800000, 0x7f800001},
        {0x40400000, 0x40400000, 0x3f800000}, {0x00800000, 0x3f000000, 0x00000000} /* underflow to denormal */,
    };
    static const u64 fd3[][3] = {
        {0x3ff0000008000000ull, 0x3fefffffeffffffeull, 0xbff0000000000000ull}, {0x7ff0000000000000ull, 0, 0x7ff8000000000000ull},
        {0, 0x8000000000000000ull, 0}, {0x7fefffffffffffffull, 0x4000000000000000ull, 0xffefffffffffffffull},
        {0x4008000000000000ull, 0x4008000000000000ull, 0x3ff0000000000000ull}, {0x3ff0000000000000ull, 0x3ff0000000000000ull, 0x7ff0000000000001ull},
    };
    struct res (*fs[4])(u64, u64, u64) = {fmadd_s, fmsub_s, fnmadd_s, fnmsub_s};
    struct res (*fd[4])(u64, u64, u64) = {fmadd_d, fmsub_d, fnmadd_d, fnmsub_d};
    static const char *fn[] = {"fmadd", "fmsub", "fnmadd", "fnmsub"};
    for (unsigned k = 0; k < 4; k++) {
        printf("%s.s:", fn[k]);
        for (unsigned i = 0; i < sizeof fs3 / sizeof fs3[0]; i++) pr(fs[k](fs3[i][0], fs3[i][1], fs3[i][2]), 0);
        printf("\n%s.d:", fn[k]);
        for (unsigned i = 0; i < sizeof fd3 / sizeof fd3[0]; i++) pr(fd[k](fd3[i][0], fd3[i][1], fd3[i][2]), 1);
        printf("\n");
    }

    /* NaN boxing: a single-precision operand whose upper 32 bits are not all
     * ones must be read as the canonical NaN. */
    u64 unboxed = 0x000000003f800000ull, partly = 0xfffffffe3f800000ull, boxed = 0xffffffff3f800000ull;
    u64 in3[3] = {unboxed, partly, boxed};
    for (int i = 0; i < 3; i++) {
        u64 add, sgnj, neg, cvt, st;
        reg cls, mvx, fl;
        u32 mem = 0;
        __asm__ volatile("fsflags zero\n\t"
                         IN_D("ft0", 7) "\n\t"
                         "fadd.s ft1, ft0, ft0\n\t" OUT_D(0, "ft1") "\n\t"
                         "fsgnj.s ft1, ft0, ft0\n\t" OUT_D(1, "ft1") "\n\t"
                         "fsgnjn.s ft1, ft0, ft0\n\t" OUT_D(2, "ft1") "\n\t"
                         "fcvt.d.s ft1, ft0\n\t" OUT_D(3, "ft1") "\n\t"
                         "fclass.s %4, ft0\n\t"
                         "fmv.x.w %5, ft0\n\t"
                         "fsw ft0, 0(%8)\n\t"
                         "frflags %6"
                         : RESULT_D(add), RESULT_D(sgnj), RESULT_D(neg), RESULT_D(cvt), "=&r"(cls), "=&r"(mvx), "=&r"(fl)
                         : OPERAND_D(in3[i]), "r"(&mem)
                         : "ft0", "ft1", "memory");
        st = mem;
        printf("nanbox in=%016llx: fadd.s=%016llx fsgnj.s=%016llx fsgnjn.s=%016llx fcvt.d.s=%016llx fclass.s=%03llx fmv.x.w=%016llx fsw=%08llx flags=%02llx\n",
               (unsigned long long)in3[i], (unsigned long long)add, (unsigned long long)sgnj, (unsigned long long)neg,
               (unsigned long long)cvt, (unsigned long long)cls, (unsigned long long)mvx, (unsigned long long)st, (unsigned long long)fl);
    }
    /* flw and fmv.w.x must box; fmv.x.w sign-extends bit 31. */
    {
        u32 m = 0x80000001;
        u64 a, b;
        reg c;
        __asm__ volatile("flw ft0, 0(%3)\n\t" OUT_D(0, "ft0") "\n\tfmv.w.x ft1, %4\n\t" OUT_D(1, "ft1") "\n\tfmv.x.w %2, ft0"
                         : RESULT_D(a), RESULT_D(b), "=&r"(c) : "r"(&m), "r"((reg)0x123456787f800000ull) : "ft0", "ft1", "memory");
        printf("boxing: flw=%016llx fmv.w.x=%016llx fmv.x.w=%016llx\n", (unsigned long long)a, (unsigned long long)b, (unsigned long long)c);
    }

    /* Flag accumulation: flags are sticky until cleared; fcsr holds frm<<5 | fflags. */
    {
        reg f1, f2, f3, csr, frm;
        __asm__ volatile("fsflags zero\n\t"
                         "fmv.w.x ft0, zero\n\tfmv.w.x ft1, %[one]\n\t"
                         "fdiv.s ft2, ft1, ft0\n\tfrflags %0\n\t"  /* DZ */
                         "fdiv.s ft2, ft0, ft0\n\tfrflags %1\n\t"  /* + NV */
                         "fsrm %[rm]\n\t"
                         "fsflags %[setfl]\n\tfrflags %2\n\t"
                         "frcsr %3\n\tfrrm %4\n\t"
                         "fsflags zero\n\tfsrm zero"
                         : "=&r"(f1), "=&r"(f2), "=&r"(f3), "=&r"(csr), "=&r"(frm)
                         : [one] "r"((reg)0x3f800000), [rm] "r"((reg)3), [setfl] "r"((reg)0xff)
                         : "ft0", "ft1", "ft2");
        printf("sticky flags: after 1/0 %02llx, after 0/0 %02llx, fsflags 0xff reads %02llx, fcsr=%03llx frm=%llu\n",
               (unsigned long long)f1, (unsigned long long)f2, (unsigned long long)f3, (unsigned long long)csr, (unsigned long long)frm);
    }

    /* Loads/stores of FP registers and moves: bit patterns must pass unchanged (no canonicalisation). */
    {
        u64 dm = 0x7ff0000000000001ull, out;
        u32 sm = 0x7f800001, sout;
        __asm__ volatile("fld ft0, 0(%2)\n\tfsd ft0, 0(%3)\n\tflw ft1, 0(%4)\n\tfsw ft1, 0(%5)"
                         : "=m"(out), "=m"(sout) : "r"(&dm), "r"(&out), "r"(&sm), "r"(&sout) : "ft0", "ft1", "memory");
        printf("sNaN through fld/fsd: %016llx, flw/fsw: %08x\n", (unsigned long long)out, (unsigned)sout);
    }
    return 0;
}
