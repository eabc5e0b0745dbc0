// libvmod-riscv's hooks and helpers through its C++ API: on_hit, on_miss,
// on_synth and on_backend_error registered with sys_register_callback, a hook
// paused with pause_for and resumed by the VCL, functions the VCL calls by
// name (call) and as a backend (vm_backend with an argument), Regex on
// headers, and bans. vmod/tests/libvmod_hooks.vtc checks what it does.
#include <api.h>

namespace varnish = api;

static varnish::Regex version_path("^/v(\\d+)/(.*)$");

static void on_recv(varnish::Request req, varnish::Response, const char *argument) {
    const std::string url = req.url();
    if (argument) {
        req.appendf("X-Run-Argument: {}", argument);
    }
    if (version_path.match(url) > 0) {
        // /v2/page → X-Rewritten: /page?version=2
        req.append("X-Rewritten: " + url);
        req["X-Rewritten"].regsub(version_path, "/\\2?version=\\1");
    }
    if (url == "/pause") {
        varnish::pause_for("synth", 202);
        // Resumed by riscv.resume() in vcl_synth.
        varnish::synth(202, "text/plain", "resumed after the pause\n");
    }
    if (url.rfind("/ban/", 0) == 0) {
        varnish::ban("req.url ~ ^/cached/{}", url.substr(5));
        varnish::decision("synth", 200);
    }
}

static void on_miss(varnish::Request req) { req.append("X-Miss: tenant"); }

static void on_hit(varnish::Request req) { req.append("X-Hit: tenant"); }

static void on_synth(varnish::Request req, varnish::Response resp) {
    if (req.url().rfind("/ban/", 0) == 0) {
        varnish::synth(200, "text/plain", "banned\n");
    }
    resp.append("X-Synth: tenant");
}

static void on_backend_error(varnish::Request bereq, varnish::Response) {
    varnish::synth(502, "text/plain", "the origin failed for " + bereq.url() + "\n");
}

static void on_backend_response(varnish::Request, varnish::Response beresp) {
    // A short TTL for what the origin sends, applied by Varnish.
    varnish::Response::set_ttl(30.0_s);
    beresp.append("X-Cacheable: " + std::string(varnish::Response::cacheable() ? "yes" : "no"));
}

// Called by name from VCL: riscv.call("greet", "world").
static const char *greet(const char *argument) {
    static std::string text;
    text = "hello " + std::string(argument);
    return text.c_str();
}

// A backend the VCL names: riscv.vm_backend("make_page", "42").
extern "C" void make_page(uint64_t data, uint64_t bereq, uint64_t) {
    varnish::Request request(bereq);
    varnish::respond(200, "text/plain",
                     "page " + std::to_string(data) + " for " + request.url() + "\n");
}

int main() {
    varnish::sys_register_callback(varnish::CALLBACK_ON_MISS,
                                   reinterpret_cast<void (*)()>(on_miss));
    varnish::sys_register_callback(varnish::CALLBACK_ON_HIT, reinterpret_cast<void (*)()>(on_hit));
    varnish::sys_register_callback(varnish::CALLBACK_ON_SYNTH,
                                   reinterpret_cast<void (*)()>(on_synth));
    varnish::sys_register_callback(varnish::CALLBACK_ON_BACKEND_ERROR,
                                   reinterpret_cast<void (*)()>(on_backend_error));
    varnish::sys_register_callback(varnish::CALLBACK_ON_BACKEND_RESPONSE,
                                   reinterpret_cast<void (*)()>(on_backend_response));
    varnish::register_function("greet", greet);
    varnish::wait_for_requests(on_recv);
}
