/* Guards an origin from the backend side: every request to the origin gets
 * X-Origin-Token (the first 8 bytes of SHA-256 of its URL, in hex) and loses
 * the client's Cookie; every origin response gets X-Origin-Checked: 1, and an
 * origin 404 becomes a 410 with X-Origin-Missing naming the URL.
 *
 * It also exports functions a host calls by name (docs/abi.md, "Functions the
 * host calls by name"; Varnish: riscv.call("greet", "world")). */
#include <rvedge.h>

#include <stdio.h>

/* The token of a URL: hex of the first TOKEN_BYTES of its SHA-256. */
#define TOKEN_BYTES 8

static void on_backend_fetch(rvedge_word data, rvedge_word bereq, rvedge_word beresp) {
    (void)data;
    (void)beresp;
    char url[2048];
    int64_t len = rvedge_url_get(bereq, url, sizeof url);
    if (len < 0) {
        return;
    }
    if (len > (int64_t)sizeof url) {
        /* Longer URLs are tokenised by their first 2 KiB: the token only has to be stable. */
        len = sizeof url;
    }
    uint8_t digest[RVEDGE_DIGEST_LEN];
    rvedge_sha256(url, (size_t)len, digest);
    char token[2 * TOKEN_BYTES + 1];
    for (int index = 0; index < TOKEN_BYTES; index++) {
        snprintf(token + 2 * index, 3, "%02x", digest[index]);
    }
    rvedge_header_set_str(bereq, "X-Origin-Token", token);
    rvedge_header_unset_str(bereq, "Cookie");
}

static void on_backend_response(rvedge_word data, rvedge_word bereq, rvedge_word beresp) {
    (void)data;
    rvedge_header_set_str(beresp, "X-Origin-Checked", "1");
    if (rvedge_status_get(beresp) != 404) {
        return;
    }
    char url[1024];
    if (rvedge_url_get_str(bereq, url, sizeof url) < 0) {
        url[0] = '\0';
    }
    rvedge_status_set(beresp, 410);
    rvedge_header_set_str(beresp, "X-Origin-Missing", url);
}

/* Requests go on to the origin as they are; the work is on the backend side. */
static void on_recv(rvedge_word data, rvedge_word req, rvedge_word resp) {
    (void)data;
    (void)req;
    (void)resp;
}

/* ---- Functions the host calls by name --------------------------------------
 * Each is `const char *name(const char *argument)`; the result must stay valid
 * after the return, hence the static buffer (every request has its own copy:
 * it runs in its own fork). */

static char greeting[256];

const char *greet(const char *who) {
    snprintf(greeting, sizeof greeting, "hello, %s", who);
    return greeting;
}

/* The argument itself: shows it arrives intact. */
const char *echo(const char *text) {
    return text;
}

/* The client request's URL, read with a tenant call (allowed where req exists). */
const char *request_url(const char *unused) {
    (void)unused;
    static char url[1024];
    if (rvedge_url_get_str(RVEDGE_REQ, url, sizeof url) < 0) {
        return NULL;
    }
    return url;
}

int main(void) {
    rvedge_set_hook(RVEDGE_HOOK_ON_BACKEND_FETCH, on_backend_fetch, 0);
    rvedge_set_hook(RVEDGE_HOOK_ON_BACKEND_RESPONSE, on_backend_response, 0);
    rvedge_wait_for_requests(on_recv, 0);
}
