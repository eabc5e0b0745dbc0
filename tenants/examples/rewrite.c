/* Rewrites legacy URLs: /old/... becomes /new/... (marked with
 * X-Rewritten: 1), tags every request with X-Tenant: rewrite, strips the
 * client-supplied X-Internal, and stamps responses with X-Served-By. The
 * default backend serves the request. */
#include <rvedge.h>

#include <stdlib.h>
#include <string.h>

static const char old_prefix[] = "/old/";
static const char new_prefix[] = "/new/";
#define PREFIX_LEN (sizeof old_prefix - 1)

static void on_deliver(rvedge_word data, rvedge_word req, rvedge_word resp) {
    (void)data;
    (void)req;
    rvedge_header_set_str(resp, "X-Served-By", "rvedge");
}

static void on_recv(rvedge_word data, rvedge_word req, rvedge_word resp) {
    (void)data;
    (void)resp;
    char small[1024];
    char *url = small;
    int64_t len = rvedge_url_get(req, url, sizeof small);
    if (len > (int64_t)sizeof small) {
        /* Longer than the stack buffer: fetch again into one of the full size. */
        url = malloc((size_t)len);
        if (url == NULL) {
            abort();
        }
        len = rvedge_url_get(req, url, (size_t)len);
    }
    if (len >= (int64_t)PREFIX_LEN && memcmp(url, old_prefix, PREFIX_LEN) == 0) {
        memcpy(url, new_prefix, PREFIX_LEN);
        rvedge_url_set(req, url, (size_t)len);
        rvedge_header_set_str(req, "X-Rewritten", "1");
    }
    if (url != small) {
        free(url);
    }
    rvedge_header_set_str(req, "X-Tenant", "rewrite");
    rvedge_header_unset_str(req, "X-Internal");
}

int main(void) {
    rvedge_set_hook(RVEDGE_HOOK_ON_DELIVER, on_deliver, 0);
    rvedge_wait_for_requests(on_recv, 0);
}
