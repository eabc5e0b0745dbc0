// rvedge tenant API for C++17 and later, built on rvedge.h (docs/abi.md is
// the contract). Also brings in nlohmann::json, so tenants get it from here.
//
//     #include <api.h>
//     static void on_recv(api::Request req) {
//         req.set("X-Tenant", "demo");
//         api::forge(api::Cached, [](api::Request, api::Response) {
//             return api::response{200, "text/plain", "hi\n"};
//         });
//     }
//     int main() { api::wait_for_requests(on_recv); }
//
// libvmod-riscv's API (its api.h) is here too, with its names and shapes:
// gethdr_e, HTTP / HeaderField handles (req["X-Name"], +=, appendf, regsub,
// foreach), Request/Response::set_cacheable/set_ttl, forge with (),
// (Request, Response) and (Request, Response, body, length) callbacks,
// response{status, type, data}, synth, decision/pause_for, hash_data, bans,
// Regex, print/log with "{}" formatting, EXPECT, set_on_deliver,
// sys_register_callback, is_storage/is_debug and time literals. Sources
// written for it compile against this header; vmod/README.md lists what
// behaves differently.
//
// Errors: a call the host refuses for a reason that is a bug in the tenant
// (a header set that does not exist in this hook, a bad header name, a call
// made in the wrong hook) throws api::error. Left uncaught it aborts the
// request, which the host reports as `crashed` and the message ends up in the
// tenant's log, so mistakes are visible instead of silently ignored. Values
// that may legitimately be absent (a header, a query result) are
// std::optional instead.
#ifndef RVEDGE_API_H
#define RVEDGE_API_H

#include <rvedge.h>

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace api {

// A call returned -errno where the tenant cannot carry on sensibly.
class error : public std::runtime_error {
public:
    error(const char *call, int64_t result)
        : std::runtime_error(std::string("rvedge ") + call + " failed: " + errno_name(result)),
          result_(result) {}

    // The raw (negative) result of the call.
    int64_t result() const noexcept { return result_; }

private:
    static std::string errno_name(int64_t result) {
        switch (-result) {
        case RVEDGE_EPERM: return "EPERM (not allowed here)";
        case RVEDGE_ENOENT: return "ENOENT (no such value)";
        case RVEDGE_E2BIG: return "E2BIG (value too large)";
        case RVEDGE_EINVAL: return "EINVAL (bad argument value)";
        case RVEDGE_ENOSYS: return "ENOSYS (unknown call)";
        default: return "errno " + std::to_string(-result);
        }
    }

    int64_t result_;
};

namespace detail {

inline int64_t check(const char *call, int64_t result) {
    if (result < 0) {
        throw error(call, result);
    }
    return result;
}

// Runs an output-buffer call `call(out, cap)` and returns what it wrote;
// `result` is the call's result, and the string is empty when it is negative.
// Most values are short, so a stack buffer is tried first, and the string is
// constructed from it: assigning it would go through libstdc++'s general
// _M_replace, 36 more guest instructions in the seed's on_recv. The host returns the full
// length, so when it did not fit, the call is repeated with a string of
// exactly that size (in a loop, in case the value grew in between).
template <class Call>
std::string read_output(int64_t &result, Call &&call) {
    char stack[512];
    result = call(stack, sizeof stack);
    if (result < 0) {
        return std::string();
    }
    if (static_cast<uint64_t>(result) <= sizeof stack) {
        return std::string(stack, static_cast<size_t>(result));
    }
    std::string out;
    for (;;) {
        out.resize(static_cast<size_t>(result));
        result = call(out.data(), out.size());
        if (result < 0) {
            return std::string();
        }
        if (static_cast<uint64_t>(result) <= out.size()) {
            out.resize(static_cast<size_t>(result));
            return out;
        }
    }
}

// Like read_output, but a negative result throws.
template <class Call>
std::string read_checked(const char *call_name, Call &&call) {
    int64_t result;
    std::string out = read_output(result, call);
    check(call_name, result);
    return out;
}

// Like read_output, but -ENOENT and -EINVAL (absent or not parseable) become
// nullopt; anything else negative throws.
template <class Call>
std::optional<std::string> read_optional(const char *call_name, Call &&call) {
    int64_t result;
    std::string out = read_output(result, call);
    if (result == -RVEDGE_ENOENT || result == -RVEDGE_EINVAL) {
        return std::nullopt;
    }
    check(call_name, result);
    return out;
}

} // namespace detail

// libvmod-riscv's names for the header sets. HDR_REQ_TOP is the request
// (rvedge has no ESI sub-requests); HDR_OBJ, the cached object of on_hit, is
// not a header set here, and calls on it fail with EINVAL.
enum gethdr_e : uint64_t {
    HDR_REQ = RVEDGE_REQ,
    HDR_REQ_TOP = RVEDGE_REQ,
    HDR_RESP = RVEDGE_RESP,
    HDR_OBJ = 4,
    HDR_BEREQ = RVEDGE_BEREQ,
    HDR_BERESP = RVEDGE_BERESP,
};

class HeaderField;
class HeaderSet;
class Regex;

namespace detail {
template <class... Args>
std::string format(std::string_view format_string, Args &&...args);
} // namespace detail

// The headers of one header set (req, resp, bereq or beresp). Cheap to copy:
// it only holds the set's id; the headers themselves live in the host.
class HeaderSet {
public:
    explicit HeaderSet(uint64_t id) : id_(id) {}

    // ---- libvmod-riscv's HTTP ------------------------------------------
    // The first header `name`, as a handle; invalid (false) when absent.
    HeaderField find(const std::string &name) const;
    HeaderField operator[](const std::string &name) const;
    // Appends a "Name: value" line (or a field of another set).
    HeaderField operator+=(const std::string &line) const;
    HeaderField operator+=(const HeaderField &field) const;
    HeaderField append(const HeaderField &field) const;
    template <class... Args>
    HeaderField appendf(std::string_view format, Args &&...args) const;
    // Every header, in order; a field unset in the callback is removed.
    void foreach(const std::function<void(HeaderField &)> &callback) const;
    // Removes every header whose name matches; returns how many.
    size_t unset(const Regex &regex) const;
    // Not available in rvedge (its hosts keep no copy of the original
    // message): throws api::error (ENOSYS).
    void rollback() const;
    // Always "HTTP/1.1": rvedge hosts do not expose the protocol.
    std::string proto() const { return "HTTP/1.1"; }
    int status() const;
    // A response's status; it must be a final status, 200..=599.
    int set_status(int status) const;
    bool is_error() const { return status() >= 500; }
    const char *name() const;

private:
    HeaderField append_line(std::string_view line) const;

public:

    uint64_t id() const { return id_; }

    // The value of the first header with this name (case-insensitive), or
    // nullopt if there is none.
    std::optional<std::string> get(std::string_view name) const {
        int64_t result;
        std::string value = detail::read_output(result, [&](char *out, size_t cap) {
            return rvedge_header_get(id_, name.data(), name.size(), out, cap);
        });
        if (result == -RVEDGE_ENOENT) {
            return std::nullopt;
        }
        detail::check("header_get", result);
        return value;
    }

    // Replaces every header of that name.
    void set(std::string_view name, std::string_view value) const {
        detail::check("header_set", rvedge_header_set(id_, name.data(), name.size(),
                                                      value.data(), value.size()));
    }

    // Adds one more header.
    void append(std::string_view name, std::string_view value) const {
        detail::check("header_append", rvedge_header_append(id_, name.data(), name.size(),
                                                            value.data(), value.size()));
    }

    // Adds one header given as a "Name: value" line: split at the first ':',
    // spaces after it are not part of the value. A line without ':' is a bug
    // and throws (as EINVAL).
    HeaderField append(std::string_view line) const;

    // Removes every header of that name; returns how many there were.
    size_t unset(std::string_view name) const {
        return static_cast<size_t>(
            detail::check("header_unset", rvedge_header_unset(id_, name.data(), name.size())));
    }

    size_t count() const {
        return static_cast<size_t>(detail::check("header_count", rvedge_header_count(id_)));
    }

    // Every header as a "Name: value" line, in order.
    std::vector<std::string> headers() const {
        std::vector<std::string> lines;
        size_t n = count();
        lines.reserve(n);
        for (size_t index = 0; index < n; index++) {
            lines.push_back(detail::read_checked("header_at", [&](char *out, size_t cap) {
                return rvedge_header_at(id_, index, out, cap);
            }));
        }
        return lines;
    }

protected:
    uint64_t id_;
};

// A request: req in client hooks, bereq on the backend side.
class Request : public HeaderSet {
public:
    explicit Request(uint64_t id) : HeaderSet(id) {}

    // Path and query.
    std::string url() const {
        return detail::read_checked("url_get", [&](char *out, size_t cap) {
            return rvedge_url_get(id_, out, cap);
        });
    }

    void set_url(std::string_view url) const {
        detail::check("url_set", rvedge_url_set(id_, url.data(), url.size()));
    }

    std::string method() const {
        return detail::read_checked("method_get", [&](char *out, size_t cap) {
            return rvedge_method_get(id_, out, cap);
        });
    }

    void set_method(std::string_view method) const {
        detail::check("method_set", rvedge_method_set(id_, method.data(), method.size()));
    }
};

// A response: resp in client hooks, beresp on the backend side.
class Response : public HeaderSet {
public:
    explicit Response(uint64_t id) : HeaderSet(id) {}

    // The standard reason phrase of the status.
    std::string reason() const;

    // libvmod-riscv's cache settings of the backend response being made
    // (forge callbacks, on_backend_response): Varnish applies them to forged
    // and origin responses alike.
    static void set_cacheable(bool cacheable);
    static bool cacheable();
    static void set_ttl(float seconds);
    static float ttl();
};

using HTTP = HeaderSet;
using HTTP_Req = Request;
using HTTP_Resp = Response;

// What a forge callback returns: the backend response it makes up.
struct response {
    response(int status, std::string_view content_type, std::string_view body)
        : status(status), content_type(content_type), body(body) {}
    response(int status, std::string_view content_type, const std::vector<uint8_t> &body)
        : status(status), content_type(content_type), body(body.begin(), body.end()) {}

    int status;
    std::string content_type;
    std::string body;
};

// Unscoped, in namespace api, so that `forge(api::Cached, ...)` finds
// api::forge by argument-dependent lookup.
enum Decision : uint64_t {
    Uncached = RVEDGE_UNCACHED,
    Cached = RVEDGE_CACHED,
    // libvmod-riscv's name.
    NotCached = RVEDGE_UNCACHED,
};
using Cache = Decision;

enum class Hook : uint64_t {
    on_recv = RVEDGE_HOOK_ON_RECV,
    on_hash = RVEDGE_HOOK_ON_HASH,
    on_deliver = RVEDGE_HOOK_ON_DELIVER,
    on_backend_fetch = RVEDGE_HOOK_ON_BACKEND_FETCH,
    on_backend_response = RVEDGE_HOOK_ON_BACKEND_RESPONSE,
    on_live_update = RVEDGE_HOOK_ON_LIVE_UPDATE,
    on_resume_update = RVEDGE_HOOK_ON_RESUME_UPDATE,
    on_synth = RVEDGE_HOOK_ON_SYNTH,
    on_hit = RVEDGE_HOOK_ON_HIT,
    on_miss = RVEDGE_HOOK_ON_MISS,
    on_backend_error = RVEDGE_HOOK_ON_BACKEND_ERROR,
};

// Signatures of user functions. A captureless lambda converts to these (a
// generic one, `[](auto req, auto resp)`, too), so lambdas work everywhere.
using RequestFn = void (*)(Request);
using RequestResponseFn = void (*)(Request, Response);
using ForgeFn = response (*)(Request, Response);
using ForgeNoArgsFn = response (*)();
using ForgeBodyFn = response (*)(Request, Response, const void *body, size_t length);
using ForgeMutableBodyFn = response (*)(Request, Response, void *body, size_t length);
using RequestArgumentFn = void (*)(Request, Response, const char *argument);
using LiveUpdateFn = void (*)();
using ResumeUpdateFn = void (*)(size_t saved_length);

// Answers the client at once from on_recv (synthetic, never cached), or, in a
// forge callback, gives the backend response.
inline void respond(int status, std::string_view content_type, std::string_view body) {
    detail::check("respond",
                  rvedge_respond(static_cast<uint64_t>(status), content_type.data(),
                                 content_type.size(), body.data(), body.size()));
}

inline void respond(const response &r) { respond(r.status, r.content_type, r.body); }

// Answers with a synthetic response and ends the hook here (libvmod-riscv's
// synth): from on_recv the client gets it, in on_synth it is what vcl_synth
// sends.
[[noreturn]] inline void synth(int status, std::string_view content_type,
                               std::string_view body) {
    respond(status, content_type, body);
    rvedge_end_hook();
    __builtin_unreachable();
}

namespace detail {

// Hook entries. The host calls them with (data, arg1, arg2); `data` holds the
// user's function pointer, which is all that survives into another fork.
template <class Fn>
Fn fn_from(uint64_t data) {
    return reinterpret_cast<Fn>(static_cast<uintptr_t>(data));
}

template <class Fn>
uint64_t data_from(Fn fn) {
    return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(fn));
}

inline void request_entry(uint64_t data, uint64_t req, uint64_t) {
    fn_from<RequestFn>(data)(Request(req));
}

inline void request_response_entry(uint64_t data, uint64_t req, uint64_t resp) {
    fn_from<RequestResponseFn>(data)(Request(req), Response(resp));
}

inline void forge_entry(uint64_t data, uint64_t bereq, uint64_t beresp) {
    respond(fn_from<ForgeFn>(data)(Request(bereq), Response(beresp)));
}

inline void forge_no_args_entry(uint64_t data, uint64_t, uint64_t) {
    respond(fn_from<ForgeNoArgsFn>(data)());
}

// The callback gets the client request's body, read from the host when (and
// only when) such a callback runs.
inline void forge_body_entry(uint64_t data, uint64_t bereq, uint64_t beresp) {
    std::string body_bytes = read_checked(
        "body_get", [](char *out, size_t cap) { return rvedge_body_get(out, cap); });
    respond(fn_from<ForgeMutableBodyFn>(data)(Request(bereq), Response(beresp),
                                               body_bytes.data(), body_bytes.size()));
}

// An entry that also takes the hook's argument string (a3) as a hook entry:
// the host always passes it, rvedge_hook_fn just does not declare it.
using ArgumentEntry = void (*)(uint64_t, uint64_t, uint64_t, const char *);
inline rvedge_hook_fn hook_entry(ArgumentEntry entry) {
    return reinterpret_cast<rvedge_hook_fn>(reinterpret_cast<void (*)()>(entry));
}

inline void request_argument_entry(uint64_t data, uint64_t req, uint64_t resp,
                                   const char *argument) {
    fn_from<RequestArgumentFn>(data)(Request(req), Response(resp), argument);
}

inline void live_update_entry(uint64_t data, uint64_t, uint64_t) {
    fn_from<LiveUpdateFn>(data)();
}

inline void resume_update_entry(uint64_t data, uint64_t length, uint64_t) {
    fn_from<ResumeUpdateFn>(data)(static_cast<size_t>(length));
}

inline void set_hook(Hook hook, rvedge_hook_fn entry, uint64_t data) {
    detail::check("set_hook", rvedge_set_hook(static_cast<uint64_t>(hook), entry, data));
}

} // namespace detail

// Ends start-up; on_recv then runs for every request, in a fresh fork of the
// machine as it is now.
[[noreturn]] inline void wait_for_requests(RequestFn on_recv) {
    rvedge_wait_for_requests(detail::request_entry, detail::data_from(on_recv));
}

[[noreturn]] inline void wait_for_requests(RequestResponseFn on_recv) {
    rvedge_wait_for_requests(detail::request_response_entry, detail::data_from(on_recv));
}

// libvmod-riscv's three-parameter on_recv: the third is VCL's run(arg).
[[noreturn]] inline void wait_for_requests(RequestArgumentFn on_recv) {
    rvedge_wait_for_requests(detail::hook_entry(detail::request_argument_entry),
                             detail::data_from(on_recv));
}

// For on_recv, on_hash, on_deliver (req, resp) and on_backend_fetch,
// on_backend_response (bereq, beresp).
inline void set_hook(Hook hook, RequestResponseFn fn) {
    detail::set_hook(hook, detail::request_response_entry, detail::data_from(fn));
}

inline void set_hook(Hook hook, RequestFn fn) {
    detail::set_hook(hook, detail::request_entry, detail::data_from(fn));
}

// For on_live_update.
inline void set_hook(Hook hook, LiveUpdateFn fn) {
    detail::set_hook(hook, detail::live_update_entry, detail::data_from(fn));
}

// For on_resume_update: gets the length of the saved state.
inline void set_hook(Hook hook, ResumeUpdateFn fn) {
    detail::set_hook(hook, detail::resume_update_entry, detail::data_from(fn));
}

inline void remove_hook(Hook hook) { detail::set_hook(hook, nullptr, 0); }

// Only in on_recv: the response will come from fn(bereq, beresp), run in a
// backend-side fork; what it returns is passed to respond(). Cached asks the
// host to cache it (TTL 120 s unless fn calls cache()).
inline void forge(Decision decision, ForgeFn fn) {
    detail::check("forge", rvedge_forge(decision, detail::forge_entry, detail::data_from(fn)));
}

inline void forge(Decision decision, ForgeNoArgsFn fn) {
    detail::check("forge",
                  rvedge_forge(decision, detail::forge_no_args_entry, detail::data_from(fn)));
}

// The callback also gets the client request's body (at most the host's
// limit: Varnish answers 413 past it).
inline void forge(Decision decision, ForgeBodyFn fn) {
    detail::check("forge",
                  rvedge_forge(decision, detail::forge_body_entry, detail::data_from(fn)));
}

inline void forge(Decision decision, ForgeMutableBodyFn fn) {
    detail::check("forge",
                  rvedge_forge(decision, detail::forge_body_entry, detail::data_from(fn)));
}

// Only in on_recv and on_backend_fetch: a backend by the host's name.
inline void set_backend(std::string_view name) {
    detail::check("backend_set", rvedge_backend_set(name.data(), name.size()));
}

// For the response being built: cache it for ttl_seconds, or not at all.
inline void cache(uint64_t ttl_seconds) {
    detail::check("cache_set", rvedge_cache_set(1, ttl_seconds));
}

inline void uncacheable() { detail::check("cache_set", rvedge_cache_set(0, 0)); }

// In on_hash: adds bytes to the cache key.
inline void hash_add(std::string_view data) {
    detail::check("hash_add", rvedge_hash_add(data.data(), data.size()));
}

inline void log(std::string_view message) {
    detail::check("log", rvedge_log(message.data(), message.size()));
}

// The client request's body.
inline std::string body() {
    return detail::read_checked("body_get",
                                [](char *out, size_t cap) { return rvedge_body_get(out, cap); });
}

// nullopt if doc is valid JSON, else the host's message (with line and
// column).
inline std::optional<std::string> json_validate(std::string_view doc) {
    int64_t result;
    std::string message = detail::read_output(result, [&](char *out, size_t cap) {
        return rvedge_json_validate(doc.data(), doc.size(), out, cap);
    });
    if (detail::check("json_validate", result) == 0) {
        return std::nullopt;
    }
    return message;
}

// The value at an RFC 6901 pointer: strings unquoted, anything else as compact
// JSON. nullopt if there is no such value, or if doc is not JSON or the
// pointer is malformed (json_validate tells these apart).
inline std::optional<std::string> json_query(std::string_view doc, std::string_view pointer) {
    return detail::read_optional("json_query", [&](char *out, size_t cap) {
        return rvedge_json_query(doc.data(), doc.size(), pointer.data(), pointer.size(), out,
                                 cap);
    });
}

// nullopt if doc is well-formed XML, else the host's message.
inline std::optional<std::string> xml_validate(std::string_view doc) {
    int64_t result;
    std::string message = detail::read_output(result, [&](char *out, size_t cap) {
        return rvedge_xml_validate(doc.data(), doc.size(), out, cap);
    });
    if (detail::check("xml_validate", result) == 0) {
        return std::nullopt;
    }
    return message;
}

// The text of the first element at path ("/order/item") or an attribute's
// value ("/order/item/@sku"). nullopt if absent or doc is not XML.
inline std::optional<std::string> xml_query(std::string_view doc, std::string_view path) {
    return detail::read_optional("xml_query", [&](char *out, size_t cap) {
        return rvedge_xml_query(doc.data(), doc.size(), path.data(), path.size(), out, cap);
    });
}

// SHA-256 of data: 32 raw bytes (use to_hex for text).
inline std::string sha256(std::string_view data) {
    uint8_t digest[RVEDGE_DIGEST_LEN];
    detail::check("sha256", rvedge_sha256(data.data(), data.size(), digest));
    return std::string(reinterpret_cast<const char *>(digest), sizeof digest);
}

// HMAC-SHA256 of message under key: 32 raw bytes (use to_hex for text).
inline std::string hmac_sha256(std::string_view key, std::string_view message) {
    uint8_t digest[RVEDGE_DIGEST_LEN];
    detail::check("hmac_sha256", rvedge_hmac_sha256(key.data(), key.size(), message.data(),
                                                    message.size(), digest));
    return std::string(reinterpret_cast<const char *>(digest), sizeof digest);
}

// Lower-case hex of raw bytes.
inline std::string to_hex(std::string_view bytes) {
    static const char digits[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(bytes.size() * 2);
    for (unsigned char byte : bytes) {
        hex.push_back(digits[byte >> 4]);
        hex.push_back(digits[byte & 0xf]);
    }
    return hex;
}

// Only in on_live_update: bytes for the next program version.
inline void state_save(std::string_view data) {
    detail::check("state_save", rvedge_state_save(data.data(), data.size()));
}

// Only in on_resume_update: what the previous version saved.
inline std::string state_restore() {
    return detail::read_checked("state_restore", [](char *out, size_t cap) {
        return rvedge_state_restore(out, cap);
    });
}

// ---- libvmod-riscv's API: the rest ------------------------------------------

namespace detail {

inline void append_value(std::string &out, std::string_view text) { out.append(text); }
inline void append_value(std::string &out, const std::string &text) { out.append(text); }
inline void append_value(std::string &out, const char *text) { out.append(text ? text : "(null)"); }
inline void append_value(std::string &out, char *text) { out.append(text ? text : "(null)"); }
inline void append_value(std::string &out, char character) { out.push_back(character); }
inline void append_value(std::string &out, bool value) { out.append(value ? "true" : "false"); }
void append_value(std::string &out, const HeaderField &field);
template <class T>
std::enable_if_t<std::is_arithmetic_v<T>> append_value(std::string &out, T value) {
    out.append(std::to_string(value));
}
template <class T>
void append_value(std::string &out, const T *pointer) {
    char text[24];
    std::snprintf(text, sizeof text, "%p", static_cast<const void *>(pointer));
    out.append(text);
}

inline void format_into(std::string &out, std::string_view rest) {
    for (size_t index = 0; index < rest.size(); index++) {
        char character = rest[index];
        if ((character == '{' || character == '}') && index + 1 < rest.size() &&
            rest[index + 1] == character) {
            index++;
        }
        out.push_back(character);
    }
}

// "{}" (and "{:spec}", whose spec is ignored) take the arguments in order;
// "{{" and "}}" are braces. A small stand-in for the fmt library that
// libvmod-riscv's print/log/appendf use.
template <class First, class... Rest>
void format_into(std::string &out, std::string_view rest, First &&first, Rest &&...others) {
    for (size_t index = 0; index < rest.size(); index++) {
        char character = rest[index];
        if (character == '{' && index + 1 < rest.size() && rest[index + 1] == '{') {
            out.push_back('{');
            index++;
        } else if (character == '}' && index + 1 < rest.size() && rest[index + 1] == '}') {
            out.push_back('}');
            index++;
        } else if (character == '{') {
            size_t end = rest.find('}', index);
            if (end == std::string_view::npos) {
                break;
            }
            append_value(out, std::forward<First>(first));
            format_into(out, rest.substr(end + 1), std::forward<Rest>(others)...);
            return;
        } else {
            out.push_back(character);
        }
    }
}

template <class... Args>
std::string format(std::string_view format_string, Args &&...args) {
    std::string out;
    format_into(out, format_string, std::forward<Args>(args)...);
    return out;
}

} // namespace detail

// A handle on one header of a set, found by name (libvmod-riscv's
// HeaderField): invalid (false) when there was no such header.
class HeaderField {
public:
    // A view, so that append_line builds the name's string once, here.
    HeaderField(uint64_t set, std::string_view name, bool valid)
        : set_(set), name_(name), valid_(valid) {}

    explicit operator bool() const noexcept { return valid_; }
    bool is_valid() const noexcept { return valid_; }
    const std::string &field_name() const noexcept { return name_; }

    // "Name: value", or "" for an invalid field.
    std::string to_string() const {
        std::optional<std::string> found = value_of();
        return found ? name_ + ": " + *found : std::string();
    }
    std::string value() const { return value_of().value_or(std::string()); }

    // Sets the field: to a "Name: value" line of its own name, or to a value.
    HeaderField &set(std::string_view text) {
        std::string_view value = text;
        if (text.size() > name_.size() && text[name_.size()] == ':' &&
            equal_names(text.substr(0, name_.size()), name_)) {
            value = text.substr(name_.size() + 1);
            while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
                value.remove_prefix(1);
            }
        }
        HeaderSet(set_).set(name_, value);
        valid_ = true;
        return *this;
    }
    HeaderField &set(const char *text, size_t length) {
        return set(std::string_view(text, length));
    }
    HeaderField &set(const HeaderField &other) { return set(other.value()); }
    template <class... Args>
    HeaderField &set(std::string_view format, Args &&...args) {
        return set(std::string_view(detail::format(format, std::forward<Args>(args)...)));
    }
    HeaderField &operator=(std::string_view text) { return set(text); }
    HeaderField &operator=(const std::string &text) { return set(std::string_view(text)); }
    HeaderField &operator=(const char *text) { return set(std::string_view(text)); }

    HeaderField &regsub(const Regex &regex, const std::string &replacement, bool all = false);
    HeaderField &regsub(const std::string &pattern, const std::string &replacement,
                        bool all = false);

    // Removes every header of this name.
    void unset() {
        HeaderSet(set_).unset(name_);
        valid_ = false;
    }

    HeaderField append_to(const HeaderSet &destination) const {
        return destination.append(to_string());
    }
    HeaderSet http() const { return HeaderSet(set_); }

private:
    static bool equal_names(std::string_view left, std::string_view right) {
        if (left.size() != right.size()) {
            return false;
        }
        for (size_t index = 0; index < left.size(); index++) {
            char a = left[index], b = right[index];
            if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
            if (b >= 'A' && b <= 'Z') b = static_cast<char>(b - 'A' + 'a');
            if (a != b) {
                return false;
            }
        }
        return true;
    }

    std::optional<std::string> value_of() const {
        if (!valid_) {
            return std::nullopt;
        }
        return HeaderSet(set_).get(name_);
    }

    uint64_t set_;
    std::string name_;
    bool valid_;
};

// A regular expression, compiled and run by the host (Rust's regex crate:
// linear time, no backreferences). One made in main() is shared by every
// request.
class Regex {
public:
    explicit Regex(const std::string &pattern)
        : index_(rvedge_regex_compile(pattern.data(), pattern.size())) {}

    bool good() const noexcept { return index_ >= 0; }
    int index() const noexcept { return static_cast<int>(index_); }

    // 1 if it matches anywhere in subject, 0 if not; negative for a bad
    // expression.
    int match(std::string_view subject) const {
        return static_cast<int>(rvedge_regex_match(checked(), subject.data(), subject.size()));
    }

    // text with the first (or every) match replaced: \0 is the match, \1..\9
    // its groups (Varnish's regsub).
    std::string replace(std::string_view text, const std::string &replacement,
                        bool all = false) const {
        return detail::read_checked("regex_subst", [&](char *out, size_t cap) {
            return rvedge_regex_subst(checked(), all, text.data(), text.size(),
                                      replacement.data(), replacement.size(), out, cap);
        });
    }
    std::string replace(const std::string &text, const std::string &replacement,
                        bool all = false) const {
        return replace(std::string_view(text), replacement, all);
    }
    // Replaces in a header's value; returns the new value's length.
    int replace(HeaderField &field, const std::string &replacement, bool all = false) const {
        std::string value = replace(field.value(), replacement, all);
        field.set(value);
        return static_cast<int>(value.size());
    }

private:
    uint64_t checked() const {
        if (index_ < 0) {
            throw error("regex_compile", index_);
        }
        return static_cast<uint64_t>(index_);
    }

    int64_t index_;
};

inline HeaderField &HeaderField::regsub(const Regex &regex, const std::string &replacement,
                                        bool all) {
    regex.replace(*this, replacement, all);
    return *this;
}

inline HeaderField &HeaderField::regsub(const std::string &pattern,
                                        const std::string &replacement, bool all) {
    return regsub(Regex(pattern), replacement, all);
}

namespace detail {
inline void append_value(std::string &out, const HeaderField &field) {
    out.append(field.to_string());
}
} // namespace detail

inline HeaderField HeaderSet::find(const std::string &name) const {
    bool found = get(name).has_value();
    return HeaderField(id_, name, found);
}

inline HeaderField HeaderSet::operator[](const std::string &name) const { return find(name); }

inline HeaderField HeaderSet::append(std::string_view line) const {
    return append_line(line);
}

inline HeaderField HeaderSet::append_line(std::string_view line) const {
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
        throw error("header_append", -RVEDGE_EINVAL);
    }
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
        value.remove_prefix(1);
    }
    std::string_view name = line.substr(0, colon);
    append(name, value);
    return HeaderField(id_, name, true);
}

template <class... Args>
HeaderField HeaderSet::appendf(std::string_view format, Args &&...args) const {
    return append_line(detail::format(format, std::forward<Args>(args)...));
}

inline HeaderField HeaderSet::operator+=(const std::string &line) const { return append(line); }

inline HeaderField HeaderSet::operator+=(const HeaderField &field) const {
    return append(field);
}

// Appends the other field's line; an invalid field appends nothing.
inline HeaderField HeaderSet::append(const HeaderField &field) const {
    if (!field) {
        return HeaderField(id_, field.field_name(), false);
    }
    return append_line(field.to_string());
}

inline void HeaderSet::foreach(const std::function<void(HeaderField &)> &callback) const {
    for (const std::string &line : headers()) {
        size_t colon = line.find(':');
        HeaderField field(id_, line.substr(0, colon), true);
        callback(field);
    }
}

inline size_t HeaderSet::unset(const Regex &regex) const {
    size_t removed = 0;
    for (const std::string &line : headers()) {
        std::string name = line.substr(0, line.find(':'));
        if (regex.match(name) > 0) {
            removed += unset(name);
        }
    }
    return removed;
}

inline void HeaderSet::rollback() const { throw error("rollback", -RVEDGE_ENOSYS); }

inline int HeaderSet::status() const {
    return static_cast<int>(detail::check("status_get", rvedge_status_get(id_)));
}

inline int HeaderSet::set_status(int status) const {
    detail::check("status_set", rvedge_status_set(id_, static_cast<uint64_t>(status)));
    return status;
}

inline const char *HeaderSet::name() const {
    switch (id_) {
    case RVEDGE_REQ: return "req";
    case RVEDGE_RESP: return "resp";
    case RVEDGE_BEREQ: return "bereq";
    case RVEDGE_BERESP: return "beresp";
    default: return "unknown";
    }
}

inline std::string Response::reason() const {
    switch (status()) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 413: return "Payload Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

// TTL of a cacheable response when the tenant sets none (docs/abi.md).
constexpr float DEFAULT_TTL_SECONDS = 120.0f;

inline bool Response::cacheable() {
    int64_t result = rvedge_cache_get(0);
    return result == -RVEDGE_ENOENT ? true : detail::check("cache_get", result) != 0;
}

inline float Response::ttl() {
    int64_t result = rvedge_cache_get(1);
    return result == -RVEDGE_ENOENT ? DEFAULT_TTL_SECONDS
                                    : static_cast<float>(detail::check("cache_get", result));
}

inline void Response::set_cacheable(bool cacheable) {
    uint64_t ttl_seconds = static_cast<uint64_t>(ttl());
    detail::check("cache_set", rvedge_cache_set(cacheable, ttl_seconds));
}

inline void Response::set_ttl(float seconds) {
    bool keep = cacheable();
    uint64_t ttl_seconds = seconds > 0 ? static_cast<uint64_t>(seconds) : 0;
    detail::check("cache_set", rvedge_cache_set(keep, ttl_seconds));
}

// Not cacheable; Varnish's hit-for-miss lasts `seconds` in libvmod-riscv,
// here the response is simply not cached.
inline void make_uncacheable_for(float seconds) {
    detail::check("cache_set", rvedge_cache_set(0, seconds > 0 ? static_cast<uint64_t>(seconds) : 0));
}

// Time literals: 10.0_s, 5.0_m, 1.0_h are seconds (usable everywhere: the
// header brings them into the global namespace, as libvmod-riscv's users
// expect them).
inline namespace literals {
inline long double operator""_s(long double seconds) { return seconds; }
inline long double operator""_m(long double minutes) { return minutes * 60.0L; }
inline long double operator""_h(long double hours) { return hours * 3600.0L; }
} // namespace literals

// Asks the VCL to act on `name` ("synth", "pass", "hash", ...) with
// `status` (riscv.want_result() / want_status()), and ends the hook here.
inline void decision(std::string_view name, int status = 403) {
    detail::check("decision", rvedge_decision(name.data(), name.size(),
                                              static_cast<uint64_t>(status), 0));
}

// Like decision, but pauses the hook: riscv.resume() in the VCL runs it on
// from here (with that subroutine's messages).
inline void pause_for(std::string_view name, int status = 403) {
    detail::check("decision", rvedge_decision(name.data(), name.size(),
                                              static_cast<uint64_t>(status), 1));
}

// Answers with the status alone (the VCL's synthetic answer).
inline void synth(uint16_t status) { decision("synth", status); }

inline void synth(uint16_t status, const char *content_type, size_t content_type_length,
                  const char *data, size_t data_length) {
    synth(status, std::string_view(content_type, content_type_length),
          std::string_view(data, data_length));
}

// With a callback that may change resp before the answer is sent.
inline void synth(uint16_t status, std::string_view content_type, std::string_view body,
                  const std::function<void(Response)> &content_function) {
    content_function(Response(RVEDGE_RESP));
    synth(status, content_type, body);
}

inline void hash_data(std::string_view data) { hash_add(data); }
inline void hash_data(const HeaderField &field) { hash_add(field.to_string()); }

// Bans this tenant's cached objects matching a Varnish ban expression.
template <class... Args>
void ban(std::string_view format, Args &&...args) {
    std::string expression = detail::format(format, std::forward<Args>(args)...);
    detail::check("ban", rvedge_ban(expression.data(), expression.size()));
}

// Formatted output to the tenant's log ("{}" placeholders).
template <class... Args>
void print(std::string_view format, Args &&...args) {
    std::string text = detail::format(format, std::forward<Args>(args)...);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
}

template <class First, class... Rest>
void log(std::string_view format, First &&first, Rest &&...rest) {
    log(std::string_view(
        detail::format(format, std::forward<First>(first), std::forward<Rest>(rest)...)));
}

inline void expect_failed(const char *expression, const char *file, int line,
                          const char *function) {
    std::string text = detail::format("EXPECT failed: {} in {}:{}, function {}", expression,
                                      file, line, function);
    log(std::string_view(text));
    std::abort();
}

// Stops the request (crashed) with a log line when expr is false.
#define EXPECT(expr)                                                                   \
    do {                                                                               \
        if (!(expr)) {                                                                 \
            ::api::expect_failed(#expr, __FILE__, __LINE__, __func__);                 \
        }                                                                              \
    } while (0)

// libvmod-riscv's callback numbers (sys_register_callback).
enum Callback {
    CALLBACK_INVALID = 0,
    CALLBACK_ON_RECV,
    CALLBACK_ON_HASH,
    CALLBACK_ON_SYNTH,
    CALLBACK_ON_BACKEND_FETCH,
    CALLBACK_ON_BACKEND_RESPONSE,
    CALLBACK_ON_BACKEND_ERROR,
    CALLBACK_ON_DELIVER,
    CALLBACK_ON_HIT,
    CALLBACK_ON_MISS,
    CALLBACK_ON_LIVE_UPDATE,
    CALLBACK_ON_RESUME_UPDATE,
    CALLBACK_MAX
};

namespace detail {

// A callback registered as void(*)(): it is called as
// f(Request, Response, const char *argument), and may declare fewer
// parameters (the RISC-V calling convention ignores the rest).
inline void callback_entry(uint64_t data, uint64_t first, uint64_t second,
                           const char *argument) {
    fn_from<RequestArgumentFn>(data)(Request(first), Response(second), argument);
}

inline uint64_t hook_of_callback(int which) {
    switch (which) {
    case CALLBACK_ON_RECV: return RVEDGE_HOOK_ON_RECV;
    case CALLBACK_ON_HASH: return RVEDGE_HOOK_ON_HASH;
    case CALLBACK_ON_SYNTH: return RVEDGE_HOOK_ON_SYNTH;
    case CALLBACK_ON_BACKEND_FETCH: return RVEDGE_HOOK_ON_BACKEND_FETCH;
    case CALLBACK_ON_BACKEND_RESPONSE: return RVEDGE_HOOK_ON_BACKEND_RESPONSE;
    case CALLBACK_ON_BACKEND_ERROR: return RVEDGE_HOOK_ON_BACKEND_ERROR;
    case CALLBACK_ON_DELIVER: return RVEDGE_HOOK_ON_DELIVER;
    case CALLBACK_ON_HIT: return RVEDGE_HOOK_ON_HIT;
    case CALLBACK_ON_MISS: return RVEDGE_HOOK_ON_MISS;
    case CALLBACK_ON_LIVE_UPDATE: return RVEDGE_HOOK_ON_LIVE_UPDATE;
    case CALLBACK_ON_RESUME_UPDATE: return RVEDGE_HOOK_ON_RESUME_UPDATE;
    default: throw error("set_hook", -RVEDGE_EINVAL);
    }
}

} // namespace detail

// Registers `callback` for a hook by libvmod-riscv's number.
inline void sys_register_callback(int which, void (*callback)()) {
    detail::set_hook(static_cast<Hook>(detail::hook_of_callback(which)),
                     detail::hook_entry(detail::callback_entry),
                     detail::data_from(callback));
}

inline void set_on_deliver(void (*on_deliver)(Request, Response)) {
    set_hook(Hook::on_deliver, on_deliver);
}

inline void set_on_deliver(void (*on_deliver)(Request, Response, const char *)) {
    sys_register_callback(CALLBACK_ON_DELIVER, reinterpret_cast<void (*)()>(on_deliver));
}

// There is no storage VM in rvedge: every request runs in its own fork.
inline bool is_storage() { return false; }

// Whether this is a debug program (VCL live_debug(); forks with debug).
inline bool is_debug() { return std::getenv("RISCV_DEBUG") != nullptr; }

// In a debug program, stops for a debugger (GDB); elsewhere nothing.
inline void breakpoint() { rvedge_breakpoint(); }

// Names a function `const char *fn(const char *argument)` for VCL's call().
inline void register_function(std::string_view name, const char *(*function)(const char *)) {
    detail::check("register_function",
                  rvedge_register_function(name.data(), name.size(),
                                           reinterpret_cast<const void *>(function)));
}

} // namespace api

using namespace api::literals;

#endif // RVEDGE_API_H
