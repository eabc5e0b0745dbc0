/* Adversarial: on_recv executes the all-zero word, which RISC-V defines to be
 * an illegal instruction (error kind `illegal_instruction`). */
#include <rvedge.h>

static void on_recv(rvedge_word data, rvedge_word req, rvedge_word resp) {
    (void)data;
    (void)req;
    (void)resp;
    __asm__ volatile(".word 0");
}

int main(void) {
    rvedge_wait_for_requests(on_recv, 0);
}
