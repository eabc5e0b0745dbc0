/* String functions that fault, one case per argument (emulator/tests/host_functions.rs):
 * with host-side string functions the machine must stop exactly where glibc's own code
 * stops it, at the same pc and address, with the same output before it. Ranges run into a
 * page the program cannot access (PROT_NONE) or write (PROT_READ), at odd offsets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    long page = sysconf(_SC_PAGESIZE);
    /* [readable page][no access][read-only] */
    unsigned char *area = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED) return 3;
    memset(area, 'a', page);
    mprotect(area + page, page, PROT_NONE);
    mprotect(area + 2 * page, page, PROT_READ);
    unsigned char *guard = area + page, *read_only = area + 2 * page;
    static unsigned char buffer[8192];
    memset(buffer, 'a', sizeof buffer);
    unsigned char *near_end = guard - 37;
    int which = atoi(argv[1]);
    printf("case %d\n", which);
    fflush(stdout);
    volatile long result = 0;
    switch (which) {
    case 1: memcpy(buffer + 3, near_end, 100); break;
    case 2: memcpy(read_only - 21, buffer, 100); break;
    case 3: memmove(near_end + 5, near_end, 60); break;
    case 4: memmove(near_end, near_end + 3, 60); break;
    case 5: memset(near_end, 0, 38); break;
    case 6: result = (long)strlen((char *)near_end); break;
    case 7: result = strcmp((char *)near_end, (char *)buffer); break;
    case 8: result = strncmp((char *)buffer, (char *)near_end, 500); break;
    case 9: result = (long)strchr((char *)near_end, 'z'); break;
    case 10: result = (long)memchr(near_end, 'z', 4000); break;
    case 11: result = memcmp(near_end, buffer, 100); break;
    case 12: buffer[1] = 'b'; result = memcmp(near_end, buffer, 100); break;
    case 13: result = (long)strlen(NULL); break;
    case 14: memcpy(buffer, area, (size_t)-64); break;
    case 15: memset(read_only, 1, 0); memcpy(buffer, guard, 0); result = strncmp((char *)guard, "", 0); break;
    case 16: {
        /* Overlapping memcpy is undefined; glibc's loop decides the bytes. */
        for (int i = 0; i < 64; i++) buffer[i] = (unsigned char)i;
        memcpy(buffer + 3, buffer, 50);
        memcpy(buffer + 100, buffer + 101, 50);
        unsigned sum = 0;
        for (int i = 0; i < 160; i++) sum = sum * 31u + buffer[i];
        result = sum;
        break;
    }
    /* A length that wraps the address space, from the middle of a page just written (so
     * the emulator's TLB holds it): no page check may add it to the offset and wrap back
     * into the page (run with an unlimited budget, so the host does not leave it to this
     * code for its price). */
    case 17: {
        volatile size_t wrapping = (size_t)-256;
        area[page / 2] = 'y';
        memset(area + page / 2, 'x', wrapping);
        break;
    }
    default: return 4;
    }
    printf("returned %ld\n", (long)result);
    return 0;
}
