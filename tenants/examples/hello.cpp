#include <api.h>
namespace varnish = api;
static void on_recv(varnish::Request req) {
    req.append("X-Hello: url=" + req.url());
    forge(varnish::Cached, [] (auto bereq, auto beresp) {
        nlohmann::json json;
        json["message"] = "Hello from RISC-V!";
        return varnish::response{200, "application/json", json.dump()};
    });
}
int main() { varnish::wait_for_requests(on_recv); }
