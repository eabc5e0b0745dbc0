/* Zicsr/Zicntr from user mode: the counters (and on RV32 their high halves)
 * must read without trapping and never go backwards (only such facts are
 * printed: values differ per run),
 * and the FP CSRs (fflags, frm, fcsr) must read/write with correct masking
 * through every csrr* form. */
#include <stdint.h>
#include <stdio.h>

/* Registers: XLEN bits on either width. */
typedef unsigned long u64;

#define RD(csr) ({ u64 v_; __asm__ volatile("csrr %0, " #csr : "=r"(v_)); v_; })

static void counter(const char *name, u64 (*rd)(void)) {
    int monotone = 1;
    u64 first = rd(), prev = first;
    for (int i = 0; i < 1000; i++) {
        u64 v = rd();
        if (v < prev) monotone = 0;
        prev = v;
    }
    /* Busy work between two reads so even a coarse counter moves. */
    volatile u64 sink = 0;
    for (int i = 0; i < 2000000; i++) sink += (u64)i;
    u64 last = rd();
    printf("%s: readable yes, monotone %s, advanced over busy loop %s\n", name, monotone ? "yes" : "NO",
           last > first ? "yes" : "NO");
}
static u64 rd_cycle(void) { u64 v; __asm__ volatile("rdcycle %0" : "=r"(v)); return v; }
static u64 rd_time(void) { u64 v; __asm__ volatile("rdtime %0" : "=r"(v)); return v; }
static u64 rd_instret(void) { u64 v; __asm__ volatile("rdinstret %0" : "=r"(v)); return v; }
static u64 rd_cycle_csrrs(void) { u64 v; __asm__ volatile("csrrs %0, cycle, zero" : "=r"(v)); return v; }

#if __riscv_xlen == 32
/* A 64-bit counter from its halves: high, low, high again until stable. */
#define READ_PAIR(low, high)                                                                        \
    ({                                                                                              \
        unsigned long h1_, l_, h2_;                                                                 \
        do {                                                                                        \
            __asm__ volatile(high " %0\n\t" low " %1\n\t" high " %2" : "=r"(h1_), "=r"(l_), "=r"(h2_)); \
        } while (h1_ != h2_);                                                                       \
        ((unsigned long long)h1_ << 32) | l_;                                                       \
    })
static void counter_pair(const char *name, unsigned long long (*rd)(void)) {
    unsigned long long first = rd(), prev = first;
    int monotone = 1;
    for (int i = 0; i < 1000; i++) {
        unsigned long long v = rd();
        if (v < prev) monotone = 0;
        prev = v;
    }
    volatile unsigned long sink = 0;
    for (int i = 0; i < 2000000; i++) sink += (unsigned long)i;
    printf("%s: readable yes, monotone %s, advanced over busy loop %s\n", name, monotone ? "yes" : "NO",
           rd() > first ? "yes" : "NO");
}
static unsigned long long rd_cycle64(void) { return READ_PAIR("rdcycle", "rdcycleh"); }
static unsigned long long rd_time64(void) { return READ_PAIR("rdtime", "rdtimeh"); }
static unsigned long long rd_instret64(void) { return READ_PAIR("rdinstret", "rdinstreth"); }
#endif

int main(void) {
    counter("rdcycle", rd_cycle);
    counter("rdtime", rd_time);
    counter("rdinstret", rd_instret);
    counter("csrrs cycle", rd_cycle_csrrs);
#if __riscv_xlen == 32
    counter_pair("rdcycleh:rdcycle", rd_cycle64);
    counter_pair("rdtimeh:rdtime", rd_time64);
    counter_pair("rdinstreth:rdinstret", rd_instret64);
#endif

    u64 a, b, c, d, e;
    printf("initial: fflags=%llx frm=%llx fcsr=%llx\n", (unsigned long long)RD(fflags), (unsigned long long)RD(frm), (unsigned long long)RD(fcsr));

    /* fcsr = frm[7:5] | fflags[4:0]; bits above 7 are read-only zero. */
    __asm__ volatile("csrrw %0, fcsr, %1" : "=r"(a) : "r"((u64)0xffffffffffffffffull));
    b = RD(fcsr); c = RD(frm); d = RD(fflags);
    printf("csrrw fcsr <- all ones: old=%llx fcsr=%llx frm=%llx fflags=%llx\n", (unsigned long long)a, (unsigned long long)b, (unsigned long long)c, (unsigned long long)d);

    __asm__ volatile("csrrw %0, frm, %1" : "=r"(a) : "r"((u64)0xfaull)); /* only 3 bits stick */
    b = RD(fcsr); c = RD(frm);
    printf("csrrw frm <- 0xfa: old=%llx fcsr=%llx frm=%llx\n", (unsigned long long)a, (unsigned long long)b, (unsigned long long)c);

    __asm__ volatile("csrrc %0, fflags, %1" : "=r"(a) : "r"((u64)0x15ull));
    b = RD(fflags);
    printf("csrrc fflags 0x15: old=%llx new=%llx fcsr=%llx\n", (unsigned long long)a, (unsigned long long)b, (unsigned long long)RD(fcsr));

    __asm__ volatile("csrrs %0, fflags, %1" : "=r"(a) : "r"((u64)0x1e0ull)); /* bits above 4 ignored */
    printf("csrrs fflags 0x1e0: old=%llx new=%llx\n", (unsigned long long)a, (unsigned long long)RD(fflags));

    __asm__ volatile("csrrwi %0, fflags, 0x11" : "=r"(a));
    __asm__ volatile("csrrsi %0, fflags, 0x06" : "=r"(b));
    __asm__ volatile("csrrci %0, fflags, 0x01" : "=r"(c));
    d = RD(fflags);
    printf("csrrwi/csrrsi/csrrci fflags: %llx %llx %llx -> %llx\n", (unsigned long long)a, (unsigned long long)b, (unsigned long long)c, (unsigned long long)d);

    __asm__ volatile("csrrwi %0, frm, 4" : "=r"(a));
    __asm__ volatile("csrrsi %0, frm, 3" : "=r"(b));
    __asm__ volatile("csrrci %0, frm, 5" : "=r"(c));
    d = RD(frm);
    e = RD(fcsr);
    printf("csrrwi/csrrsi/csrrci frm: %llx %llx %llx -> %llx fcsr=%llx\n", (unsigned long long)a, (unsigned long long)b, (unsigned long long)c, (unsigned long long)d, (unsigned long long)e);

    /* csrrs/csrrc with x0 source must not write (read-only access is legal on counters). */
    __asm__ volatile("csrrs %0, fcsr, zero\n\tcsrrc %1, fcsr, zero" : "=r"(a), "=r"(b));
    printf("csrrs/csrrc x0: %llx %llx\n", (unsigned long long)a, (unsigned long long)b);

    /* The pseudo-instructions for the same operations. */
    __asm__ volatile("fscsr %0, %1" : "=r"(a) : "r"((u64)0x4aull));
    __asm__ volatile("fsrm %0, %1" : "=r"(b) : "r"((u64)1));
    __asm__ volatile("fsflags %0, %1" : "=r"(c) : "r"((u64)0x3ull));
    __asm__ volatile("frcsr %0" : "=r"(d));
    printf("fscsr/fsrm/fsflags: %llx %llx %llx -> fcsr=%llx\n", (unsigned long long)a, (unsigned long long)b, (unsigned long long)c, (unsigned long long)d);

    /* The rounding mode set through frm is what a dyn instruction uses: 1/3 under RTZ vs RUP. */
    u64 r1, r2;
    __asm__ volatile("fsrm %2, %3\n\t"
                     "fmv.w.x ft0, %4\n\tfmv.w.x ft1, %5\n\t"
                     "fdiv.s ft2, ft0, ft1\n\tfmv.x.w %0, ft2\n\t"
                     "fsrmi 3\n\t"
                     "fdiv.s ft2, ft0, ft1\n\tfmv.x.w %1, ft2\n\t"
                     "fsrmi 0"
                     : "=&r"(r1), "=&r"(r2), "=&r"(a) : "r"((u64)1), "r"((u64)0x3f800000ull), "r"((u64)0x40400000ull) : "ft0", "ft1", "ft2");
    printf("1/3 dyn rtz=%08llx rup=%08llx fflags=%llx\n", (unsigned long long)(r1 & 0xffffffff), (unsigned long long)(r2 & 0xffffffff), (unsigned long long)RD(fflags));
    return 0;
}
