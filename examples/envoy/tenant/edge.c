/* The tenant embedded in examples/envoy: freestanding (no libc) so its ELF is small enough to
 * sit in a plugin configuration as base64. /api/ goes to the "api" backend (Envoy routes on
 * x-rvedge-backend), /hello is forged at the edge, everything else passes with a header.
 * Rebuild with build.sh; examples/envoy's test checks the embedded copy still boots. */
#include <rvedge.h>

/* gcc may turn loops into calls to these even without libc. */
void *memcpy(void *to, const void *from, size_t size) {
    char *out = to;
    const char *in = from;
    while (size--) {
        *out++ = *in++;
    }
    return to;
}

size_t strlen(const char *text) {
    size_t length = 0;
    while (text[length]) {
        length++;
    }
    return length;
}

static int starts_with(const char *text, int64_t length, const char *prefix) {
    int64_t prefix_length = (int64_t)strlen(prefix);
    if (length < prefix_length) {
        return 0;
    }
    for (int64_t index = 0; index < prefix_length; index++) {
        if (text[index] != prefix[index]) {
            return 0;
        }
    }
    return 1;
}

static void hello(uint64_t data, uint64_t bereq, uint64_t beresp) {
    (void)data;
    (void)bereq;
    (void)beresp;
    rvedge_respond_str(200, "application/json", "{\"message\":\"Hello from RISC-V in Envoy!\"}");
}

static void on_recv(uint64_t data, uint64_t req, uint64_t resp) {
    (void)data;
    (void)resp;
    char url[256];
    int64_t length = rvedge_url_get(req, url, sizeof url);
    rvedge_header_set_str(req, "X-Edge-Tenant", "edge");
    if (starts_with(url, length, "/hello")) {
        rvedge_forge(RVEDGE_CACHED, hello, 0);
    } else if (starts_with(url, length, "/api/")) {
        rvedge_backend_set_str("api");
    }
}

void _start(void) {
    rvedge_wait_for_requests(on_recv, 0);
}
