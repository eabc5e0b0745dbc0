/* Adversarial: on_recv takes 1 MiB after 1 MiB from the program break, writes
 * to every page of each and never gives any back, so the host must stop it at
 * its memory limit (error kind `memory_limit`) long before its instruction
 * budget. (sbrk rather than malloc: picolibc's malloc clears what it hands
 * out, byte by byte, which would run out of instructions first.) */
#include <rvedge.h>

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define CHUNK (1u << 20)
#define PAGE 4096u

static void on_recv(rvedge_word data, rvedge_word req, rvedge_word resp) {
    (void)data;
    (void)req;
    (void)resp;
    for (;;) {
        char *chunk = sbrk(CHUNK);
        if (chunk == (char *)-1) {
            abort(); /* the break cannot grow any further: die */
        }
        for (uint32_t offset = 0; offset < CHUNK; offset += PAGE) {
            chunk[offset] = 0x5a;
        }
        /* The chunk "escapes", so the compiler cannot drop the stores as dead. */
        __asm__ volatile("" : : "r"(chunk) : "memory");
    }
}

int main(void) {
    rvedge_wait_for_requests(on_recv, 0);
}
