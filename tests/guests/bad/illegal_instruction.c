/* Must fail with an illegal-instruction trap (guest SIGILL).
 * 0x00000000 is defined as illegal (and as a 16-bit parcel it is the
 * reserved c.illegal encoding); 0xffffffff would be a >32-bit-length
 * prefix, so the all-zero parcel is the unambiguous choice. */
#include <stdio.h>

int main(void) {
    printf("executing an illegal instruction\n");
    fflush(stdout);
    __asm__ volatile(".4byte 0x00000000");
    printf("unreachable\n");
    return 0;
}
