/* rvedge tenant ABI for C (C99 or later; also usable from C++).
 *
 * docs/abi.md is the contract; this header only spells it in C. Every call is
 * an `ecall` with a7 = call number, arguments in a0..a5 and the result in a0:
 * >= 0 is success (often a length), a negative value is -errno.
 *
 * Calls that produce bytes take (out, out_cap), write at most out_cap bytes
 * and return the FULL length, so a result > out_cap means "call again with a
 * bigger buffer". The *_str helpers below follow snprintf instead: they always
 * NUL-terminate (when out_cap > 0) and return the full length, so the value
 * fitted iff 0 <= result < out_cap.
 *
 * Keep the `#define RVEDGE_CALL_X NNN` lines in exactly this form:
 * emulator/tests/abi_agreement.rs compares them with the tables in the doc. */
#ifndef RVEDGE_H
#define RVEDGE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Call numbers (docs/abi.md, "Calls"). */
#define RVEDGE_CALL_WAIT_FOR_REQUESTS 500
#define RVEDGE_CALL_SET_HOOK 501
#define RVEDGE_CALL_HEADER_GET 502
#define RVEDGE_CALL_HEADER_SET 503
#define RVEDGE_CALL_HEADER_APPEND 504
#define RVEDGE_CALL_HEADER_UNSET 505
#define RVEDGE_CALL_HEADER_COUNT 506
#define RVEDGE_CALL_HEADER_AT 507
#define RVEDGE_CALL_URL_GET 508
#define RVEDGE_CALL_URL_SET 509
#define RVEDGE_CALL_METHOD_GET 510
#define RVEDGE_CALL_METHOD_SET 511
#define RVEDGE_CALL_STATUS_GET 512
#define RVEDGE_CALL_STATUS_SET 513
#define RVEDGE_CALL_BODY_GET 514
#define RVEDGE_CALL_FORGE 515
#define RVEDGE_CALL_RESPOND 516
#define RVEDGE_CALL_BACKEND_SET 517
#define RVEDGE_CALL_CACHE_SET 518
#define RVEDGE_CALL_HASH_ADD 519
#define RVEDGE_CALL_LOG 520
#define RVEDGE_CALL_JSON_VALIDATE 530
#define RVEDGE_CALL_JSON_QUERY 531
#define RVEDGE_CALL_XML_VALIDATE 532
#define RVEDGE_CALL_XML_QUERY 533
#define RVEDGE_CALL_SHA256 540
#define RVEDGE_CALL_HMAC_SHA256 541
#define RVEDGE_CALL_STATE_SAVE 550
#define RVEDGE_CALL_STATE_RESTORE 551
#define RVEDGE_CALL_DECISION 570
#define RVEDGE_CALL_END_HOOK 571
#define RVEDGE_CALL_REGISTER_FUNCTION 572
#define RVEDGE_CALL_CACHE_GET 573
#define RVEDGE_CALL_BAN 574
#define RVEDGE_CALL_BREAKPOINT 575
#define RVEDGE_CALL_REGEX_COMPILE 580
#define RVEDGE_CALL_REGEX_MATCH 581
#define RVEDGE_CALL_REGEX_SUBST 582
#define RVEDGE_CALL_REGEX_FREE 583

/* Header sets (docs/abi.md, "Header sets"). */
#define RVEDGE_REQ 0
#define RVEDGE_RESP 1
#define RVEDGE_BEREQ 2
#define RVEDGE_BERESP 3

/* Hooks (docs/abi.md, "Hooks"). */
#define RVEDGE_HOOK_ON_RECV 0
#define RVEDGE_HOOK_ON_HASH 1
#define RVEDGE_HOOK_ON_DELIVER 2
#define RVEDGE_HOOK_ON_BACKEND_FETCH 3
#define RVEDGE_HOOK_ON_BACKEND_RESPONSE 4
#define RVEDGE_HOOK_ON_LIVE_UPDATE 5
#define RVEDGE_HOOK_ON_RESUME_UPDATE 6
#define RVEDGE_HOOK_ON_SYNTH 7
#define RVEDGE_HOOK_ON_HIT 8
#define RVEDGE_HOOK_ON_MISS 9
#define RVEDGE_HOOK_ON_BACKEND_ERROR 10

/* forge decisions. */
#define RVEDGE_UNCACHED 0
#define RVEDGE_CACHED 1

/* Error codes the host returns negated (docs/abi.md, "Error codes"); the same
 * values as Linux <errno.h>, repeated so tenants need not include it. */
#define RVEDGE_EPERM 1
#define RVEDGE_ENOENT 2
#define RVEDGE_E2BIG 7
#define RVEDGE_EINVAL 22
#define RVEDGE_ENOSYS 38

/* Length of the SHA-256 and HMAC-SHA256 outputs. */
#define RVEDGE_DIGEST_LEN 32

/* One register: 64 bits on RV64, 32 on RV32. Every argument and result of a
 * call travels in one (docs/abi.md, "Argument widths"): on RV32 pointers,
 * lengths and all other values are 32-bit, and results are sign-extended from
 * 32 bits, so the int64_t results below mean the same on both widths. */
typedef uintptr_t rvedge_word;
typedef intptr_t rvedge_signed_word;

/* A hook: the host calls it with a0 = data (the value given at registration),
 * a1 = arg1, a2 = arg2 (see the hook table: usually two header-set ids), and
 * a3 = the argument string of VCL's run(arg) (NUL-terminated; NULL without
 * one), which hooks that do not need it simply do not declare. Its parameters
 * are registers, so write them as rvedge_word (uint64_t is the same type on
 * RV64 only). */
typedef void (*rvedge_hook_fn)(rvedge_word data, rvedge_word arg1, rvedge_word arg2);

/* The header-set argument of a hook that has no such set (on_hit, on_miss). */
#define RVEDGE_NO_HEADER_SET UINT64_MAX

/* ---- Raw ecalls ---------------------------------------------------------
 * The "memory" clobber matters: the host reads and writes guest buffers, so
 * the compiler must not keep their contents in registers across the call. */

static inline int64_t rvedge_syscall0(rvedge_word number) {
    register rvedge_word a7 __asm__("a7") = number;
    register rvedge_signed_word a0 __asm__("a0");
    __asm__ volatile("ecall" : "=r"(a0) : "r"(a7) : "memory");
    return a0;
}

static inline int64_t rvedge_syscall1(rvedge_word number, rvedge_word arg0) {
    register rvedge_word a7 __asm__("a7") = number;
    register rvedge_word a0 __asm__("a0") = arg0;
    __asm__ volatile("ecall" : "+r"(a0) : "r"(a7) : "memory");
    return (int64_t)(rvedge_signed_word)a0;
}

static inline int64_t rvedge_syscall2(rvedge_word number, rvedge_word arg0, rvedge_word arg1) {
    register rvedge_word a7 __asm__("a7") = number;
    register rvedge_word a0 __asm__("a0") = arg0;
    register rvedge_word a1 __asm__("a1") = arg1;
    __asm__ volatile("ecall" : "+r"(a0) : "r"(a7), "r"(a1) : "memory");
    return (int64_t)(rvedge_signed_word)a0;
}

static inline int64_t rvedge_syscall3(rvedge_word number, rvedge_word arg0, rvedge_word arg1,
                                      rvedge_word arg2) {
    register rvedge_word a7 __asm__("a7") = number;
    register rvedge_word a0 __asm__("a0") = arg0;
    register rvedge_word a1 __asm__("a1") = arg1;
    register rvedge_word a2 __asm__("a2") = arg2;
    __asm__ volatile("ecall" : "+r"(a0) : "r"(a7), "r"(a1), "r"(a2) : "memory");
    return (int64_t)(rvedge_signed_word)a0;
}

static inline int64_t rvedge_syscall4(rvedge_word number, rvedge_word arg0, rvedge_word arg1,
                                      rvedge_word arg2, rvedge_word arg3) {
    register rvedge_word a7 __asm__("a7") = number;
    register rvedge_word a0 __asm__("a0") = arg0;
    register rvedge_word a1 __asm__("a1") = arg1;
    register rvedge_word a2 __asm__("a2") = arg2;
    register rvedge_word a3 __asm__("a3") = arg3;
    __asm__ volatile("ecall" : "+r"(a0) : "r"(a7), "r"(a1), "r"(a2), "r"(a3) : "memory");
    return (int64_t)(rvedge_signed_word)a0;
}

static inline int64_t rvedge_syscall5(rvedge_word number, rvedge_word arg0, rvedge_word arg1,
                                      rvedge_word arg2, rvedge_word arg3, rvedge_word arg4) {
    register rvedge_word a7 __asm__("a7") = number;
    register rvedge_word a0 __asm__("a0") = arg0;
    register rvedge_word a1 __asm__("a1") = arg1;
    register rvedge_word a2 __asm__("a2") = arg2;
    register rvedge_word a3 __asm__("a3") = arg3;
    register rvedge_word a4 __asm__("a4") = arg4;
    __asm__ volatile("ecall"
                     : "+r"(a0)
                     : "r"(a7), "r"(a1), "r"(a2), "r"(a3), "r"(a4)
                     : "memory");
    return (int64_t)(rvedge_signed_word)a0;
}

static inline int64_t rvedge_syscall6(rvedge_word number, rvedge_word arg0, rvedge_word arg1,
                                      rvedge_word arg2, rvedge_word arg3, rvedge_word arg4,
                                      rvedge_word arg5) {
    register rvedge_word a7 __asm__("a7") = number;
    register rvedge_word a0 __asm__("a0") = arg0;
    register rvedge_word a1 __asm__("a1") = arg1;
    register rvedge_word a2 __asm__("a2") = arg2;
    register rvedge_word a3 __asm__("a3") = arg3;
    register rvedge_word a4 __asm__("a4") = arg4;
    register rvedge_word a5 __asm__("a5") = arg5;
    __asm__ volatile("ecall"
                     : "+r"(a0)
                     : "r"(a7), "r"(a1), "r"(a2), "r"(a3), "r"(a4), "r"(a5)
                     : "memory");
    return (int64_t)(rvedge_signed_word)a0;
}

static inline int64_t rvedge_syscall7(rvedge_word number, rvedge_word arg0, rvedge_word arg1,
                                      rvedge_word arg2, rvedge_word arg3, rvedge_word arg4,
                                      rvedge_word arg5, rvedge_word arg6) {
    register rvedge_word a7 __asm__("a7") = number;
    register rvedge_word a0 __asm__("a0") = arg0;
    register rvedge_word a1 __asm__("a1") = arg1;
    register rvedge_word a2 __asm__("a2") = arg2;
    register rvedge_word a3 __asm__("a3") = arg3;
    register rvedge_word a4 __asm__("a4") = arg4;
    register rvedge_word a5 __asm__("a5") = arg5;
    register rvedge_word a6 __asm__("a6") = arg6;
    __asm__ volatile("ecall"
                     : "+r"(a0)
                     : "r"(a7), "r"(a1), "r"(a2), "r"(a3), "r"(a4), "r"(a5), "r"(a6)
                     : "memory");
    return (int64_t)(rvedge_signed_word)a0;
}

/* Pointers travel as plain numbers, a register wide. */
#define RVEDGE_PTR(p) ((rvedge_word)(uintptr_t)(p))

/* ---- One function per call ---------------------------------------------- */

/* Ends start-up: this machine becomes the template and each request runs
 * entry(data, req, resp) as on_recv in a fresh fork. Never returns. */
__attribute__((noreturn)) static inline void rvedge_wait_for_requests(rvedge_hook_fn entry,
                                                                      uint64_t data) {
    rvedge_syscall2(RVEDGE_CALL_WAIT_FOR_REQUESTS, RVEDGE_PTR(entry), data);
    __builtin_unreachable();
}

/* entry NULL removes the hook. */
static inline int64_t rvedge_set_hook(uint64_t hook, rvedge_hook_fn entry, uint64_t data) {
    return rvedge_syscall3(RVEDGE_CALL_SET_HOOK, hook, RVEDGE_PTR(entry), data);
}

/* Value length, or -RVEDGE_ENOENT if the header is absent. */
static inline int64_t rvedge_header_get(uint64_t set, const char *name, size_t name_len,
                                        char *out, size_t out_cap) {
    return rvedge_syscall5(RVEDGE_CALL_HEADER_GET, set, RVEDGE_PTR(name), name_len,
                           RVEDGE_PTR(out), out_cap);
}

/* Replaces every header of that name. Headers the proxy owns (Host, pseudo-
 * headers, framing and hop-by-hop headers, x-rvedge-*, x-envoy-*) give
 * -RVEDGE_EPERM here, in header_append and in header_unset; past the
 * request's caps on headers added, -RVEDGE_E2BIG (docs/abi.md). */
static inline int64_t rvedge_header_set(uint64_t set, const char *name, size_t name_len,
                                        const char *value, size_t value_len) {
    return rvedge_syscall5(RVEDGE_CALL_HEADER_SET, set, RVEDGE_PTR(name), name_len,
                           RVEDGE_PTR(value), value_len);
}

static inline int64_t rvedge_header_append(uint64_t set, const char *name, size_t name_len,
                                           const char *value, size_t value_len) {
    return rvedge_syscall5(RVEDGE_CALL_HEADER_APPEND, set, RVEDGE_PTR(name), name_len,
                           RVEDGE_PTR(value), value_len);
}

/* Number of headers removed. */
static inline int64_t rvedge_header_unset(uint64_t set, const char *name, size_t name_len) {
    return rvedge_syscall3(RVEDGE_CALL_HEADER_UNSET, set, RVEDGE_PTR(name), name_len);
}

static inline int64_t rvedge_header_count(uint64_t set) {
    return rvedge_syscall1(RVEDGE_CALL_HEADER_COUNT, set);
}

/* Writes "Name: value" of header number `index`; -RVEDGE_ENOENT past the end. */
static inline int64_t rvedge_header_at(uint64_t set, uint64_t index, char *out,
                                       size_t out_cap) {
    return rvedge_syscall4(RVEDGE_CALL_HEADER_AT, set, index, RVEDGE_PTR(out), out_cap);
}

/* Path and query. */
static inline int64_t rvedge_url_get(uint64_t set, char *out, size_t out_cap) {
    return rvedge_syscall3(RVEDGE_CALL_URL_GET, set, RVEDGE_PTR(out), out_cap);
}

static inline int64_t rvedge_url_set(uint64_t set, const char *url, size_t url_len) {
    return rvedge_syscall3(RVEDGE_CALL_URL_SET, set, RVEDGE_PTR(url), url_len);
}

static inline int64_t rvedge_method_get(uint64_t set, char *out, size_t out_cap) {
    return rvedge_syscall3(RVEDGE_CALL_METHOD_GET, set, RVEDGE_PTR(out), out_cap);
}

static inline int64_t rvedge_method_set(uint64_t set, const char *method, size_t method_len) {
    return rvedge_syscall3(RVEDGE_CALL_METHOD_SET, set, RVEDGE_PTR(method), method_len);
}

static inline int64_t rvedge_status_get(uint64_t set) {
    return rvedge_syscall1(RVEDGE_CALL_STATUS_GET, set);
}

/* status must be a final status, 200..=599. */
static inline int64_t rvedge_status_set(uint64_t set, uint64_t status) {
    return rvedge_syscall2(RVEDGE_CALL_STATUS_SET, set, status);
}

/* The client request's body. */
static inline int64_t rvedge_body_get(char *out, size_t out_cap) {
    return rvedge_syscall2(RVEDGE_CALL_BODY_GET, RVEDGE_PTR(out), out_cap);
}

/* Only in on_recv. entry(data, bereq, beresp) runs in a backend-side fork and
 * must call rvedge_respond; `data` is all it gets from this fork, so it must
 * not point into this fork's memory. */
static inline int64_t rvedge_forge(uint64_t decision, rvedge_hook_fn entry, uint64_t data) {
    return rvedge_syscall3(RVEDGE_CALL_FORGE, decision, RVEDGE_PTR(entry), data);
}

/* In a forge callback: the backend response. In on_recv: answer the client
 * at once (synthetic, never cached). */
static inline int64_t rvedge_respond(uint64_t status, const char *content_type,
                                     size_t content_type_len, const char *body,
                                     size_t body_len) {
    return rvedge_syscall5(RVEDGE_CALL_RESPOND, status, RVEDGE_PTR(content_type),
                           content_type_len, RVEDGE_PTR(body), body_len);
}

static inline int64_t rvedge_backend_set(const char *name, size_t name_len) {
    return rvedge_syscall2(RVEDGE_CALL_BACKEND_SET, RVEDGE_PTR(name), name_len);
}

static inline int64_t rvedge_cache_set(int cacheable, uint64_t ttl_seconds) {
    return rvedge_syscall2(RVEDGE_CALL_CACHE_SET, cacheable != 0, ttl_seconds);
}

static inline int64_t rvedge_hash_add(const void *data, size_t data_len) {
    return rvedge_syscall2(RVEDGE_CALL_HASH_ADD, RVEDGE_PTR(data), data_len);
}

static inline int64_t rvedge_log(const char *message, size_t message_len) {
    return rvedge_syscall2(RVEDGE_CALL_LOG, RVEDGE_PTR(message), message_len);
}

/* 0 if valid, else the length of the error message written to err. */
static inline int64_t rvedge_json_validate(const char *doc, size_t doc_len, char *err,
                                           size_t err_cap) {
    return rvedge_syscall4(RVEDGE_CALL_JSON_VALIDATE, RVEDGE_PTR(doc), doc_len,
                           RVEDGE_PTR(err), err_cap);
}

/* pointer is RFC 6901 ("" = whole document). Strings come back unquoted,
 * other values as compact JSON. -RVEDGE_ENOENT or -RVEDGE_EINVAL. */
static inline int64_t rvedge_json_query(const char *doc, size_t doc_len, const char *pointer,
                                        size_t pointer_len, char *out, size_t out_cap) {
    return rvedge_syscall6(RVEDGE_CALL_JSON_QUERY, RVEDGE_PTR(doc), doc_len,
                           RVEDGE_PTR(pointer), pointer_len, RVEDGE_PTR(out), out_cap);
}

static inline int64_t rvedge_xml_validate(const char *doc, size_t doc_len, char *err,
                                          size_t err_cap) {
    return rvedge_syscall4(RVEDGE_CALL_XML_VALIDATE, RVEDGE_PTR(doc), doc_len,
                           RVEDGE_PTR(err), err_cap);
}

/* path is "/a/b" from the root, optionally ending in "/@attr". */
static inline int64_t rvedge_xml_query(const char *doc, size_t doc_len, const char *path,
                                       size_t path_len, char *out, size_t out_cap) {
    return rvedge_syscall6(RVEDGE_CALL_XML_QUERY, RVEDGE_PTR(doc), doc_len, RVEDGE_PTR(path),
                           path_len, RVEDGE_PTR(out), out_cap);
}

/* out must hold RVEDGE_DIGEST_LEN bytes. */
static inline int64_t rvedge_sha256(const void *data, size_t data_len,
                                    uint8_t out[RVEDGE_DIGEST_LEN]) {
    return rvedge_syscall3(RVEDGE_CALL_SHA256, RVEDGE_PTR(data), data_len, RVEDGE_PTR(out));
}

static inline int64_t rvedge_hmac_sha256(const void *key, size_t key_len, const void *message,
                                         size_t message_len, uint8_t out[RVEDGE_DIGEST_LEN]) {
    return rvedge_syscall5(RVEDGE_CALL_HMAC_SHA256, RVEDGE_PTR(key), key_len,
                           RVEDGE_PTR(message), message_len, RVEDGE_PTR(out));
}

/* Only in on_live_update. */
static inline int64_t rvedge_state_save(const void *data, size_t data_len) {
    return rvedge_syscall2(RVEDGE_CALL_STATE_SAVE, RVEDGE_PTR(data), data_len);
}

/* Only in on_resume_update (whose arg1 is the saved length). */
static inline int64_t rvedge_state_restore(void *out, size_t out_cap) {
    return rvedge_syscall2(RVEDGE_CALL_STATE_RESTORE, RVEDGE_PTR(out), out_cap);
}

/* ---- NUL-terminated conveniences ----------------------------------------- */

/* Turns a raw output-call result into snprintf semantics: NUL-terminates what
 * was written (cutting the last byte if the buffer was exactly full). */
static inline int64_t rvedge_terminate_(int64_t result, char *out, size_t out_cap) {
    if (out_cap == 0) {
        return result;
    }
    size_t written = 0;
    if (result > 0) {
        written = (uint64_t)result < out_cap ? (size_t)result : out_cap - 1;
    }
    out[written] = '\0';
    return result;
}

static inline int64_t rvedge_header_get_str(uint64_t set, const char *name, char *out,
                                            size_t out_cap) {
    return rvedge_terminate_(rvedge_header_get(set, name, strlen(name), out, out_cap), out,
                             out_cap);
}

static inline int64_t rvedge_header_set_str(uint64_t set, const char *name, const char *value) {
    return rvedge_header_set(set, name, strlen(name), value, strlen(value));
}

static inline int64_t rvedge_header_append_str(uint64_t set, const char *name,
                                               const char *value) {
    return rvedge_header_append(set, name, strlen(name), value, strlen(value));
}

static inline int64_t rvedge_header_unset_str(uint64_t set, const char *name) {
    return rvedge_header_unset(set, name, strlen(name));
}

static inline int64_t rvedge_url_get_str(uint64_t set, char *out, size_t out_cap) {
    return rvedge_terminate_(rvedge_url_get(set, out, out_cap), out, out_cap);
}

static inline int64_t rvedge_url_set_str(uint64_t set, const char *url) {
    return rvedge_url_set(set, url, strlen(url));
}

static inline int64_t rvedge_method_get_str(uint64_t set, char *out, size_t out_cap) {
    return rvedge_terminate_(rvedge_method_get(set, out, out_cap), out, out_cap);
}

static inline int64_t rvedge_respond_str(uint64_t status, const char *content_type,
                                         const char *body) {
    return rvedge_respond(status, content_type, strlen(content_type), body, strlen(body));
}

static inline int64_t rvedge_backend_set_str(const char *name) {
    return rvedge_backend_set(name, strlen(name));
}

static inline int64_t rvedge_hash_add_str(const char *data) {
    return rvedge_hash_add(data, strlen(data));
}

static inline int64_t rvedge_log_str(const char *message) {
    return rvedge_log(message, strlen(message));
}

#ifdef __cplusplus
}
#endif

/* ---- Calls for libvmod-riscv's API (570 and up) -------------------------- */

/* In a hook: asks the host's configuration (VCL) to act on `name` ("synth",
 * "pass", "hash", ...) with `status`, and ends the hook here. With `paused`
 * the hook stops instead, and the host may resume it later (VCL resume()). */
static inline int64_t rvedge_decision(const char *name, size_t name_len, uint64_t status,
                                      int paused) {
    return rvedge_syscall4(RVEDGE_CALL_DECISION, RVEDGE_PTR(name), name_len, status,
                           paused != 0);
}

/* Ends the running hook or callback as if its function returned. */
static inline void rvedge_end_hook(void) { rvedge_syscall0(RVEDGE_CALL_END_HOOK); }

/* Names a function `const char *fn(const char *argument)` for calls by name
 * (VCL call()), found before the symbol table. */
static inline int64_t rvedge_register_function(const char *name, size_t name_len,
                                               const void *entry) {
    return rvedge_syscall3(RVEDGE_CALL_REGISTER_FUNCTION, RVEDGE_PTR(name), name_len,
                           RVEDGE_PTR(entry));
}

/* What cache_set set for the response being made: what 0 = cacheable (0/1),
 * 1 = TTL seconds; -ENOENT when it was not called. */
static inline int64_t rvedge_cache_get(uint64_t what) {
    return rvedge_syscall1(RVEDGE_CALL_CACHE_GET, what);
}

/* Invalidates this tenant's cached objects that match a Varnish ban
 * expression (e.g. "req.url ~ ^/news"); -EPERM where the host has no cache. */
static inline int64_t rvedge_ban(const char *expression, size_t expression_len) {
    return rvedge_syscall2(RVEDGE_CALL_BAN, RVEDGE_PTR(expression), expression_len);
}

/* In a debug program, stops for a debugger; elsewhere does nothing. */
static inline void rvedge_breakpoint(void) { rvedge_syscall0(RVEDGE_CALL_BREAKPOINT); }

/* Compiles a regular expression (host-side); returns its index. */
static inline int64_t rvedge_regex_compile(const char *pattern, size_t pattern_len) {
    return rvedge_syscall2(RVEDGE_CALL_REGEX_COMPILE, RVEDGE_PTR(pattern), pattern_len);
}

/* 1 if expression `index` matches anywhere in `subject`, else 0. */
static inline int64_t rvedge_regex_match(uint64_t index, const char *subject,
                                         size_t subject_len) {
    return rvedge_syscall3(RVEDGE_CALL_REGEX_MATCH, index, RVEDGE_PTR(subject), subject_len);
}

/* `text` with the first (every, with `all`) match replaced by `replacement`
 * (\0 the match, \1..\9 groups) into `out`; returns the full length. */
static inline int64_t rvedge_regex_subst(uint64_t index, int all, const char *text,
                                         size_t text_len, const char *replacement,
                                         size_t replacement_len, char *out, size_t out_cap) {
    /* Bit 31, so the flag fits an RV32 register; indices stay far below it. */
    uint64_t flags = all ? (1ull << 31) : 0;
    return rvedge_syscall7(RVEDGE_CALL_REGEX_SUBST, index | flags, RVEDGE_PTR(text), text_len,
                           RVEDGE_PTR(replacement), replacement_len, RVEDGE_PTR(out),
                           out_cap);
}

static inline int64_t rvedge_regex_free(uint64_t index) {
    return rvedge_syscall1(RVEDGE_CALL_REGEX_FREE, index);
}

#endif /* RVEDGE_H */
