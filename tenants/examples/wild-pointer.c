/* Adversarial: on_recv passes header_get a name pointer into unmapped memory,
 * which the host must refuse without touching it (error kind
 * `bad_argument`). */
#include <rvedge.h>

static void on_recv(rvedge_word data, rvedge_word req, rvedge_word resp) {
    (void)data;
    (void)resp;
    char out[64];
    rvedge_header_get(req, (const char *)(uintptr_t)0xdead0000, 16, out, sizeof out);
}

int main(void) {
    rvedge_wait_for_requests(on_recv, 0);
}
