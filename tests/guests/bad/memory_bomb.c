/* Allocates 1 MiB blocks and touches every page until malloc fails, then
 * reports the count and exits 0. Under a memory cap this should end in
 * malloc returning NULL (or a clean kill); without one it would exhaust
 * host memory, so it stops itself at 64 GiB. */
#include <stdio.h>
#include <stdlib.h>

int main(void) {
    const size_t block = 1 << 20;
    unsigned long n = 0;
    for (; n < 65536; n++) {
        char *p = malloc(block);
        if (!p) break;
        for (size_t i = 0; i < block; i += 4096) p[i] = (char)i;
    }
    printf("allocated %lu MiB before malloc failed\n", n);
    return 0;
}
