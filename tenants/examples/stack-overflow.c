/* Adversarial: on_recv recurses without bound, 1 KiB of stack per frame,
 * until it runs off the stack (error kind `stack_overflow`). */
#include <rvedge.h>

/* Never set; only there so the recursion is not provably infinite (which
 * GCC would warn about). */
static volatile int stop;

__attribute__((noinline)) static uint64_t recurse(uint64_t depth) {
    volatile unsigned char frame[1024];
    frame[0] = (unsigned char)depth;
    if (stop) {
        return 0;
    }
    /* Using frame after the call keeps it from being a tail call, so every
     * level really takes a new frame. */
    return recurse(depth + 1) + frame[0];
}

static void on_recv(rvedge_word data, rvedge_word req, rvedge_word resp) {
    (void)data;
    (void)req;
    (void)resp;
    recurse(0);
}

int main(void) {
    rvedge_wait_for_requests(on_recv, 0);
}
