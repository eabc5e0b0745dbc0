// libvmod-riscv's C-style tenant API (its tests/riscv_api.hpp): the calls its
// small test programs use, over rvedge.h. Programs define `start(argc, argv)`
// (their entry there); here `main` calls it, as the programs are ordinary
// static Linux executables built with riscv64-linux-gnu-g++.
//
//     #include "riscv_api.hpp"
//     static void on_recv(int req) { decision("synth", 5, 404); }
//     void start(int argc, char **argv) { wait_for_requests(on_recv); }
#ifndef RVEDGE_RISCV_API_HPP
#define RVEDGE_RISCV_API_HPP

#include <rvedge.h>

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define NOT_CACHED 0
#define PASS 0
#define CACHED 1

enum gethdr_e {
    HDR_REQ = RVEDGE_REQ,
    HDR_REQ_TOP = RVEDGE_REQ,
    HDR_RESP = RVEDGE_RESP,
    HDR_OBJ = 4,
    HDR_BEREQ = RVEDGE_BEREQ,
    HDR_BERESP = RVEDGE_BERESP,
};

// libvmod-riscv's header field indices: 0 method, 1 URL, 2 protocol, 3 status
// and 4 reason of a response; headers have no fixed index in rvedge.
enum { FIELD_METHOD = 0, FIELD_URL = 1, FIELD_PROTO = 2 };

namespace riscv_api_detail {

// Hooks are called with (data, arg1, arg2, argument); `data` is the user's
// function, called with the first header set (libvmod-riscv passes the
// request's).
inline void request_entry(uint64_t data, uint64_t first, uint64_t, const char *) {
    reinterpret_cast<void (*)(int)>(static_cast<uintptr_t>(data))(static_cast<int>(first));
}

// Callbacks and forge functions take no arguments.
inline void plain_entry(uint64_t data, uint64_t, uint64_t, const char *) {
    reinterpret_cast<void (*)()>(static_cast<uintptr_t>(data))();
}

// An entry that also takes the hook's argument string (a3) as a hook entry.
inline rvedge_hook_fn hook_entry(void (*entry)(uint64_t, uint64_t, uint64_t, const char *)) {
    return reinterpret_cast<rvedge_hook_fn>(reinterpret_cast<void (*)()>(entry));
}

} // namespace riscv_api_detail

// Ends the hook or callback (libvmod-riscv's "halt" instruction).
inline void halt() { rvedge_end_hook(); }

// The response of a forge callback; the callback ends here.
[[noreturn]] inline void sys_response(int status, const char *content_type, long content_type_len,
                                      const void *data, long data_len) {
    rvedge_respond(static_cast<uint64_t>(status), content_type,
                   static_cast<size_t>(content_type_len), static_cast<const char *>(data),
                   static_cast<size_t>(data_len));
    rvedge_end_hook();
    __builtin_unreachable();
}

// Asks the VCL to act on `dec` (riscv.want_result()) with `status`; the hook
// ends here.
inline void decision(const char *dec, size_t declen, int status) {
    rvedge_decision(dec, declen, static_cast<uint64_t>(status), 0);
}

inline void forge(int cached, void (*func)()) {
    rvedge_forge(cached ? RVEDGE_CACHED : RVEDGE_UNCACHED,
                 riscv_api_detail::hook_entry(riscv_api_detail::plain_entry),
                 static_cast<uint64_t>(reinterpret_cast<uintptr_t>(func)));
}

// A synthetic answer (in on_synth: what vcl_synth sends); the hook ends here.
[[noreturn]] inline void synth(uint16_t status, const char *ctype, size_t clen, const char *data,
                               size_t dlen) {
    rvedge_respond(status, ctype, clen, data, dlen);
    rvedge_end_hook();
    __builtin_unreachable();
}

// Field `idx` (see FIELD_*) of a header set; returns its length.
inline long header_field(int where, int idx, char *buffer, size_t maxlen) {
    int64_t length;
    switch (idx) {
    case FIELD_METHOD:
        length = rvedge_method_get(static_cast<uint64_t>(where), buffer, maxlen);
        break;
    case FIELD_URL:
        length = rvedge_url_get(static_cast<uint64_t>(where), buffer, maxlen);
        break;
    case FIELD_PROTO:
        length = 8;
        if (maxlen > 0) {
            memcpy(buffer, "HTTP/1.1", maxlen < 8 ? maxlen : 8);
        }
        break;
    default:
        return -RVEDGE_EINVAL;
    }
    // NUL-terminated when it fits, as libvmod-riscv's programs expect.
    if (length >= 0 && static_cast<size_t>(length) < maxlen) {
        buffer[length] = '\0';
    }
    return static_cast<long>(length);
}

inline long get_url(int where, char *buffer, size_t maxlen) {
    return header_field(where, FIELD_URL, buffer, maxlen);
}

// libvmod-riscv's callback numbers: 1 on_recv, 2 on_hash, 3 on_synth,
// 4 on_backend_fetch, 5 on_backend_response, 6 on_backend_error, 7 on_deliver,
// 8 on_hit, 9 on_miss. Callbacks take no arguments here.
inline void register_callback(unsigned idx, void (*cb)()) {
    static const uint64_t hooks[] = {
        UINT64_MAX,
        RVEDGE_HOOK_ON_RECV,
        RVEDGE_HOOK_ON_HASH,
        RVEDGE_HOOK_ON_SYNTH,
        RVEDGE_HOOK_ON_BACKEND_FETCH,
        RVEDGE_HOOK_ON_BACKEND_RESPONSE,
        RVEDGE_HOOK_ON_BACKEND_ERROR,
        RVEDGE_HOOK_ON_DELIVER,
        RVEDGE_HOOK_ON_HIT,
        RVEDGE_HOOK_ON_MISS,
    };
    if (idx == 0 || idx >= sizeof hooks / sizeof hooks[0]) {
        return;
    }
    rvedge_set_hook(hooks[idx], riscv_api_detail::hook_entry(riscv_api_detail::plain_entry),
                    static_cast<uint64_t>(reinterpret_cast<uintptr_t>(cb)));
}

typedef void (*on_recv_f)(int req);

[[noreturn]] inline void wait_for_requests(on_recv_f on_recv) {
    rvedge_wait_for_requests(riscv_api_detail::hook_entry(riscv_api_detail::request_entry),
                             static_cast<uint64_t>(reinterpret_cast<uintptr_t>(on_recv)));
}

extern "C" void start(int argc, char **argv);

int main(int argc, char **argv) {
    start(argc, argv);
    return 0;
}

#endif // RVEDGE_RISCV_API_HPP
