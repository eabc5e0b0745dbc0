/* The per-call rules of docs/abi.md, probed from inside a tenant, for
 * emulator/tests/tenant_runtime.rs. Each probe's result goes into a report
 * "name=result ..." that the test compares as a whole.
 *
 * URL "/probes": on_recv probes and answers with its report; on_hash's and
 *   on_deliver's reports come back as headers x-hash-probes and
 *   x-deliver-probes.
 * URL "/forge": on_recv forges; the callback (backend side) reads the body and
 *   bereq and answers with what it read.
 * URL "/unhook": on_recv removes on_deliver (for this request only).
 * Any other URL goes to the origin; on_backend_fetch tags bereq and
 *   on_backend_response reports its probes in a beresp header.
 * Every response gets x-delivered from on_deliver.
 * argv[1] "bad-main-call" makes main() pass a wild pointer. */
#include <rvedge.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S(text) text, (sizeof text - 1)

static char report[2048];
static size_t report_len;
static char hash_report[256];

static void probe(const char *name, int64_t result) {
    int n = snprintf(report + report_len, sizeof report - report_len, "%s%s=%lld",
                     report_len ? " " : "", name, (long long)result);
    if (n > 0 && report_len + (size_t)n < sizeof report) {
        report_len += (size_t)n;
    }
}

static void note(const char *format, ...) {
    va_list list;
    va_start(list, format);
    int n = vsnprintf(report + report_len, sizeof report - report_len, format, list);
    va_end(list);
    if (n > 0 && report_len + (size_t)n < sizeof report) {
        report_len += (size_t)n;
    }
}

static void forge_callback(rvedge_word data, rvedge_word bereq, rvedge_word beresp) {
    (void)beresp;
    report_len = 0;
    char body[64], header[64], url[64];
    int64_t body_len = rvedge_body_get(body, sizeof body);
    int64_t header_len = rvedge_header_get(bereq, S("X-Probe"), header, sizeof header);
    int64_t url_len = rvedge_url_get(bereq, url, sizeof url);
    note("data=%llu body=%.*s x-probe=%.*s url=%.*s", (unsigned long long)data,
         (int)(body_len > 0 ? body_len : 0), body, (int)(header_len > 0 ? header_len : 0),
         header, (int)(url_len > 0 ? url_len : 0), url);
    probe("body_get_cap0", rvedge_body_get(NULL, 0));
    probe("header_get_req", rvedge_header_get(RVEDGE_REQ, S("X-Probe"), header, sizeof header));
    probe("header_set_beresp", rvedge_header_set(beresp, S("x-forged"), S("yes")));
    probe("forge", rvedge_forge(RVEDGE_UNCACHED, forge_callback, 0));
    probe("backend_set", rvedge_backend_set(S("other")));
    probe("hash_add", rvedge_hash_add(S("x")));
    probe("cache_set", rvedge_cache_set(1, 60));
    rvedge_respond(201, S("text/plain"), report, report_len);
}

static void on_backend_fetch(rvedge_word data, rvedge_word bereq, rvedge_word beresp) {
    (void)data;
    char body[64];
    int64_t body_len = rvedge_body_get(body, sizeof body);
    char value[96];
    int n = snprintf(value, sizeof value, "body=%.*s beresp=%lld backend_set=%lld",
                     (int)(body_len > 0 ? body_len : 0), body,
                     (long long)rvedge_header_count(beresp),
                     (long long)rvedge_backend_set(S("second")));
    rvedge_header_set(bereq, S("x-fetched"), value, (size_t)n);
}

static void on_backend_response(rvedge_word data, rvedge_word bereq, rvedge_word beresp) {
    (void)data;
    (void)bereq;
    char value[128];
    int n = snprintf(value, sizeof value,
                     "status=%lld respond=%lld backend_set=%lld cache_set=%lld",
                     (long long)rvedge_status_get(beresp),
                     (long long)rvedge_respond(200, S("text/plain"), S("no")),
                     (long long)rvedge_backend_set(S("third")),
                     (long long)rvedge_cache_set(0, 0));
    rvedge_header_set(beresp, S("x-beresp-probes"), value, (size_t)n);
}

static void on_hash(rvedge_word data, rvedge_word req, rvedge_word resp) {
    (void)data;
    (void)req;
    snprintf(hash_report, sizeof hash_report,
             "hash_add=%lld respond=%lld header_get_resp=%lld forge=%lld",
             (long long)rvedge_hash_add(S("-hashed")),
             (long long)rvedge_respond(200, S("text/plain"), S("no")),
             (long long)rvedge_header_get(resp, S("content-type"), NULL, 0),
             (long long)rvedge_forge(RVEDGE_UNCACHED, forge_callback, 0));
}

static void on_deliver(rvedge_word data, rvedge_word req, rvedge_word resp) {
    (void)data;
    (void)req;
    /* One call per statement: argument evaluation order is unspecified. */
    int64_t status = rvedge_status_get(resp);
    int64_t respond = rvedge_respond(200, S("text/plain"), S("no"));
    int64_t forge = rvedge_forge(RVEDGE_UNCACHED, forge_callback, 0);
    int64_t hash_add = rvedge_hash_add(S("x"));
    int64_t body_get = rvedge_body_get(NULL, 0);
    int64_t status_set_99 = rvedge_status_set(resp, 99);
    int64_t status_set_299 = rvedge_status_set(resp, 299);
    int64_t bereq = rvedge_header_count(RVEDGE_BEREQ);
    char value[256];
    int n = snprintf(value, sizeof value,
                     "status=%lld respond=%lld forge=%lld hash_add=%lld body_get=%lld "
                     "status_set_99=%lld status_set_299=%lld bereq=%lld",
                     (long long)status, (long long)respond, (long long)forge,
                     (long long)hash_add, (long long)body_get, (long long)status_set_99,
                     (long long)status_set_299, (long long)bereq);
    rvedge_header_set(resp, S("x-deliver-probes"), value, (size_t)n);
    if (hash_report[0]) {
        rvedge_header_set_str(resp, "x-hash-probes", hash_report);
    }
    rvedge_header_set_str(resp, "x-delivered", "1");
}

static void probes(uint64_t req, uint64_t resp) {
    char out[64];
    /* Hook and header-set rules. */
    probe("forge_in_recv", rvedge_forge(RVEDGE_CACHED, forge_callback, 7));
    probe("forge_bad_decision", rvedge_forge(2, forge_callback, 0));
    probe("header_set_resp", rvedge_header_set(resp, S("a"), S("b")));
    probe("header_get_bereq", rvedge_header_get(RVEDGE_BEREQ, S("x-probe"), out, sizeof out));
    probe("header_count_beresp", rvedge_header_count(RVEDGE_BERESP));
    probe("header_count_set_4", rvedge_header_count(4));
    probe("status_get_resp", rvedge_status_get(resp));
    probe("body_get", rvedge_body_get(out, sizeof out));
    probe("cache_set", rvedge_cache_set(1, 10));
    probe("state_save", rvedge_state_save(S("x")));
    probe("state_restore", rvedge_state_restore(out, sizeof out));
    probe("wait_for_requests", rvedge_syscall2(RVEDGE_CALL_WAIT_FOR_REQUESTS, 0, 0));
    probe("set_hook_bad_id", rvedge_set_hook(11, on_deliver, 0));
    probe("unknown_call_521", rvedge_syscall0(521));
    probe("unknown_call_9999", rvedge_syscall0(9999));
    /* Headers. */
    probe("header_get_truncated", rvedge_header_get(req, S("X-PROBE"), out, 5));
    note("[%.5s]", out);
    /* The name is read where it is, and the value written over it: the host is done with
     * the name first. */
    char name_then_value[16] = "x-probe";
    probe("header_get_over_its_name", rvedge_header_get(req, name_then_value, 7,
                                                         name_then_value, sizeof name_then_value));
    note("[%.11s]", name_then_value);
    probe("header_get_absent", rvedge_header_get(req, S("x-absent"), out, sizeof out));
    probe("bad_header_name", rvedge_header_set(req, S("bad name"), S("v")));
    probe("empty_header_name", rvedge_header_set(req, "", 0, S("v")));
    probe("header_value_with_newline", rvedge_header_set(req, S("x-a"), S("1\r\nx-b: 2")));
    probe("header_value_not_utf8", rvedge_header_set(req, S("x-a"), S("\xff\xfe")));
    /* Text in one page is read where it is, text across a page boundary copied: both are
     * read whole and checked alike. */
    static char across_pages[2 * 4096] __attribute__((aligned(4096)));
    char *text = across_pages + 4096 - 60;
    memset(text, 'a', 121);
    probe("header_value_120", rvedge_header_set(req, S("x-120"), text, 120));
    probe("header_value_121", rvedge_header_set(req, S("x-121"), text, 121));
    probe("header_get_120", rvedge_header_get(req, S("x-120"), out, 0));
    probe("header_get_121", rvedge_header_get(req, S("x-121"), out, 0));
    text[119] = '\xff';
    probe("header_value_120_not_utf8", rvedge_header_set(req, S("x-120"), text, 120));
    probe("header_value_121_not_utf8", rvedge_header_set(req, S("x-121"), text, 121));
    probe("header_unset_120", rvedge_header_unset(req, S("x-120")));
    probe("header_unset_121", rvedge_header_unset(req, S("x-121")));
    probe("header_append", rvedge_header_append(req, S("x-twice"), S("1")));
    probe("header_append", rvedge_header_append(req, S("X-Twice"), S("2")));
    probe("header_unset", rvedge_header_unset(req, S("x-twice")));
    probe("header_unset_again", rvedge_header_unset(req, S("x-twice")));
    int64_t count = rvedge_header_count(req);
    probe("header_count", count);
    probe("header_at_0", rvedge_header_at(req, 0, out, sizeof out));
    note("[%.*s]", 14, out);
    probe("header_at_end", rvedge_header_at(req, (uint64_t)count, out, sizeof out));
    /* URL and method. */
    probe("url_without_slash", rvedge_url_set(req, S("probes")));
    probe("url_with_space", rvedge_url_set(req, S("/a b")));
    probe("url_set", rvedge_url_set(req, S("/probes?x=1")));
    probe("url_get", rvedge_url_get(req, out, sizeof out));
    probe("method_bad", rvedge_method_set(req, S("GE T")));
    probe("method_set", rvedge_method_set(req, S("PURGE")));
    probe("method_get", rvedge_method_get(req, out, 2));
    note("[%.2s]", out);
    probe("status_set_req", rvedge_status_set(req, 200));
    /* Other calls. */
    probe("backend_set_empty", rvedge_backend_set("", 0));
    probe("backend_set", rvedge_backend_set(S("b1")));
    probe("hash_add", rvedge_hash_add(S("key")));
    probe("log", rvedge_log(S("a log line\n")));
    probe("json_validate_ok", rvedge_json_validate(S("{\"a\":[1,2]}"), out, sizeof out));
    probe("json_validate_bad", rvedge_json_validate(S("{\"a\":"), NULL, 0) > 0);
    probe("json_query", rvedge_json_query(S("{\"a\":[1,\"two\"]}"), S("/a/1"), out, 3));
    note("[%.3s]", out);
    probe("json_query_absent", rvedge_json_query(S("{\"a\":1}"), S("/b"), out, sizeof out));
    probe("json_query_bad_doc", rvedge_json_query(S("{"), S(""), out, sizeof out));
    probe("json_query_bad_pointer", rvedge_json_query(S("{}"), S("a"), out, sizeof out));
    probe("xml_query", rvedge_xml_query(S("<o id=\"9\"><i>x</i></o>"), S("/o/@id"), out, 1));
    note("[%.1s]", out);
    probe("xml_query_absent", rvedge_xml_query(S("<o/>"), S("/o/i"), out, sizeof out));
    probe("xml_validate_bad", rvedge_xml_validate(S("<o>"), NULL, 0) > 0);
    uint8_t digest[RVEDGE_DIGEST_LEN];
    probe("sha256", rvedge_sha256(S("abc"), digest));
    note("[%02x%02x]", digest[0], digest[1]);
    probe("hmac_sha256", rvedge_hmac_sha256(S("key"), S("msg"), digest));
    /* Limits on inputs: larger than the host copies. The memory comes from the program
     * break, untouched (picolibc's malloc would clear all of it, byte by byte), and goes
     * back after. */
    size_t big_len = (16u << 20) + 1;
    char *big = sbrk((intptr_t)big_len);
    probe("hash_add_too_big", big != (char *)-1 ? rvedge_hash_add(big, big_len) : 1);
    if (big != (char *)-1) {
        sbrk(-(intptr_t)big_len);
    }
    probe("respond_status_99", rvedge_respond(99, S("text/plain"), S("")));
    probe("respond_status_1000", rvedge_respond(1000, S("text/plain"), S("")));
    probe("respond_bad_content_type", rvedge_respond(200, S("text/plain\n"), S("")));
}

static void on_recv(rvedge_word data, rvedge_word req, rvedge_word resp) {
    (void)data;
    char url[64];
    int64_t len = rvedge_url_get_str(req, url, sizeof url);
    if (len == 7 && memcmp(url, "/probes", 7) == 0) {
        probes(req, resp);
        rvedge_respond(200, S("text/plain"), report, report_len);
    } else if (len == 6 && memcmp(url, "/forge", 6) == 0) {
        rvedge_forge(RVEDGE_UNCACHED, forge_callback, 42);
    } else if (len == 7 && memcmp(url, "/unhook", 7) == 0) {
        probe("unhook_deliver", rvedge_set_hook(RVEDGE_HOOK_ON_DELIVER, NULL, 0));
        rvedge_respond(200, S("text/plain"), report, report_len);
    }
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "bad-main-call") == 0) {
        rvedge_log((const char *)0xdead0000, 4);
    }
    probe("main_header_count", rvedge_header_count(RVEDGE_REQ));
    probe("main_respond", rvedge_respond(200, S("text/plain"), S("")));
    rvedge_set_hook(RVEDGE_HOOK_ON_HASH, on_hash, 0);
    rvedge_set_hook(RVEDGE_HOOK_ON_DELIVER, on_deliver, 0);
    rvedge_set_hook(RVEDGE_HOOK_ON_BACKEND_FETCH, on_backend_fetch, 0);
    rvedge_set_hook(RVEDGE_HOOK_ON_BACKEND_RESPONSE, on_backend_response, 0);
    printf("%s\n", report);
    fflush(stdout);
    report_len = 0;
    rvedge_wait_for_requests(on_recv, 0);
}
