// Picks a backend per request: beta testers (cookie beta=1) go to "beta",
// /api/ paths to "api", everything else to "default". The choice is also
// passed on to the backend as X-Route.
#include <api.h>

#include <optional>
#include <string>
#include <string_view>

static std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
        text.remove_prefix(1);
    }
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
        text.remove_suffix(1);
    }
    return text;
}

// The value of cookie `name` in a Cookie header ("a=b; c=d"), if present.
static std::optional<std::string_view> cookie(std::string_view header, std::string_view name) {
    while (!header.empty()) {
        size_t semicolon = header.find(';');
        std::string_view pair = header.substr(0, semicolon);
        header = semicolon == std::string_view::npos ? std::string_view()
                                                     : header.substr(semicolon + 1);
        size_t equals = pair.find('=');
        if (equals == std::string_view::npos) {
            continue;
        }
        if (trim(pair.substr(0, equals)) == name) {
            return trim(pair.substr(equals + 1));
        }
    }
    return std::nullopt;
}

static bool starts_with(std::string_view text, std::string_view prefix) {
    return text.substr(0, prefix.size()) == prefix;
}

static void on_recv(api::Request req) {
    std::optional<std::string> cookies = req.get("Cookie");
    std::string backend = "default";
    if (cookies && cookie(*cookies, "beta") == std::string_view("1")) {
        backend = "beta";
    } else if (starts_with(req.url(), "/api/")) {
        backend = "api";
    }
    api::set_backend(backend);
    req.set("X-Route", backend);
}

int main() { api::wait_for_requests(on_recv); }
