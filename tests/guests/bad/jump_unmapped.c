/* Must fail: jumps to an address far from any mapping (guest SIGSEGV). */
#include <stdio.h>

int main(void) {
    void (*volatile target)(void) = (void (*)(void))0x7000000000ull;
    printf("jumping to %p\n", (void *)target);
    fflush(stdout);
    target();
    printf("unreachable\n");
    return 0;
}
