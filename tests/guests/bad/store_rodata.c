/* Must fail: writes into a string literal, which lives in a read-only
 * segment (.rodata). A volatile pointer keeps the compiler from folding it. */
#include <stdio.h>

static const char message[] = "read-only data";

int main(void) {
    char *volatile p = (char *)message;
    printf("writing to .rodata\n");
    fflush(stdout);
    p[0] = 'R';
    printf("unreachable: %s\n", message);
    return 0;
}
