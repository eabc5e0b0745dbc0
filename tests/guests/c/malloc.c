/* malloc/realloc/free across glibc's size classes: small (tcache/fastbins),
 * medium (brk heap) and >128 KiB (mmap threshold), with content checks so a
 * broken brk/mmap/mremap/munmap in the emulator shows up as a mismatch. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t rng = 12345;
static uint32_t next(void) {
    rng = rng * 1103515245u + 12345u;
    return rng >> 8;
}

static void fill(unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(seed + i * 31u);
}

static int check(const unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(seed + i * 31u)) return 0;
    return 1;
}

int main(void) {
    int ok = 1;
    static const size_t sizes[] = {1, 8, 24, 100, 1000, 4096, 65536, 131072 + 1, 200000, 1 << 20, 4 << 20};
    enum { NS = sizeof sizes / sizeof sizes[0] };
    unsigned char *blocks[NS];

    for (int i = 0; i < NS; i++) {
        blocks[i] = malloc(sizes[i]);
        if (!blocks[i]) { printf("malloc(%zu) failed\n", sizes[i]); return 1; }
        fill(blocks[i], sizes[i], (unsigned)i);
    }
    for (int i = 0; i < NS; i++) {
        int c = check(blocks[i], sizes[i], (unsigned)i);
        printf("block %2d size %8zu: %s\n", i, sizes[i], c ? "ok" : "CORRUPT");
        ok &= c;
    }

    /* Grow and shrink through realloc, crossing the mmap threshold both ways. */
    size_t cur = 16;
    unsigned char *r = malloc(cur);
    fill(r, cur, 7);
    static const size_t steps[] = {64, 5000, 140000, 3 << 20, 150000, 100, 9000000, 32};
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
        size_t nsz = steps[s];
        r = realloc(r, nsz);
        if (!r) { printf("realloc(%zu) failed\n", nsz); return 1; }
        size_t keep = cur < nsz ? cur : nsz;
        int c = check(r, keep, 7);
        printf("realloc %8zu -> %8zu: prefix %s\n", cur, nsz, c ? "ok" : "CORRUPT");
        ok &= c;
        fill(r, nsz, 7);
        cur = nsz;
    }
    free(r);

    for (int i = 0; i < NS; i += 2) free(blocks[i]);
    for (int i = 1; i < NS; i += 2) ok &= check(blocks[i], sizes[i], (unsigned)i);
    for (int i = 1; i < NS; i += 2) free(blocks[i]);

    /* Churn: many random-sized allocations with random frees. */
    enum { SLOTS = 512 };
    static unsigned char *slot[SLOTS];
    static size_t slen[SLOTS];
    unsigned long live_max = 0, allocs = 0;
    for (int round = 0; round < 20000; round++) {
        unsigned k = next() % SLOTS;
        if (slot[k]) {
            ok &= check(slot[k], slen[k], k);
            free(slot[k]);
            slot[k] = NULL;
        } else {
            size_t n = (next() % 16 == 0) ? 100000 + next() % 200000 : 1 + next() % 2000;
            slot[k] = malloc(n);
            if (!slot[k]) { printf("churn malloc failed\n"); return 1; }
            slen[k] = n;
            fill(slot[k], n, k);
            allocs++;
        }
        unsigned long live = 0;
        for (int j = 0; j < SLOTS; j++) live += slot[j] != NULL;
        if (live > live_max) live_max = live;
    }
    for (int j = 0; j < SLOTS; j++) {
        if (slot[j]) { ok &= check(slot[j], slen[j], j); free(slot[j]); }
    }
    printf("churn: %lu allocations, max %lu live\n", allocs, live_max);

    /* calloc must hand back zeroed memory, also when it reuses freed chunks. */
    unsigned char *z = calloc(300000, 1);
    size_t nz = 0;
    for (size_t i = 0; i < 300000; i++) nz += z[i] != 0;
    printf("calloc nonzero bytes: %zu\n", nz);
    ok &= nz == 0;
    free(z);

    printf("summary: %s\n", ok ? "all checks passed" : "FAILURES");
    return ok ? 0 : 1;
}
