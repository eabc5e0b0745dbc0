/* Must be stopped by an instruction or time limit: spins forever without
 * making syscalls. */
#include <stdint.h>
#include <stdio.h>

int main(void) {
    printf("looping forever\n");
    fflush(stdout);
    volatile uint64_t counter = 0;
    for (;;) counter++;
}
