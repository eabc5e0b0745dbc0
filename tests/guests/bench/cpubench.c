/* cpubench: a CPU-bound guest benchmark for rvedge (and a qemu comparison).
 *
 * Usage: cpubench [int|mem|fp|all|KERNEL] [scale]     (defaults: all 1.0)
 * Work in every kernel is proportional to `scale` (a positive real); at 1.0
 * `all` executes roughly 3 billion RV64GC instructions. Repetition counts
 * scale; below 0.1 the working sets shrink too, so tiny scales (0.001) give
 * a quick run for differential tests. Reported checksums depend on scale.
 *
 * Kernels (each prints one checksum line, so a run under rvedge can be
 * compared bit-for-bit with one under qemu-riscv64):
 *   int  crc32     bitwise CRC-32 over a pseudo-random buffer (shifts, xor, branches)
 *        crc32tab  table-driven CRC-32 (byte loads, indexed word loads)
 *        sieve     sieve of Eratosthenes (byte stores, strided loops)
 *        qsort     recursive quicksort of 32-bit keys (compares, swaps, calls)
 *        matmul    64x64 int64 matrix multiply (mul, loads)
 *        mix       64-bit hash mixing with 128-bit products (mulhu, rotates)
 *  mem   chase     pointer chasing through a 16 MiB random cycle (cache/TLB misses)
 *        copy      memcpy/memmove of large blocks plus a word-sum pass
 *   fp   mandel    Mandelbrot set in double (fmul/fadd/compares)
 *        nbody     5-body simulation in double (fdiv, fsqrt)
 *        dot       float dot products and axpy (fmadd.s)
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t u64;
typedef uint32_t u32;

static double scale = 1.0;

static u64 iters(double base) {
    double n = base * scale;
    return n < 1.0 ? 1 : (u64)n;
}

/* Working-set size: fixed for scale >= 0.1 (stable benchmark), proportional below. */
static size_t dim(size_t n, size_t min) {
    if (scale >= 0.1) return n;
    size_t d = (size_t)((double)n * scale * 10.0);
    return d < min ? min : d;
}

static void *xmalloc(size_t n) {
    void *p = malloc(n);
    if (!p) { printf("cpubench: out of memory\n"); exit(1); }
    return p;
}

static u64 rng_state = 0x9e3779b97f4a7c15ull;
static u64 rng(void) { /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static u64 dbits(double d) { u64 b; memcpy(&b, &d, 8); return b; }

/* ---- int ---- */
static u32 crc32_bitwise(const unsigned char *p, size_t n, u32 crc) {
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
    }
    return ~crc;
}

static u32 crc_table[256];
static u32 crc32_table(const unsigned char *p, size_t n, u32 crc) {
    crc = ~crc;
    for (size_t i = 0; i < n; i++) crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static void k_crc(void) {
    const size_t N = dim(64 * 1024, 1024);
    unsigned char *buf = xmalloc(N);
    for (size_t i = 0; i < N; i++) buf[i] = (unsigned char)rng();
    u32 c = 0;
    u64 reps = iters(40);
    for (u64 r = 0; r < reps; r++) c = crc32_bitwise(buf, N, c);
    printf("int crc32     reps=%llu checksum=%08x\n", (unsigned long long)reps, (unsigned)c);

    for (u32 i = 0; i < 256; i++) { /* standard reflected table */
        u32 c2 = i;
        for (int k = 0; k < 8; k++) c2 = (c2 >> 1) ^ (0xedb88320u & -(c2 & 1));
        crc_table[i] = c2;
    }
    c = 0;
    reps = iters(400);
    for (u64 r = 0; r < reps; r++) c = crc32_table(buf, N, c);
    printf("int crc32tab  reps=%llu checksum=%08x\n", (unsigned long long)reps, (unsigned)c);
    free(buf);
}

static void k_sieve(void) {
    const u64 N = dim(2000000, 1000);
    unsigned char *composite = xmalloc(N + 1);
    u64 reps = iters(12), total = 0, last = 0;
    for (u64 r = 0; r < reps; r++) {
        memset(composite, 0, N + 1);
        u64 count = 0;
        for (u64 i = 2; i <= N; i++) {
            if (composite[i]) continue;
            count++;
            last = i;
            for (u64 j = i * i; j <= N; j += i) composite[j] = 1;
        }
        total += count;
    }
    free(composite);
    printf("int sieve     reps=%llu primes=%llu largest=%llu\n", (unsigned long long)reps, (unsigned long long)total, (unsigned long long)last);
}

static void quicksort(u32 *a, long lo, long hi) {
    while (lo < hi) {
        u32 pivot = a[lo + (hi - lo) / 2];
        long i = lo, j = hi;
        while (i <= j) {
            while (a[i] < pivot) i++;
            while (a[j] > pivot) j--;
            if (i <= j) { u32 t = a[i]; a[i] = a[j]; a[j] = t; i++; j--; }
        }
        /* Recurse into the smaller half to bound stack depth. */
        if (j - lo < hi - i) { quicksort(a, lo, j); lo = i; }
        else { quicksort(a, i, hi); hi = j; }
    }
}

static void k_qsort(void) {
    const long N = (long)dim(200000, 1000);
    u32 *a = xmalloc(N * sizeof *a);
    u64 reps = iters(8), h = 0;
    for (u64 r = 0; r < reps; r++) {
        for (long i = 0; i < N; i++) a[i] = (u32)rng();
        quicksort(a, 0, N - 1);
        for (long i = 1; i < N; i++)
            if (a[i - 1] > a[i]) { printf("qsort: not sorted!\n"); exit(1); }
        h = h * 31 + a[N / 2] + a[N / 3] + a[N - 1];
    }
    free(a);
    printf("int qsort     reps=%llu checksum=%016llx\n", (unsigned long long)reps, (unsigned long long)h);
}

static void k_matmul(void) {
    enum { N = 64 };
    static int64_t A[N][N], B[N][N], C[N][N];
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            A[i][j] = (int64_t)(rng() % 2001) - 1000;
            B[i][j] = (int64_t)(rng() % 2001) - 1000;
        }
    u64 reps = iters(150), h = 0;
    for (u64 r = 0; r < reps; r++) {
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++) {
                int64_t s = 0;
                for (int k = 0; k < N; k++) s += A[i][k] * B[k][j];
                C[i][j] = s;
            }
        /* Feed back so repetitions are not redundant. */
        A[r % N][(r * 7) % N] = C[(r * 3) % N][(r * 5) % N] % 1000;
        h ^= (u64)C[r % N][(r + 1) % N] + (h << 6) + (h >> 2);
    }
    printf("int matmul    reps=%llu checksum=%016llx\n", (unsigned long long)reps, (unsigned long long)h);
}

/* The full 128-bit product of two 64-bit values, as (high, low): one mulhu on
 * RV64, four 32-bit products on RV32 (which has no 128-bit type). */
static u64 multiply_wide(u64 x, u64 y, u64 *high) {
#ifdef __SIZEOF_INT128__
    unsigned __int128 p = (unsigned __int128)x * y;
    *high = (u64)(p >> 64);
    return (u64)p;
#else
    u64 x0 = (u32)x, x1 = x >> 32, y0 = (u32)y, y1 = y >> 32;
    u64 p00 = x0 * y0, p01 = x0 * y1, p10 = x1 * y0, p11 = x1 * y1;
    u64 middle = (p00 >> 32) + (u32)p01 + (u32)p10;
    *high = p11 + (p01 >> 32) + (p10 >> 32) + (middle >> 32);
    return (middle << 32) | (u32)p00;
#endif
}

static void k_mix(void) {
    u64 n = iters(30000000), a = 0x0123456789abcdefull, b = 0xfedcba9876543210ull;
    for (u64 i = 0; i < n; i++) {
        u64 high, low = multiply_wide(a ^ 0xa0761d6478bd642full, b ^ i, &high);
        a = low ^ high;
        b = (b << 23 | b >> 41) + a;
    }
    printf("int mix       n=%llu checksum=%016llx\n", (unsigned long long)n, (unsigned long long)(a ^ b));
}

/* ---- mem ---- */
static void k_chase(void) {
    const u32 N = (u32)dim(4 * 1024 * 1024, 1024); /* 4M u32 = 16 MiB */
    u32 *next = xmalloc(N * sizeof *next);
    for (u32 i = 0; i < N; i++) next[i] = i;
    for (u32 i = N - 1; i > 0; i--) { /* Sattolo: a single cycle through all entries */
        u32 j = (u32)(rng() % i);
        u32 t = next[i]; next[i] = next[j]; next[j] = t;
    }
    u64 steps = iters(15000000), sum = 0;
    u32 p = 0;
    for (u64 s = 0; s < steps; s++) {
        p = next[p];
        sum += p;
    }
    free(next);
    printf("mem chase     steps=%llu checksum=%016llx\n", (unsigned long long)steps, (unsigned long long)sum);
}

static void k_copy(void) {
    const size_t N = dim(4 * 1024 * 1024, 4096) & ~(size_t)7;
    unsigned char *a = xmalloc(N), *b = xmalloc(N);
    for (size_t i = 0; i < N; i++) a[i] = (unsigned char)(i * 7 + (i >> 9));
    u64 reps = iters(30), h = 0;
    for (u64 r = 0; r < reps; r++) {
        memcpy(b, a, N);
        memmove(b + 1 + r % 61, b, N / 2); /* overlapping, misaligned */
        const u64 *w = (const u64 *)b;
        u64 s = 0;
        for (size_t i = 0; i < N / 8; i++) s += w[i] ^ (s >> 3);
        h = h * 1099511628211ull ^ s;
        a[r % N] ^= (unsigned char)s;
    }
    free(a);
    free(b);
    printf("mem copy      reps=%llu checksum=%016llx\n", (unsigned long long)reps, (unsigned long long)h);
}

/* ---- fp ---- */
static void k_mandel(void) {
    const int W = 400, H = (int)dim(300, 8), MAXIT = 200;
    u64 reps = iters(4), total = 0;
    double zsum = 0;
    for (u64 r = 0; r < reps; r++) {
        double zoom = 1.0 + 0.1 * (double)r;
        for (int y = 0; y < H; y++) {
            double ci = (y - H / 2.0) * 2.4 / (H * zoom);
            for (int x = 0; x < W; x++) {
                double cr = (x - W * 0.65) * 3.2 / (W * zoom);
                double zr = 0, zi = 0;
                int it = 0;
                while (it < MAXIT && zr * zr + zi * zi <= 4.0) {
                    double t = zr * zr - zi * zi + cr;
                    zi = 2.0 * zr * zi + ci;
                    zr = t;
                    it++;
                }
                total += (u64)it;
                zsum += zr;
            }
        }
    }
    printf("fp  mandel    reps=%llu iterations=%llu zsum=%016llx\n", (unsigned long long)reps, (unsigned long long)total, (unsigned long long)dbits(zsum));
}

static void k_nbody(void) {
    enum { NB = 5 };
    double x[NB], y[NB], z[NB], vx[NB], vy[NB], vz[NB], m[NB];
    static const double init[NB][7] = {
        {0, 0, 0, 0, 0, 0, 39.47841760435743},
        {4.84143144246472090, -1.16032004402742839, -0.103622044471123109, 0.606326392995832, 2.81198684491626, -0.02521836165988763, 0.03769367487038949},
        {8.34336671824457987, 4.12479856412430479, -0.403523417114321381, -1.01077434617730, 1.82566237123041, 0.008415761376584154, 0.011286326131968767},
        {12.894369562139131, -15.111151401698631, -0.22330757889265573, 1.08279100644154, 0.868713018169608, -0.01010836048207683, 0.0017237240570597112},
        {15.379697114850917, -25.919314609987964, 0.17925877295037118, 0.979090732243898, 0.594698998647676, -0.034755955504078104, 0.0020336868699246304},
    };
    for (int i = 0; i < NB; i++) {
        x[i] = init[i][0]; y[i] = init[i][1]; z[i] = init[i][2];
        vx[i] = init[i][3]; vy[i] = init[i][4]; vz[i] = init[i][5]; m[i] = init[i][6];
    }
    const double dt = 0.01;
    u64 steps = iters(500000);
    for (u64 s = 0; s < steps; s++) {
        for (int i = 0; i < NB; i++)
            for (int j = i + 1; j < NB; j++) {
                double dx = x[i] - x[j], dy = y[i] - y[j], dz = z[i] - z[j];
                double d2 = dx * dx + dy * dy + dz * dz;
                double mag = dt / (d2 * sqrt(d2));
                vx[i] -= dx * m[j] * mag; vy[i] -= dy * m[j] * mag; vz[i] -= dz * m[j] * mag;
                vx[j] += dx * m[i] * mag; vy[j] += dy * m[i] * mag; vz[j] += dz * m[i] * mag;
            }
        for (int i = 0; i < NB; i++) { x[i] += dt * vx[i]; y[i] += dt * vy[i]; z[i] += dt * vz[i]; }
    }
    double e = 0;
    for (int i = 0; i < NB; i++) {
        e += 0.5 * m[i] * (vx[i] * vx[i] + vy[i] * vy[i] + vz[i] * vz[i]);
        for (int j = i + 1; j < NB; j++) {
            double dx = x[i] - x[j], dy = y[i] - y[j], dz = z[i] - z[j];
            e -= m[i] * m[j] / sqrt(dx * dx + dy * dy + dz * dz);
        }
    }
    printf("fp  nbody     steps=%llu energy=%.12e bits=%016llx\n", (unsigned long long)steps, e, (unsigned long long)dbits(e));
}

static void k_dot(void) {
    const int N = (int)dim(4096, 64) & ~3;
    float *a = xmalloc(N * sizeof *a), *b = xmalloc(N * sizeof *b);
    for (int i = 0; i < N; i++) {
        a[i] = (float)((int)(rng() % 2001) - 1000) / 1000.0f;
        b[i] = (float)((int)(rng() % 2001) - 1000) / 1000.0f;
    }
    u64 reps = iters(7000);
    float acc = 0.0f;
    for (u64 r = 0; r < reps; r++) {
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (int i = 0; i < N; i += 4) {
            s0 += a[i] * b[i]; s1 += a[i + 1] * b[i + 1];
            s2 += a[i + 2] * b[i + 2]; s3 += a[i + 3] * b[i + 3];
        }
        float d = (s0 + s1) + (s2 + s3);
        acc += d;
        float alpha = 1e-4f * (float)(r % 7) - 3e-4f; /* axpy keeps values changing */
        for (int i = 0; i < N; i++) b[i] = b[i] + alpha * a[i];
    }
    free(a);
    free(b);
    u32 bits;
    memcpy(&bits, &acc, 4);
    printf("fp  dot       reps=%llu acc=%.6e bits=%08x\n", (unsigned long long)reps, (double)acc, (unsigned)bits);
}

static const struct { const char *group, *name; void (*run)(void); } kernels[] = {
    {"int", "crc", k_crc}, {"int", "sieve", k_sieve}, {"int", "qsort", k_qsort}, {"int", "matmul", k_matmul},
    {"int", "mix", k_mix}, {"mem", "chase", k_chase}, {"mem", "copy", k_copy},
    {"fp", "mandel", k_mandel}, {"fp", "nbody", k_nbody}, {"fp", "dot", k_dot},
};

int main(int argc, char **argv) {
    const char *which = argc > 1 ? argv[1] : "all";
    if (argc > 2) {
        scale = strtod(argv[2], NULL);
        if (!(scale > 0)) { fprintf(stderr, "cpubench: scale must be positive\n"); return 2; }
    }
    int any = 0;
    for (size_t i = 0; i < sizeof kernels / sizeof kernels[0]; i++) {
        if (strcmp(which, "all") == 0 || strcmp(which, kernels[i].group) == 0 || strcmp(which, kernels[i].name) == 0) {
            kernels[i].run();
            any = 1;
        }
    }
    if (!any) {
        fprintf(stderr, "usage: cpubench [int|mem|fp|all|KERNEL] [scale]\n");
        return 2;
    }
    return 0;
}
