/* Live update, old side (with counter_v2.c), for emulator/tests/tenant_runtime.rs.
 * main() builds "from-v1:<argv[1] or none>:<n>" where n counts the calls to
 * main (1); on_live_update hands it over with state_save. Requests answer
 * "v1 value=<value>". */
#include <rvedge.h>

#include <stdio.h>

static char value[64];
static int value_len;
static int boots;

static void on_live_update(rvedge_word data, rvedge_word arg1, rvedge_word arg2) {
    (void)data;
    (void)arg1;
    (void)arg2;
    rvedge_state_save(value, (size_t)value_len);
}

static void on_recv(rvedge_word data, rvedge_word req, rvedge_word resp) {
    (void)data;
    (void)req;
    (void)resp;
    char body[96];
    int n = snprintf(body, sizeof body, "v1 value=%s", value);
    rvedge_respond(200, "text/plain", 10, body, (size_t)n);
}

int main(int argc, char **argv) {
    boots++;
    value_len = snprintf(value, sizeof value, "from-v1:%s:%d", argc > 1 ? argv[1] : "none",
                         boots);
    rvedge_set_hook(RVEDGE_HOOK_ON_LIVE_UPDATE, on_live_update, 0);
    rvedge_wait_for_requests(on_recv, 0);
}
