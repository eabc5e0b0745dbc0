/* A tenant to debug with GDB: on_recv stops at breakpoint() when it runs as a
 * debug program (VCL live_debug() + fork(tenant, debug); elsewhere the call
 * does nothing), then computes a header. vmod/tests/debugger.vtc and
 * cli/tests/gdb.rs build it with -g and drive gdb-multiarch through it. */
#include <rvedge.h>

#include <stdio.h>

/* Not static, so the debugger finds it by name at any optimisation level. */
__attribute__((noinline)) int compute(int count) {
    int doubled = count * 2;
    int answer = doubled + 1;
    return answer;
}

static void on_recv(rvedge_word data, rvedge_word req, rvedge_word resp) {
    (void)data;
    (void)resp;
    rvedge_breakpoint();
    char text[32];
    snprintf(text, sizeof text, "%d", compute(20));
    rvedge_header_set_str(req, "X-Answer", text);
    rvedge_respond_str(200, "text/plain", text);
}

int main(void) { rvedge_wait_for_requests(on_recv, 0); }
