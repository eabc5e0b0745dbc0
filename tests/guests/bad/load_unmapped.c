/* Must fail: loads from an unmapped address (guest SIGSEGV). */
#include <stdint.h>
#include <stdio.h>

int main(void) {
    volatile uint64_t *p = (volatile uint64_t *)0x7000000000ull;
    printf("loading from %p\n", (void *)p);
    fflush(stdout);
    uint64_t v = *p;
    printf("unreachable: %llx\n", (unsigned long long)v);
    return 0;
}
