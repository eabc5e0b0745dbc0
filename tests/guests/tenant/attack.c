/* An adversarial tenant, for emulator/tests/isolation.rs, the Extism host's tests and
 * rvedge-bench: each URL attacks one per-request host resource and answers with what the
 * host returned, so a test can check the attack was refused (or ran out of budget).
 *
 * "/spin/<n>"                  spins n iterations, answers "spun" (an ordinary tenant).
 * "/touch/<pages>"             writes a byte in each of <pages> pages of its own in turn,
 *                              round after round until stopped: a load and a store per page,
 *                              each missing the emulator's TLB once <pages> is past its size.
 * "/read/<pages>"              the same, reading a byte of each of the first <pages> (at most
 *                              1024) pages of a table main() wrote: the template's pages.
 * "/misaligned"                loads and stores 8 bytes at odd addresses inside one page
 *                              until stopped, which the emulator's TLB leaves to its slow path.
 * "/midjump"                   jumps into the middle of an instruction until stopped: code
 *                              no decoded instruction starts at.
 * "/counters"                  reads the cycle and instret counters until stopped: each read
 *                              ends its basic block.
 * "/regions/<mappings>/<times>" maps <mappings> pages one at a time, every other one
 *                              read-only, then changes one's protection back and forth
 *                              <times> times (0: until stopped): each mprotect once
 *                              looked through every region. Answers "made=<n> ok=<n>".
 * "/refree/<frees>"            frees a large block <frees> times, its header set back to "in
 *                              use" before each (the tenant can write its own heap), then
 *                              allocates and frees a large block of another size until
 *                              stopped: the host heap once listed every such free, and each
 *                              allocation searched the list.
 * "/loop/<call>/<bytes>/<times>"
 *                              makes tenant call <call> on <bytes> bytes <times> times (0:
 *                              until stopped): sha256, hmac, log, hash_add, header_set,
 *                              header_append, url_set, json_validate, json_query,
 *                              xml_validate, xml_query, respond, header_get, header_at (past
 *                              the last header), url_get, and the
 *                              Linux calls write (stderr), getrandom and mprotect; body_get
 *                              runs in a forge callback (the backend side).
 *                              Answers "calls=<n> ok=<n> e2big=<n> last=<result>".
 * "/stdout/<bytes>/<times>"    prints <times> lines of <bytes> bytes, answers "printed=<n>".
 * "/forbidden"                 tries to set, append and unset headers a tenant may not
 *                              touch in req, then (forge callback) in bereq: the body; and
 *                              in resp (on_deliver): header x-resp-report.
 * "/status/<n>"                respond(n); if refused answers 200 with the result, and
 *                              on_deliver tries status_set(resp, n): header x-status-set.
 * "/ttl/<seconds>"             forges a cached response with cache_set(1, seconds).
 * "/backend/<name>"            backend_set(name); if refused answers with the result, else
 *                              the request goes to that backend.
 * "/long-names"                backend_set of a 300-byte name and respond with a 65 KiB
 *                              content type: answers their results.
 * "/random"                    answers 16 bytes of getrandom and the 16 AT_RANDOM bytes, hex.
 * "/xml/deep/<depth>"          xml_validate of <a> nested <depth> deep.
 * "/xml/attrs/<n>"             xml_validate of one element with n attributes.
 * "/json/<items>"              json_query of "/small" and "/big" in
 *                              {"big":[0,0,...<items>],"small":1}. */
#include <rvedge.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#define S(text) text, (sizeof text - 1)

static char report[2048];
static int report_len;
static uint64_t status_to_set;
static int probe_resp;

__attribute__((format(printf, 1, 2))) static void note(const char *format, ...) {
    va_list list;
    va_start(list, format);
    int n = vsnprintf(report + report_len, sizeof report - (size_t)report_len, format, list);
    va_end(list);
    if (n > 0 && report_len + n < (int)sizeof report) {
        report_len += n;
    }
}

static void answer(void) {
    rvedge_respond(200, S("text/plain"), report, (size_t)report_len);
}

/* malloc, or NULL after answering that it failed. */
static char *allocate_or_answer(size_t bytes) {
    char *memory = malloc(bytes);
    if (memory == NULL) {
        note("malloc failed");
        answer();
    }
    return memory;
}

/* The path segment after `count` slashes, as a number. */
static unsigned long segment_number(const char *url, int count) {
    const char *cursor = url;
    for (int i = 0; i < count && cursor; i++) {
        cursor = strchr(cursor + 1, '/');
    }
    return cursor ? strtoul(cursor + 1, NULL, 10) : 0;
}

static int starts_with(const char *text, const char *prefix) {
    return strncmp(text, prefix, strlen(prefix)) == 0;
}

static void spin(unsigned long n) {
    volatile unsigned long counter = 0;
    for (unsigned long i = 0; i < n; i++) {
        counter++;
    }
}

/* 4 MiB that main() writes a byte of in each page, so the template holds its pages. */
static unsigned char template_table[1024 * 4096];

/* A byte of each of `pages` pages from `memory` in turn, round after round until stopped:
 * read, and written back one higher if `write`. */
static void visit_pages(volatile unsigned char *memory, unsigned long pages, int write) {
    for (unsigned long round = 0;; round++) {
        for (unsigned long page = 0; page < pages; page++) {
            unsigned char byte = memory[page * 4096 + round % 4096];
            if (write) {
                memory[page * 4096 + round % 4096] = byte + 1;
            }
        }
    }
}

/* Loads and stores 8 bytes at odd addresses of one page until stopped. In assembly: C would
 * split accesses it knows are misaligned into bytes. */
static void misaligned_accesses(void) {
    static unsigned char buffer[64] __attribute__((aligned(64)));
    unsigned char *odd = buffer + 1;
    for (;;) {
        uint64_t value;
        __asm__ volatile("ld %0, 0(%1)\n\tsd %0, 9(%1)\n\tld %0, 18(%1)\n\tsd %0, 27(%1)"
                         : "=&r"(value)
                         : "r"(odd)
                         : "memory");
    }
}

/* Jumps into the second half of a 4-byte instruction (a no-op whose upper half reads as a
 * compressed jump back) until stopped. In assembly: no compiler emits it. */
static void mid_instruction_jumps(void) {
    __asm__ volatile(".option push\n\t.option norvc\n"
                     "1:\n\tj carrier%=+2\n"
                     "carrier%=:\n\t.2byte 0x0013\n"
                     "\t.option rvc\n\tc.j 1b\n"
                     "\t.option pop" ::
                         : "memory");
}

/* Reads the cycle and instret counters until stopped. */
static void counter_reads(void) {
    for (;;) {
        uint64_t cycles, retired;
        __asm__ volatile("rdcycle %0\n\trdinstret %1" : "=r"(cycles), "=r"(retired));
    }
}

/* Maps pages one at a time (every other one read-only, so no two make one region), then
 * changes the protection of one in the middle back and forth `times` times (0: until
 * stopped). */
static void many_regions(unsigned long mappings, unsigned long times) {
    char *middle = NULL;
    unsigned long made = 0;
    for (unsigned long i = 0; i < mappings; i++) {
        char *page = mmap(NULL, 4096, (i & 1) ? PROT_READ : PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (page == MAP_FAILED) {
            break;
        }
        made++;
        if (i == mappings / 2) {
            middle = page;
        }
    }
    unsigned long ok = 0;
    for (unsigned long i = 0; middle != NULL && (times == 0 || i < times); i++) {
        ok += mprotect(middle, 4096, (i & 1) ? PROT_READ : PROT_READ | PROT_WRITE) == 0;
    }
    note("made=%lu ok=%lu", made, ok);
    answer();
}

/* The host heap's header of a block: its size, bit 0 set while free, 16 bytes below it. */
static void refree_large(unsigned long frees) {
    char *block = allocate_or_answer(100000);
    char *volatile last = allocate_or_answer(16); /* so `block` is not the arena's last */
    if (block == NULL || last == NULL) {
        return;
    }
    volatile uint64_t *header = (volatile uint64_t *)((uintptr_t)block - 16);
    for (unsigned long i = 0; i < frees; i++) {
        *header &= ~(uint64_t)1;
        free(block);
    }
    for (;;) {
        char *volatile other = malloc(300000);
        free(other);
    }
}

/* A document of `bytes` bytes the call accepts, dense with tokens so parsing is as slow per
 * byte as it gets: [0,0,...,0] for JSON, <a><b/><b/>...</a> for XML (padded with spaces),
 * text else. NULL after answering if there is no memory for it. */
static char *document_for(const char *call, size_t bytes) {
    char *buffer = allocate_or_answer(bytes + 1);
    if (buffer == NULL) {
        return NULL;
    }
    memset(buffer, 'a', bytes);
    buffer[bytes] = 0;
    if (starts_with(call, "json") && bytes >= 2) {
        buffer[0] = '[';
        size_t end = 1;
        for (; end + 2 < bytes; end += 2) {
            memcpy(buffer + end, "0,", 2);
        }
        buffer[end++] = '0';
        memset(buffer + end, ' ', bytes - end);
        buffer[bytes - 1] = ']';
    } else if (starts_with(call, "xml") && bytes >= 7) {
        memcpy(buffer, "<a>", 3);
        size_t end = 3;
        for (; end + 4 + 4 <= bytes; end += 4) {
            memcpy(buffer + end, "<b/>", 4);
        }
        memset(buffer + end, ' ', bytes - end);
        memcpy(buffer + bytes - 4, "</a>", 4);
    }
    return buffer;
}

/* The calls "/loop/" makes, each on (data, bytes) and header set req. The loop looks its
 * call up once, so what it times is the call, not finding it by name. */
typedef int64_t (*tenant_call)(const char *data, size_t bytes, uint64_t req);

static uint8_t digest[RVEDGE_DIGEST_LEN];
static char out[256];

static int64_t call_sha256(const char *data, size_t bytes, uint64_t req) {
    (void)req;
    return rvedge_sha256(data, bytes, digest);
}
static int64_t call_hmac(const char *data, size_t bytes, uint64_t req) {
    (void)req;
    return rvedge_hmac_sha256(data, bytes, data, bytes, digest);
}
static int64_t call_log(const char *data, size_t bytes, uint64_t req) {
    (void)req;
    return rvedge_log(data, bytes);
}
static int64_t call_hash_add(const char *data, size_t bytes, uint64_t req) {
    (void)req;
    return rvedge_hash_add(data, bytes);
}
static int64_t call_header_set(const char *data, size_t bytes, uint64_t req) {
    return rvedge_header_set(req, S("x-flood"), data, bytes);
}
static int64_t call_header_append(const char *data, size_t bytes, uint64_t req) {
    return rvedge_header_append(req, S("x-flood"), data, bytes);
}
static int64_t call_url_set(const char *data, size_t bytes, uint64_t req) {
    char *url = (char *)data;
    url[0] = '/';
    return rvedge_url_set(req, url, bytes);
}
static int64_t call_json_validate(const char *data, size_t bytes, uint64_t req) {
    (void)req;
    return rvedge_json_validate(data, bytes, out, sizeof out);
}
static int64_t call_json_query(const char *data, size_t bytes, uint64_t req) {
    (void)req;
    return rvedge_json_query(data, bytes, S("/0"), out, sizeof out);
}
static int64_t call_xml_validate(const char *data, size_t bytes, uint64_t req) {
    (void)req;
    return rvedge_xml_validate(data, bytes, out, sizeof out);
}
static int64_t call_xml_query(const char *data, size_t bytes, uint64_t req) {
    (void)req;
    return rvedge_xml_query(data, bytes, S("/a"), out, sizeof out);
}
static int64_t call_respond(const char *data, size_t bytes, uint64_t req) {
    (void)req;
    return rvedge_respond(200, S("text/plain"), data, bytes);
}
static int64_t call_header_get(const char *data, size_t bytes, uint64_t req) {
    return rvedge_header_get(req, S("x-big"), (char *)data, bytes);
}
/* Past the last header: the host walks every header to say so. */
static int64_t call_header_at(const char *data, size_t bytes, uint64_t req) {
    return rvedge_header_at(req, 1u << 20, (char *)data, bytes);
}
static int64_t call_url_get(const char *data, size_t bytes, uint64_t req) {
    return rvedge_url_get(req, (char *)data, bytes);
}
static int64_t call_body_get(const char *data, size_t bytes, uint64_t req) {
    (void)req;
    return rvedge_body_get((char *)data, bytes);
}
/* Linux calls: the whole range is walked, whatever the log keeps of it. */
static int64_t call_write(const char *data, size_t bytes, uint64_t req) {
    (void)req;
    return write(2, data, bytes);
}
static int64_t call_getrandom(const char *data, size_t bytes, uint64_t req) {
    (void)req;
    return getrandom((char *)data, bytes, 0);
}
static int64_t call_mprotect(const char *data, size_t bytes, uint64_t req) {
    (void)req;
    uintptr_t page = (uintptr_t)data & ~(uintptr_t)4095;
    return mprotect((void *)page, bytes, PROT_READ | PROT_WRITE);
}

static const struct {
    const char *name;
    tenant_call call;
} calls_by_name[] = {
    {"sha256", call_sha256},
    {"hmac", call_hmac},
    {"log", call_log},
    {"hash_add", call_hash_add},
    {"header_set", call_header_set},
    {"header_append", call_header_append},
    {"url_set", call_url_set},
    {"json_validate", call_json_validate},
    {"json_query", call_json_query},
    {"xml_validate", call_xml_validate},
    {"xml_query", call_xml_query},
    {"respond", call_respond},
    {"header_get", call_header_get},
    {"header_at", call_header_at},
    {"url_get", call_url_get},
    {"body_get", call_body_get},
    {"write", call_write},
    {"getrandom", call_getrandom},
    {"mprotect", call_mprotect},
};

static int64_t no_such_call(const char *data, size_t bytes, uint64_t req) {
    (void)data;
    (void)bytes;
    (void)req;
    return -RVEDGE_ENOSYS;
}

static tenant_call call_named(const char *name) {
    for (size_t i = 0; i < sizeof calls_by_name / sizeof calls_by_name[0]; i++) {
        if (strcmp(calls_by_name[i].name, name) == 0) {
            return calls_by_name[i].call;
        }
    }
    return no_such_call;
}

/* "/loop/<call>/<bytes>/<times>" in this fork, on header set `req`. */
static void loop_call(const char *url, uint64_t req) {
    char call[32] = {0};
    const char *name = url + strlen("/loop/");
    size_t name_len = strcspn(name, "/");
    memcpy(call, name, name_len < sizeof call - 1 ? name_len : sizeof call - 1);
    size_t bytes = segment_number(url, 2);
    unsigned long times = segment_number(url, 3);
    char *data = document_for(call, bytes);
    if (data == NULL) {
        return;
    }
    tenant_call call_once = call_named(call);
    unsigned long calls = 0, ok = 0, e2big = 0;
    int64_t last = 0;
    while (times == 0 || calls < times) {
        last = call_once(data, bytes, req);
        calls++;
        ok += last >= 0;
        e2big += last == -RVEDGE_E2BIG;
    }
    free(data);
    note("calls=%lu ok=%lu e2big=%lu last=%lld", calls, ok, e2big, (long long)last);
    answer();
}

static const char *const forbidden[] = {
    "Host", ":authority", "content-length", "Transfer-Encoding", "connection",
    "keep-alive", "upgrade", "te", "trailer", "proxy-authorization", "proxy-connection",
    "x-rvedge-backend", "X-Envoy-Original-Path",
};

static void probe_forbidden(const char *set_name, uint64_t set) {
    for (size_t i = 0; i < sizeof forbidden / sizeof forbidden[0]; i++) {
        const char *name = forbidden[i];
        note("%s:%s=%lld/%lld/%lld ", set_name, name,
             (long long)rvedge_header_set_str(set, name, "evil"),
             (long long)rvedge_header_append_str(set, name, "evil"),
             (long long)rvedge_header_unset_str(set, name));
    }
    note("%s:x-allowed=%lld", set_name, (long long)rvedge_header_set_str(set, "x-allowed", "1"));
}

static void forge_callback(uint64_t data, uint64_t bereq, uint64_t beresp) {
    (void)beresp;
    report_len = 0;
    char url[128];
    rvedge_url_get_str(bereq, url, sizeof url);
    if (starts_with(url, "/loop/")) {
        loop_call(url, bereq);
    } else if (strcmp(url, "/forbidden") == 0) {
        char recv_report[1024];
        int64_t n = rvedge_header_get_str(bereq, "x-recv-report", recv_report, sizeof recv_report);
        note("%s ", n > 0 ? recv_report : "?");
        probe_forbidden("bereq", bereq);
        answer();
    } else if (starts_with(url, "/ttl/")) {
        note("cache_set=%lld", (long long)rvedge_cache_set(1, data));
        answer();
    }
}

static void respond_random(void) {
    uint8_t random[16];
    long got = getrandom(random, sizeof random, 0);
    const uint8_t *at_random = (const uint8_t *)getauxval(AT_RANDOM);
    note("getrandom=%ld:", got);
    for (size_t i = 0; i < sizeof random; i++) {
        note("%02x", random[i]);
    }
    note(" at_random=");
    for (size_t i = 0; at_random && i < 16; i++) {
        note("%02x", at_random[i]);
    }
    answer();
}

static void validate_xml(char *document, size_t length) {
    char message[128] = {0};
    int64_t result = rvedge_xml_validate(document, length, message, sizeof message - 1);
    note("result=%lld message=%s", (long long)result, result > 0 ? message : "");
    answer();
}

static void xml_deep(unsigned long depth) {
    char *document = allocate_or_answer(depth * 7 + 1);
    if (document == NULL) {
        return;
    }
    for (unsigned long i = 0; i < depth; i++) {
        memcpy(document + i * 3, "<a>", 3);
        memcpy(document + depth * 3 + i * 4, "</a>", 4);
    }
    validate_xml(document, depth * 7);
}

static void xml_attributes(unsigned long count) {
    /* <a a0="" a1="" ...>, the names in hex. */
    char *document = allocate_or_answer(count * 12 + 16);
    if (document == NULL) {
        return;
    }
    size_t length = 0;
    document[length++] = '<';
    document[length++] = 'a';
    for (unsigned long i = 0; i < count; i++) {
        length += (size_t)sprintf(document + length, " a%lx=\"\"", i);
    }
    memcpy(document + length, "/>", 2);
    validate_xml(document, length + 2);
}

static void json_big(unsigned long items) {
    size_t length = 0;
    char *document = allocate_or_answer(items * 2 + 32);
    if (document == NULL) {
        return;
    }
    length += (size_t)sprintf(document, "{\"big\":[");
    for (unsigned long i = 0; i < items; i++) {
        document[length++] = '0';
        document[length++] = ',';
    }
    length -= items ? 1 : 0;
    length += (size_t)sprintf(document + length, "],\"small\":1}");
    char out[64];
    note("small=%lld big=%lld",
         (long long)rvedge_json_query(document, length, S("/small"), out, sizeof out),
         (long long)rvedge_json_query(document, length, S("/big"), out, sizeof out));
    answer();
}

static void on_deliver(uint64_t data, uint64_t req, uint64_t resp) {
    (void)data;
    (void)req;
    if (probe_resp) {
        report_len = 0;
        probe_forbidden("resp", resp);
        rvedge_header_set(resp, S("x-resp-report"), report, (size_t)report_len);
    }
    if (status_to_set) {
        char value[32];
        snprintf(value, sizeof value, "%lld", (long long)rvedge_status_set(resp, status_to_set));
        rvedge_header_set_str(resp, "x-status-set", value);
    }
}

static void on_recv(uint64_t data, uint64_t req, uint64_t resp) {
    (void)data;
    (void)resp;
    char url[128];
    rvedge_url_get_str(req, url, sizeof url);
    if (starts_with(url, "/spin/")) {
        spin(segment_number(url, 1));
        note("spun");
        answer();
    } else if (starts_with(url, "/read/")) {
        unsigned long pages = segment_number(url, 1);
        visit_pages(template_table, pages < 1024 ? pages : 1024, 0);
    } else if (starts_with(url, "/regions/")) {
        many_regions(segment_number(url, 1), segment_number(url, 2));
    } else if (starts_with(url, "/refree/")) {
        refree_large(segment_number(url, 1));
    } else if (starts_with(url, "/misaligned")) {
        misaligned_accesses();
    } else if (starts_with(url, "/midjump")) {
        mid_instruction_jumps();
    } else if (starts_with(url, "/counters")) {
        counter_reads();
    } else if (starts_with(url, "/touch/")) {
        unsigned long pages = segment_number(url, 1);
        unsigned char *memory = (unsigned char *)allocate_or_answer(pages * 4096);
        if (memory != NULL) {
            visit_pages(memory, pages, 1);
        }
    } else if (starts_with(url, "/loop/body_get/")) {
        rvedge_forge(RVEDGE_UNCACHED, forge_callback, 0);
    } else if (starts_with(url, "/loop/")) {
        loop_call(url, req);
    } else if (starts_with(url, "/stdout/")) {
        unsigned long bytes = segment_number(url, 1), times = segment_number(url, 2);
        char *line = document_for("text", bytes);
        if (line == NULL) {
            return;
        }
        unsigned long printed = 0;
        for (; printed < times; printed++) {
            printf("%s\n", line);
        }
        fflush(stdout);
        note("printed=%lu", printed);
        answer();
    } else if (strcmp(url, "/forbidden") == 0) {
        probe_forbidden("req", req);
        probe_resp = 1;
        rvedge_header_set(req, S("x-recv-report"), report, (size_t)report_len);
        rvedge_forge(RVEDGE_UNCACHED, forge_callback, 0);
    } else if (starts_with(url, "/status/")) {
        unsigned long status = segment_number(url, 1);
        int64_t result = rvedge_respond(status, S("text/plain"), S("status"));
        if (result != 0) {
            note("respond=%lld", (long long)result);
            answer();
        }
        status_to_set = status;
    } else if (starts_with(url, "/ttl/")) {
        rvedge_forge(RVEDGE_CACHED, forge_callback, segment_number(url, 1));
    } else if (starts_with(url, "/backend/")) {
        const char *name = url + strlen("/backend/");
        int64_t result = rvedge_backend_set(name, strlen(name));
        if (result != 0) {
            note("backend_set=%lld", (long long)result);
            answer();
        }
    } else if (strcmp(url, "/long-names") == 0) {
        char *name = document_for("text", 65 << 10);
        if (name == NULL) {
            return;
        }
        note("backend_set=%lld", (long long)rvedge_backend_set(name, 300));
        note(" respond=%lld", (long long)rvedge_respond(200, name, 65 << 10, S("")));
        answer();
    } else if (strcmp(url, "/random") == 0) {
        respond_random();
    } else if (starts_with(url, "/xml/deep/")) {
        xml_deep(segment_number(url, 2));
    } else if (starts_with(url, "/xml/attrs/")) {
        xml_attributes(segment_number(url, 2));
    } else if (starts_with(url, "/json/")) {
        json_big(segment_number(url, 1));
    }
}

int main(void) {
    for (unsigned long offset = 0; offset < sizeof template_table; offset += 4096) {
        template_table[offset] = 1;
    }
    rvedge_set_hook(RVEDGE_HOOK_ON_DELIVER, on_deliver, 0);
    rvedge_wait_for_requests(on_recv, 0);
}
