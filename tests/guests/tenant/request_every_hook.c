/* Reads the client request (X-Marker, URL, method) in every hook, for the
 * proxy-wasm filter's tests in a real Envoy, where the request headers stop
 * being readable once they went upstream: the filter must still show every
 * hook the request as every other host does.
 *
 * Each hook writes what it saw as "<marker> <method> <url> body=<n>" (n: the
 * body_get result, a length or a negative errno, on the backend side only):
 * on_recv and on_hash into the request (x-seen-recv, x-seen-hash: the
 * origin echoes them), on_backend_fetch into the backend request
 * (x-seen-fetch), on_backend_response and on_deliver into the response
 * (x-seen-backend-response, x-seen-deliver). URL "/forge" forges: the
 * callback answers with what it saw of the backend request as the body.
 *
 * URL "/in-step" changes the request in on_recv (x-a set, x-d appended twice,
 * x-b unset, URL set) and reads it back (`read_back`) into x-read-back;
 * on_deliver reads it back again into the response's x-read-back-deliver. A
 * host that keeps a copy of the request headers must show the tenant its own
 * changes, in the hook that made them and in the hooks after. */
#include <rvedge.h>

#include <stdio.h>
#include <string.h>

#define S(text) text, (sizeof text - 1)

static int seen(uint64_t set, int with_body, char *out, size_t out_cap) {
    char marker[128], method[16], url[256];
    int64_t marker_len = rvedge_header_get(set, S("X-Marker"), marker, sizeof marker);
    int64_t method_len = rvedge_method_get(set, method, sizeof method);
    int64_t url_len = rvedge_url_get(set, url, sizeof url);
    int64_t body = with_body ? rvedge_body_get(NULL, 0) : 0;
    if (marker_len < 0 || marker_len > (int64_t)sizeof marker) {
        marker_len = snprintf(marker, sizeof marker, "error%lld", (long long)marker_len);
    }
    if (method_len < 0 || method_len > (int64_t)sizeof method) {
        method_len = snprintf(method, sizeof method, "error%lld", (long long)method_len);
    }
    if (url_len < 0 || url_len > (int64_t)sizeof url) {
        url_len = snprintf(url, sizeof url, "error%lld", (long long)url_len);
    }
    int n = snprintf(out, out_cap, "%.*s %.*s %.*s", (int)marker_len, marker, (int)method_len,
                     method, (int)url_len, url);
    if (with_body && n > 0 && (size_t)n < out_cap) {
        n += snprintf(out + n, out_cap - (size_t)n, " body=%lld", (long long)body);
    }
    return n > 0 && (size_t)n < out_cap ? n : 0;
}

/* Writes what `from` shows of the request into header `name` of `to`. */
static void report(uint64_t from, int with_body, uint64_t to, const char *name, size_t name_len) {
    char line[512];
    int n = seen(from, with_body, line, sizeof line);
    rvedge_header_set(to, name, name_len, line, (size_t)n);
}

/* "x-a=<value> x-b=<value> x-d=<first value> url=<url> names=<n1>,<n2>...", a
 * value "-" when absent; names are those of the x-? headers, in order. */
static int read_back(uint64_t set, char *out, size_t out_cap) {
    static const char *const names[] = {"x-a", "x-b", "x-d"};
    size_t n = 0;
    char value[64];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        int64_t len = rvedge_header_get(set, names[i], 3, value, sizeof value);
        if (len < 0 || len > (int64_t)sizeof value) {
            n += (size_t)snprintf(out + n, out_cap - n, "%s=- ", names[i]);
        } else {
            n += (size_t)snprintf(out + n, out_cap - n, "%s=%.*s ", names[i], (int)len, value);
        }
    }
    int64_t len = rvedge_url_get(set, value, sizeof value);
    n += (size_t)snprintf(out + n, out_cap - n, "url=%.*s names=",
                          (int)(len > 0 && len <= (int64_t)sizeof value ? len : 0), value);
    const char *separator = "";
    int64_t count = rvedge_header_count(set);
    for (int64_t index = 0; index < count && n < out_cap; index++) {
        /* header_at writes "name: value". */
        char header[128];
        len = rvedge_header_at(set, (uint64_t)index, header, sizeof header);
        if (len >= 4 && header[0] == 'x' && header[1] == '-' && header[3] == ':') {
            n += (size_t)snprintf(out + n, out_cap - n, "%s%.3s", separator, header);
            separator = ",";
        }
    }
    return n < out_cap ? (int)n : 0;
}

static void change_and_read_back(uint64_t req) {
    rvedge_header_set(req, S("X-A"), S("one"));
    rvedge_header_append(req, S("x-d"), S("4"));
    rvedge_header_append(req, S("x-d"), S("44"));
    rvedge_header_unset(req, S("x-b"));
    rvedge_url_set(req, S("/changed?x=1"));
    char line[512];
    int n = read_back(req, line, sizeof line);
    rvedge_header_set(req, S("x-read-back"), line, (size_t)n);
}

static void on_hash(uint64_t data, uint64_t req, uint64_t resp) {
    (void)data;
    (void)resp;
    report(req, 0, req, S("x-seen-hash"));
}

static void on_backend_fetch(uint64_t data, uint64_t bereq, uint64_t beresp) {
    (void)data;
    (void)beresp;
    report(bereq, 1, bereq, S("x-seen-fetch"));
}

static void on_backend_response(uint64_t data, uint64_t bereq, uint64_t beresp) {
    (void)data;
    report(bereq, 1, beresp, S("x-seen-backend-response"));
}

static void on_deliver(uint64_t data, uint64_t req, uint64_t resp) {
    (void)data;
    report(req, 0, resp, S("x-seen-deliver"));
    char line[512];
    int n = read_back(req, line, sizeof line);
    rvedge_header_set(resp, S("x-read-back-deliver"), line, (size_t)n);
}

static void forged(uint64_t data, uint64_t bereq, uint64_t beresp) {
    (void)data;
    (void)beresp;
    char line[512];
    int n = seen(bereq, 1, line, sizeof line);
    rvedge_respond(200, S("text/plain"), line, (size_t)n);
}

static void on_recv(uint64_t data, uint64_t req, uint64_t resp) {
    (void)data;
    (void)resp;
    report(req, 0, req, S("x-seen-recv"));
    char url[64];
    int64_t url_len = rvedge_url_get(req, url, sizeof url);
    if (url_len == 6 && memcmp(url, "/forge", 6) == 0) {
        rvedge_forge(RVEDGE_UNCACHED, forged, 0);
    } else if (url_len == 8 && memcmp(url, "/in-step", 8) == 0) {
        change_and_read_back(req);
    }
}

int main(void) {
    rvedge_set_hook(RVEDGE_HOOK_ON_HASH, on_hash, 0);
    rvedge_set_hook(RVEDGE_HOOK_ON_BACKEND_FETCH, on_backend_fetch, 0);
    rvedge_set_hook(RVEDGE_HOOK_ON_BACKEND_RESPONSE, on_backend_response, 0);
    rvedge_set_hook(RVEDGE_HOOK_ON_DELIVER, on_deliver, 0);
    rvedge_wait_for_requests(on_recv, 0);
}
