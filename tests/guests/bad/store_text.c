/* Must fail: overwrites the first instruction of main (text is mapped
 * read+execute, never writable). */
#include <stdint.h>
#include <stdio.h>

int main(void) {
    volatile uint32_t *code = (volatile uint32_t *)(uintptr_t)&main;
    printf("writing to .text\n");
    fflush(stdout);
    *code = 0x00000013; /* nop */
    printf("unreachable\n");
    return 0;
}
