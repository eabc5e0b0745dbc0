/* Adversarial: on_recv allocates and fills 1 MiB after 1 MiB and never frees,
 * so the host must stop it at its memory limit (error kind `memory_limit`). */
#include <rvedge.h>

#include <stdlib.h>
#include <string.h>

#define CHUNK (1u << 20)

static void on_recv(uint64_t data, uint64_t req, uint64_t resp) {
    (void)data;
    (void)req;
    (void)resp;
    for (;;) {
        char *chunk = malloc(CHUNK);
        if (chunk == NULL) {
            abort(); /* allocation failed at the limit: die */
        }
        memset(chunk, 0x5a, CHUNK);
        /* The chunk "escapes", so the compiler cannot drop the malloc and
         * memset as dead stores. */
        __asm__ volatile("" : : "r"(chunk) : "memory");
    }
}

int main(void) {
    rvedge_wait_for_requests(on_recv, 0);
}
