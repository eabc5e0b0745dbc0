/* Per-request limits, for emulator/tests/tenant_runtime.rs.
 * "/pages/<n>": on_recv writes n fresh 4 KiB pages (heap) and answers.
 * "/spin/<n>": on_recv, on_hash and on_deliver each spin n iterations.
 * "/spin-once/<n>": only on_recv spins n iterations.
 * Requests that do not answer in on_recv go to the origin. */
#include <rvedge.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long spin_everywhere;

static unsigned long number_after(const char *url, size_t prefix) {
    return strtoul(url + prefix, NULL, 10);
}

static void spin(unsigned long n) {
    volatile unsigned long counter = 0;
    for (unsigned long i = 0; i < n; i++) {
        counter++;
    }
}

static void on_hash(rvedge_word data, rvedge_word req, rvedge_word resp) {
    (void)data;
    (void)req;
    (void)resp;
    spin(spin_everywhere);
}

static void on_deliver(rvedge_word data, rvedge_word req, rvedge_word resp) {
    (void)data;
    (void)req;
    (void)resp;
    spin(spin_everywhere);
}

static void on_recv(rvedge_word data, rvedge_word req, rvedge_word resp) {
    (void)data;
    (void)resp;
    char url[64];
    rvedge_url_get_str(req, url, sizeof url);
    if (strncmp(url, "/pages/", 7) == 0) {
        unsigned long pages = number_after(url, 7);
        char *memory = malloc(pages * 4096 + 1);
        if (memory == NULL) {
            rvedge_respond_str(500, "text/plain", "malloc failed");
            return;
        }
        for (unsigned long i = 0; i < pages; i++) {
            memory[i * 4096] = 1;
        }
        char body[32];
        snprintf(body, sizeof body, "wrote %lu pages", pages);
        rvedge_respond_str(200, "text/plain", body);
    } else if (strncmp(url, "/spin/", 6) == 0) {
        spin_everywhere = number_after(url, 6);
        spin(spin_everywhere);
    } else if (strncmp(url, "/spin-once/", 11) == 0) {
        spin(number_after(url, 11));
    }
}

int main(void) {
    rvedge_set_hook(RVEDGE_HOOK_ON_HASH, on_hash, 0);
    rvedge_set_hook(RVEDGE_HOOK_ON_DELIVER, on_deliver, 0);
    rvedge_wait_for_requests(on_recv, 0);
}
