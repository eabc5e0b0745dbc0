/* glibc's string functions that rvedge's host can run in their place (rvedge::native), one
 * call at a time, for the host_functions fuzz target (fuzz/src/host_functions.rs): main()
 * lays out memory, hands the host `call` and its two regions (host call 500) and waits (host
 * call 501); the target calls `call` in machines made from that snapshot, once with glibc's
 * code and once with the host's, and compares what they did.
 *
 * area:   [read-write page][no access][read-only page], from mmap
 * buffer: three read-write pages of the program's data
 * Both hold text: letters with a NUL every 61 bytes and a '#' every 97. */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#define PAGE 4096

static unsigned char buffer[3 * PAGE] __attribute__((aligned(PAGE)));

long call(long function, unsigned char *a, unsigned char *b, unsigned long length, long byte) {
    switch (function) {
    case 0: return (long)memcpy(a, b, length);
    case 1: return (long)memmove(a, b, length);
    case 2: return (long)memset(a, (int)byte, length);
    case 3: return memcmp(a, b, length);
    case 4: return (long)memchr(a, (int)byte, length);
    case 5: return (long)strlen((char *)a);
    case 6: return strcmp((char *)a, (char *)b);
    case 7: return strncmp((char *)a, (char *)b, length);
    case 8: return (long)strchr((char *)a, (int)byte);
    default: return -1;
    }
}

static long host_call(long number, long a0, long a1, long a2) {
    register long r0 __asm__("a0") = a0;
    register long r1 __asm__("a1") = a1;
    register long r2 __asm__("a2") = a2;
    register long r7 __asm__("a7") = number;
    __asm__ volatile("ecall" : "+r"(r0) : "r"(r1), "r"(r2), "r"(r7) : "memory");
    return r0;
}

static void fill(unsigned char *bytes, unsigned long length) {
    for (unsigned long i = 0; i < length; i++) {
        bytes[i] = i % 61 == 60 ? 0 : i % 97 == 96 ? '#' : 'a' + i % 26;
    }
}

int main(void) {
    unsigned char *area = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED) return 3;
    fill(area, 3 * PAGE);
    fill(buffer, sizeof buffer);
    mprotect(area + PAGE, PAGE, PROT_NONE);
    mprotect(area + 2 * PAGE, PAGE, PROT_READ);
    host_call(500, (long)&call, (long)area, (long)buffer);
    host_call(501, 0, 0, 0);
    return 0;
}
