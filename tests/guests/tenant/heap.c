/* The per-fork host heap (emulator/tests/host_heap.rs), which must answer
 * exactly as glibc's allocator does:
 * "/template": reads, reallocates and frees blocks main() allocated (the
 *   template's), then frees what it allocated itself.
 * "/alloc/<n>": n allocations of mixed sizes, half freed and reallocated,
 *   answered with a checksum.
 * "/exhaust": allocates 1 MiB blocks without touching them until malloc
 *   returns NULL, and says whether errno is ENOMEM.
 * "/touch": allocates and writes 1 MiB blocks until the request's memory runs
 *   out (the request fails with memory_limit). */
#include <rvedge.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { TEMPLATE_BLOCKS = 40 };
static char *template_block[TEMPLATE_BLOCKS];
static unsigned char *template_big;

static unsigned checksum(const unsigned char *p, size_t n, unsigned sum) {
    for (size_t i = 0; i < n; i++) sum = sum * 31u + p[i];
    return sum;
}

static void answer(const char *text) { rvedge_respond_str(200, "text/plain", text); }

static void template_request(void) {
    unsigned sum = 0;
    for (int i = 0; i < TEMPLATE_BLOCKS; i++) {
        if (template_block[i]) sum = checksum((unsigned char *)template_block[i], strlen(template_block[i]), sum);
    }
    sum = checksum(template_big, 100000, sum);
    /* Grow one template block, shrink another, free the rest (no-ops in a fork). */
    char *grown = realloc(template_block[3], 5000);
    strcat(grown, " and more");
    char *shrunk = realloc(template_block[5], 2);
    for (int i = 10; i < TEMPLATE_BLOCKS; i++) free(template_block[i]);
    free(template_big);
    char *mine = malloc(300);
    snprintf(mine, 300, "sum %08x grown '%s' shrunk '%.2s'", sum, grown, shrunk);
    answer(mine);
    free(mine);
    free(grown);
}

static void alloc_request(unsigned long count) {
    char **blocks = calloc(count, sizeof *blocks);
    unsigned sum = 0;
    for (unsigned long i = 0; i < count; i++) {
        size_t size = 1 + (i * 37) % 700;
        blocks[i] = malloc(size);
        memset(blocks[i], (int)i, size);
    }
    for (unsigned long i = 0; i < count; i += 2) {
        free(blocks[i]);
        blocks[i] = NULL;
    }
    for (unsigned long i = 1; i < count; i += 2) {
        size_t size = 1 + (i * 37) % 700;
        blocks[i] = realloc(blocks[i], size * 2);
        sum = checksum((unsigned char *)blocks[i], size, sum);
    }
    for (unsigned long i = 0; i < count; i++) free(blocks[i]);
    free(blocks);
    char text[64];
    snprintf(text, sizeof text, "%lu blocks, sum %08x", count, sum);
    answer(text);
}

static void exhaust_request(int touch) {
    unsigned long count = 0;
    errno = 0;
    for (;;) {
        char *block = malloc(1 << 20);
        if (block == NULL) break;
        if (touch) memset(block, 1, 1 << 20);
        count++;
    }
    char text[64];
    snprintf(text, sizeof text, "NULL after some blocks, errno ENOMEM %d", errno == ENOMEM);
    answer(text);
    (void)count;
}

static void on_recv(uint64_t data, uint64_t req, uint64_t resp) {
    (void)data;
    (void)resp;
    char url[64];
    rvedge_url_get_str(req, url, sizeof url);
    if (strcmp(url, "/template") == 0) {
        template_request();
    } else if (strncmp(url, "/alloc/", 7) == 0) {
        alloc_request(strtoul(url + 7, NULL, 10));
    } else if (strcmp(url, "/exhaust") == 0) {
        exhaust_request(0);
    } else if (strcmp(url, "/touch") == 0) {
        exhaust_request(1);
    }
}

int main(void) {
    for (int i = 0; i < TEMPLATE_BLOCKS; i++) {
        template_block[i] = malloc(20 + i * 3);
        snprintf(template_block[i], 20 + i * 3, "block %d of the template", i);
    }
    /* Freed in main(): their memory may be reused before the template is frozen. */
    free(template_block[7]);
    template_block[7] = NULL;
    template_big = malloc(100000);
    for (int i = 0; i < 100000; i++) template_big[i] = (unsigned char)(i * 7);
    template_block[7] = strdup("reused");
    rvedge_wait_for_requests(on_recv, 0);
}
