/* Adversarial: on_recv never returns, so the host must stop it at its
 * instruction budget (error kind `timeout`). */
#include <rvedge.h>

static void on_recv(rvedge_word data, rvedge_word req, rvedge_word resp) {
    (void)data;
    (void)req;
    (void)resp;
    for (;;) {
        /* Keeps the compiler from treating the loop as removable. */
        __asm__ volatile("");
    }
}

int main(void) {
    rvedge_wait_for_requests(on_recv, 0);
}
