/* Live update, new side (with counter_v1.c), for emulator/tests/tenant_runtime.rs.
 * on_resume_update restores the old program's state into a global (checking
 * that its length argument agrees with state_restore); requests answer
 * "v2 restored=<state>". */
#include <rvedge.h>

#include <stdio.h>

static char restored[64];

static void on_resume_update(rvedge_word data, rvedge_word length, rvedge_word arg2) {
    (void)data;
    (void)arg2;
    int64_t len = rvedge_state_restore(restored, sizeof restored - 1);
    if (len < 0 || (uint64_t)len != length || len >= (int64_t)sizeof restored) {
        snprintf(restored, sizeof restored, "bad restore: %lld of %llu", (long long)len,
                 (unsigned long long)length);
        return;
    }
    restored[len] = '\0';
}

static void on_recv(rvedge_word data, rvedge_word req, rvedge_word resp) {
    (void)data;
    (void)req;
    (void)resp;
    char body[96];
    int n = snprintf(body, sizeof body, "v2 restored=%s", restored);
    rvedge_respond(200, "text/plain", 10, body, (size_t)n);
}

int main(void) {
    rvedge_set_hook(RVEDGE_HOOK_ON_RESUME_UPDATE, on_resume_update, 0);
    rvedge_wait_for_requests(on_recv, 0);
}
