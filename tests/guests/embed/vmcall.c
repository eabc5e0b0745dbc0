/* Exercises the embedding API (emulator/tests/embedding.rs), not run under qemu:
 * host calls (ecall numbers >= 500), a snapshot taken while the guest waits in
 * a host call, and vmcalls of a guest function on machines made from it.
 *
 *   ecall 500 (a0 = &add_and_count): the host answers with a number in a0.
 *   ecall 501: "wait here"; the host snapshots the machine at this point.
 */
#include <stdio.h>
#include <stdlib.h>

static long counter;
static char *heap_note;

/* Called by the host on forks of the snapshot: every fork must start from the
 * snapshot's counter and heap, whatever other forks did. */
long add_and_count(long a, long b) {
    counter++;
    heap_note[0]++;
    return a + b + counter * 100 + heap_note[0];
}

static long host_call(long number, long argument) {
    register long a0 __asm__("a0") = argument;
    register long a7 __asm__("a7") = number;
    __asm__ volatile("ecall" : "+r"(a0) : "r"(a7) : "memory");
    return a0;
}

int main(void) {
    heap_note = malloc(16);
    heap_note[0] = 0;
    long answer = host_call(500, (long)&add_and_count);
    printf("host answered %ld\n", answer);
    host_call(501, 0);
    printf("resumed with counter %ld\n", counter);
    return (int)counter;
}
