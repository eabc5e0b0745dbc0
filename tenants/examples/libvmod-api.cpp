// A tenant written against libvmod-riscv's C++ API, as its users write them:
// headers through operator[], appendf, a Regex compiled in main(), decision,
// set_on_deliver and the forge callback that receives the request body.
// vmod/tests/libvmod_api.vtc checks what it does.
#include <api.h>

namespace varnish = api;

static varnish::Regex riscv_word("(?i)riscv");

static void on_recv(varnish::Request req) {
    const std::string url = req.url();
    req.appendf("X-Hello: url={}", url);
    req.appendf("X-Match: {}", riscv_word.match(url) > 0);
    if (url == "/forbidden") {
        varnish::decision("synth", 403);
    }
    varnish::forge(varnish::Cached, [](varnish::Request bereq, varnish::Response beresp,
                                       void *body, size_t length) -> varnish::response {
        beresp.append(bereq["X-Hello"]);
        beresp.appendf("X-Body-Length: {}", length);
        std::string text(static_cast<const char *>(body), length);
        if (text.empty()) {
            text = "nothing posted";
        }
        return varnish::response{200, "text/plain",
                                 riscv_word.replace(text, "RISC-V", true) + "\n"};
    });
}

static void on_deliver(varnish::Request req, varnish::Response resp) {
    resp.append("X-Goodbye: RISCV");
    resp.append(req["X-Hello"]);
    resp += req["X-Match"];
    auto served_by = resp["X-Served-By"];
    if (!served_by) {
        resp.append("X-Served-By: rvedge");
    }
}

int main(int, char **argv) {
    varnish::print("{} main entered{}\n{}\n", varnish::is_storage() ? "Storage" : "Request",
                   varnish::is_debug() ? " (debug)" : "", argv[1] ? argv[1] : "");
    varnish::set_on_deliver(on_deliver);
    varnish::wait_for_requests(on_recv);
}
