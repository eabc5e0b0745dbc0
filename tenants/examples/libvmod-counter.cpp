// Live update with state hand-over, registered as libvmod-riscv's users do
// (sys_register_callback): the running program's on_live_update saves its
// generation, the new program's on_resume_update restores it and counts one
// more. vmod/tests/libvmod_live_update.vtc updates it by request and by file.
#include <api.h>

#include <cstring>

namespace varnish = api;

static uint64_t generation = 1;
static std::string greeting = "hello";

static void on_recv(varnish::Request req) {
    varnish::forge(varnish::Uncached, [](varnish::Request, varnish::Response) {
        return varnish::response{200, "text/plain",
                                 greeting + " from generation " + std::to_string(generation) +
                                     "\n"};
    });
}

static void on_live_update() {
    varnish::state_save(std::string_view(reinterpret_cast<const char *>(&generation),
                                         sizeof generation));
}

static void on_resume_update(size_t length) {
    std::string saved = varnish::state_restore();
    if (length == sizeof generation && saved.size() == sizeof generation) {
        std::memcpy(&generation, saved.data(), sizeof generation);
        generation += 1;
    }
}

int main(int argc, char **argv) {
    // An argument given by live_update_file() (or add_main_argument()).
    if (argc > 1) {
        greeting = argv[argc - 1];
    }
    varnish::set_hook(varnish::Hook::on_live_update, on_live_update);
    varnish::set_hook(varnish::Hook::on_resume_update, on_resume_update);
    varnish::wait_for_requests(on_recv);
}
