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
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
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

// Runs an output-buffer call `call(out, cap)`. Most values are short, so a
// stack buffer is tried first; the host returns the full length, so when it
// did not fit, the call is repeated with a string of exactly that size (in a
// loop, in case the value grew in between). Returns the call's result;
// `out` is only filled when it is >= 0.
template <class Call>
int64_t read_output(std::string &out, Call &&call) {
    char stack[512];
    int64_t length = call(stack, sizeof stack);
    if (length < 0) {
        return length;
    }
    if (static_cast<uint64_t>(length) <= sizeof stack) {
        out.assign(stack, static_cast<size_t>(length));
        return length;
    }
    for (;;) {
        out.resize(static_cast<size_t>(length));
        int64_t again = call(out.data(), out.size());
        if (again < 0) {
            return again;
        }
        if (static_cast<uint64_t>(again) <= out.size()) {
            out.resize(static_cast<size_t>(again));
            return again;
        }
        length = again;
    }
}

// Like read_output, but a negative result throws.
template <class Call>
std::string read_checked(const char *call_name, Call &&call) {
    std::string out;
    check(call_name, read_output(out, call));
    return out;
}

// Like read_output, but -ENOENT and -EINVAL (absent or not parseable) become
// nullopt; anything else negative throws.
template <class Call>
std::optional<std::string> read_optional(const char *call_name, Call &&call) {
    std::string out;
    int64_t result = read_output(out, call);
    if (result == -RVEDGE_ENOENT || result == -RVEDGE_EINVAL) {
        return std::nullopt;
    }
    check(call_name, result);
    return out;
}

} // namespace detail

// The headers of one header set (req, resp, bereq or beresp). Cheap to copy:
// it only holds the set's id; the headers themselves live in the host.
class HeaderSet {
public:
    explicit HeaderSet(uint64_t id) : id_(id) {}

    uint64_t id() const { return id_; }

    // The value of the first header with this name (case-insensitive), or
    // nullopt if there is none.
    std::optional<std::string> get(std::string_view name) const {
        std::string value;
        int64_t result = detail::read_output(value, [&](char *out, size_t cap) {
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
    void append(std::string_view line) const {
        size_t colon = line.find(':');
        if (colon == std::string_view::npos) {
            throw error("header_append", -RVEDGE_EINVAL);
        }
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
            value.remove_prefix(1);
        }
        append(line.substr(0, colon), value);
    }

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

    int status() const {
        return static_cast<int>(detail::check("status_get", rvedge_status_get(id_)));
    }

    // status must be a final status, 200..=599.
    void set_status(int status) const {
        detail::check("status_set", rvedge_status_set(id_, static_cast<uint64_t>(status)));
    }
};

// What a forge callback returns: the backend response it makes up.
struct response {
    int status;
    std::string content_type;
    std::string body;
};

// Unscoped, in namespace api, so that `forge(api::Cached, ...)` finds
// api::forge by argument-dependent lookup.
enum Decision : uint64_t { Uncached = RVEDGE_UNCACHED, Cached = RVEDGE_CACHED };

enum class Hook : uint64_t {
    on_recv = RVEDGE_HOOK_ON_RECV,
    on_hash = RVEDGE_HOOK_ON_HASH,
    on_deliver = RVEDGE_HOOK_ON_DELIVER,
    on_backend_fetch = RVEDGE_HOOK_ON_BACKEND_FETCH,
    on_backend_response = RVEDGE_HOOK_ON_BACKEND_RESPONSE,
    on_live_update = RVEDGE_HOOK_ON_LIVE_UPDATE,
    on_resume_update = RVEDGE_HOOK_ON_RESUME_UPDATE,
};

// Signatures of user functions. A captureless lambda converts to these (a
// generic one, `[](auto req, auto resp)`, too), so lambdas work everywhere.
using RequestFn = void (*)(Request);
using RequestResponseFn = void (*)(Request, Response);
using ForgeFn = response (*)(Request, Response);
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

// Varnish's name for answering from on_recv.
inline void synth(int status, std::string_view content_type, std::string_view body) {
    respond(status, content_type, body);
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
    std::string message;
    if (detail::check("json_validate", detail::read_output(message, [&](char *out, size_t cap) {
            return rvedge_json_validate(doc.data(), doc.size(), out, cap);
        })) == 0) {
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
    std::string message;
    if (detail::check("xml_validate", detail::read_output(message, [&](char *out, size_t cap) {
            return rvedge_xml_validate(doc.data(), doc.size(), out, cap);
        })) == 0) {
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

} // namespace api

#endif // RVEDGE_API_H
