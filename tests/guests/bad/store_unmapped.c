/* Must fail: stores to an unmapped address (guest SIGSEGV). Page 0 is
 * never mapped either; the high address avoids depending on mmap_min_addr. */
#include <stdint.h>
#include <stdio.h>

int main(void) {
    volatile uint64_t *p = (volatile uint64_t *)0x7000000008ull;
    printf("storing to %p\n", (void *)p);
    fflush(stdout);
    *p = 0x1234;
    printf("unreachable\n");
    return 0;
}
