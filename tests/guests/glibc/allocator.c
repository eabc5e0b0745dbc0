/* glibc's malloc family as a program sees it, for rvedge's host heap
 * (emulator/src/native/heap.rs) against glibc's own allocator under qemu:
 * alignment of every entry point, zero sizes, realloc growing in place and
 * moving, calloc clearing reused blocks, failures with NULL and errno, and a
 * long random mix of allocations checked byte for byte. Pointer values are
 * never printed (they differ between allocators); only what a program may
 * rely on is. */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t rng = 777;
static uint32_t next(void) {
    rng = rng * 1103515245u + 12345u;
    return rng >> 8;
}

static int aligned(void *p, size_t alignment) { return ((uintptr_t)p % alignment) == 0; }

static int all_zero(const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

enum { SLOTS = 64 };
static unsigned char *slot[SLOTS];
static size_t slot_size[SLOTS];
static unsigned char slot_seed[SLOTS];

static int slot_ok(int i) {
    for (size_t j = 0; j < slot_size[i]; j++)
        if (slot[i][j] != (unsigned char)(slot_seed[i] + j)) return 0;
    return 1;
}

int main(void) {
    void *zero = malloc(0);
    printf("malloc(0) non-null %d aligned %d\n", zero != NULL, aligned(zero, 16));
    free(zero);
    free(NULL);
    for (size_t n = 1; n <= 4096; n = n * 3 + 1) {
        void *p = malloc(n);
        printf("malloc(%zu) aligned %d usable %d\n", n, aligned(p, 16),
               malloc_usable_size(p) >= n);
        free(p);
    }

    /* calloc clears, even a block that was dirty before. */
    unsigned char *dirty = malloc(200);
    memset(dirty, 0xab, 200);
    /* Printed, so the compiler cannot drop the block as unused. */
    printf("dirty block written %d\n", dirty[199] == 0xab);
    free(dirty);
    unsigned char *cleared = calloc(25, 8);
    printf("calloc cleared %d\n", all_zero(cleared, 200));
    free(cleared);

    /* Aligned allocations. */
    static const size_t alignments[] = {8, 16, 32, 64, 256, 4096, 65536};
    for (size_t i = 0; i < sizeof alignments / sizeof alignments[0]; i++) {
        size_t al = alignments[i];
        void *m = memalign(al, 100);
        void *a = aligned_alloc(al, 3 * al);
        void *p = NULL;
        int rc = posix_memalign(&p, al, 33);
        printf("align %zu: memalign %d aligned_alloc %d posix_memalign %d %d\n", al,
               aligned(m, al), aligned(a, al), rc, rc == 0 && aligned(p, al));
        memset(m, 1, 100);
        memset(a, 2, 3 * al);
        free(m);
        free(a);
        free(p);
    }
    void *odd = memalign(48, 10); /* rounded up to a power of two */
    printf("memalign(48) aligned to 64: %d\n", aligned(odd, 64));
    free(odd);
    void *p = (void *)1;
    printf("posix_memalign(12) %d unchanged %d\n", posix_memalign(&p, 12, 8), p == (void *)1);
    printf("posix_memalign(24) %d\n", posix_memalign(&p, 24, 8));
    void *v = valloc(10), *pv = pvalloc(5000);
    printf("valloc %d pvalloc %d usable %d\n", aligned(v, 4096), aligned(pv, 4096),
           malloc_usable_size(pv) >= 8192);
    free(v);
    free(pv);

    /* realloc: NULL, growing, shrinking, to zero. */
    char *s = realloc(NULL, 5);
    strcpy(s, "abcd");
    for (size_t n = 8; n < 300000; n *= 3) {
        s = realloc(s, n);
        memset(s + 4, 'z', n - 5);
        s[n - 1] = 0;
        printf("realloc %zu keeps %.4s len %zu\n", n, s, strlen(s));
    }
    s = realloc(s, 3);
    printf("shrunk keeps %.3s\n", s);
    printf("realloc to 0 gives NULL: %d\n", realloc(s, 0) == NULL);
    char *copy = strdup("duplicated string");
    printf("%s\n", copy);
    free(copy);

    /* Failures: NULL and ENOMEM, the old block intact. */
    errno = 0;
    void *huge = malloc((size_t)1 << 50);
    printf("huge malloc NULL %d errno ENOMEM %d\n", huge == NULL, errno == ENOMEM);
    errno = 0;
    void *over = calloc((size_t)1 << 40, (size_t)1 << 40);
    printf("overflowing calloc NULL %d errno ENOMEM %d\n", over == NULL, errno == ENOMEM);
    char *keep = malloc(16);
    strcpy(keep, "still here");
    errno = 0;
    char *grown = realloc(keep, (size_t)1 << 50);
    printf("huge realloc NULL %d errno ENOMEM %d old %s\n", grown == NULL, errno == ENOMEM, keep);
    free(keep);

    /* A long random mix, every live block checked against its pattern. */
    int ok = 1;
    for (int round = 0; round < 5000; round++) {
        int i = (int)(next() % SLOTS);
        if (slot[i] && !slot_ok(i)) ok = 0;
        switch (next() % 4) {
        case 0:
        case 1: {
            free(slot[i]);
            size_t n = next() % 8 == 0 ? next() % 100000 : next() % 300;
            slot[i] = next() % 2 ? malloc(n) : calloc(1, n);
            slot_size[i] = n;
            break;
        }
        case 2: {
            size_t n = next() % 2000;
            unsigned char *r = realloc(slot[i], n);
            if (n == 0) {
                slot[i] = NULL;
                slot_size[i] = 0;
                continue;
            }
            if (r == NULL) {
                printf("realloc failed in round %d\n", round);
                return 1;
            }
            slot[i] = r;
            if (slot_size[i] > n) slot_size[i] = n;
            if (!slot_ok(i)) ok = 0;
            slot_size[i] = n;
            break;
        }
        default:
            free(slot[i]);
            slot[i] = NULL;
            slot_size[i] = 0;
            continue;
        }
        if (slot[i] == NULL && slot_size[i] != 0) {
            printf("allocation failed in round %d\n", round);
            return 1;
        }
        slot_seed[i] = (unsigned char)next();
        for (size_t j = 0; j < slot_size[i]; j++) slot[i][j] = (unsigned char)(slot_seed[i] + j);
    }
    for (int i = 0; i < SLOTS; i++) {
        if (slot[i] && !slot_ok(i)) ok = 0;
        free(slot[i]);
    }
    printf("random mix: %s\n", ok ? "ok" : "CORRUPT");
    return ok ? 0 : 1;
}
