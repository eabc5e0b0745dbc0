/* For emulator/tests/fuzz_findings.rs: on_recv writes a line to stdout, logs one with `log`,
 * writes another to stdout, and answers; the host's log must hold the three in that order,
 * whether the hook runs in one go or is stepped. */
#include <rvedge.h>

#include <unistd.h>

static void on_recv(uint64_t data, uint64_t req, uint64_t resp) {
    (void)data;
    (void)req;
    (void)resp;
    write(1, "before\n", 7);
    rvedge_log("logged", 6);
    write(1, "after\n", 6);
    rvedge_respond_str(200, "text/plain", "ok");
}

int main(void) {
    rvedge_wait_for_requests(on_recv, 0);
}
