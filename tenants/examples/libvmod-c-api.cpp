// A tenant in the C style of libvmod-riscv's own tests (riscv_api.hpp):
// decisions read by the VCL, an on_synth callback that writes the synthetic
// answer, and forged responses. vmod/tests/libvmod_api.vtc checks it.
#include "riscv_api.hpp"

static void on_recv(int req) {
    char url[128];
    get_url(req, url, sizeof(url) - 1);

    if (strncmp(url, "/synth", 6) == 0) {
        decision("synth", 5, 404);
    } else if (strcmp(url, "/1") == 0) {
        forge(CACHED, [] {
            static const char mime[] = "text/plain";
            static const char text[] = "Hello World";
            sys_response(200, mime, sizeof(mime) - 1, text, sizeof(text) - 1);
        });
    } else if (strcmp(url, "/2") == 0) {
        forge(CACHED, [] {
            static const char mime[] = "text/plain";
            static const char text[] = "Not found";
            sys_response(404, mime, sizeof(mime) - 1, text, sizeof(text) - 1);
        });
    } else {
        forge(NOT_CACHED, [] {
            static const char mime[] = "text/plain";
            static const char text[] = "Server error";
            sys_response(500, mime, sizeof(mime) - 1, text, sizeof(text) - 1);
        });
    }
}

static void on_synth() {
    char url[256];
    get_url(HDR_REQ, url, sizeof(url) - 1);
    static const char mime[] = "text/plain";
    if (strcmp(url, "/synth") == 0) {
        static const char text[] = "Hello World";
        synth(200, mime, sizeof(mime) - 1, text, sizeof(text) - 1);
    }
    static const char text[] = "Not root URL";
    synth(500, mime, sizeof(mime) - 1, text, sizeof(text) - 1);
}

void start(int argc, char **argv) {
    register_callback(3, on_synth);
    wait_for_requests(on_recv);
}
