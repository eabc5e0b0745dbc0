/* For emulator/tests/fuzz_findings.rs: on_recv writes a line to stdout, logs one with `log`,
 * writes another to stdout, and answers; the host's log must hold the three in that order,
 * whether the hook runs in one go or is stepped. Before answering it logs 60 KiB, then
 * writes a 10 KiB line (past the request's 64 KiB of log) and a short one: the log ends with
 * the 60 KiB and the note that output was cut, stepped or not. */
#include <rvedge.h>

#include <string.h>
#include <unistd.h>

static char filler[60 << 10];
static char too_long[10 << 10];

static void on_recv(uint64_t data, uint64_t req, uint64_t resp) {
    (void)data;
    (void)req;
    (void)resp;
    write(1, "before\n", 7);
    rvedge_log("logged", 6);
    write(1, "after\n", 6);
    memset(filler, 'x', sizeof filler);
    rvedge_log(filler, sizeof filler);
    memset(too_long, 'y', sizeof too_long - 1);
    too_long[sizeof too_long - 1] = '\n';
    write(1, too_long, sizeof too_long);
    write(1, "dropped\n", 8);
    rvedge_respond_str(200, "text/plain", "ok");
}

int main(void) {
    rvedge_wait_for_requests(on_recv, 0);
}
