vcl 4.1;
# The demo VCL of scripts/demo-varnish.sh (which fills in the @...@ values): every example
# tenant, chosen by the Host header, with every hook run and the tenant's decision acted on.
# Requests that reach an origin are answered by this same varnishd on its second listen
# address ("origin"), with a JSON echo of what arrived.

import riscv;

backend default { .host = "127.0.0.1"; .port = "@ORIGIN_PORT@"; }
backend api { .host = "127.0.0.1"; .port = "@ORIGIN_PORT@"; }
backend beta { .host = "127.0.0.1"; .port = "@ORIGIN_PORT@"; }
backend ab_a { .host = "127.0.0.1"; .port = "@ORIGIN_PORT@"; }
backend ab_b { .host = "127.0.0.1"; .port = "@ORIGIN_PORT@"; }

sub vcl_init {
    riscv.load_tenants("@TENANTS_JSON@");
    riscv.add_backend("default");
    riscv.add_backend("api");
    riscv.add_backend("beta");
    riscv.add_backend("ab_a", "ab-a");
    riscv.add_backend("ab_b", "ab-b");
    riscv.set_update_secret("@UPDATE_SECRET@");
}

sub vcl_recv {
    if (local.socket == "origin") {
        return (synth(200));
    }
    if (req.method == "POST" && req.url == "/live-update") {
        set req.backend_hint = riscv.live_update(req.http.X-Tenant);
        return (pass);
    }
    if (req.http.Host == "plain") {
        # The hello tenant's work in plain VCL, for the benchmark.
        set req.http.X-Hello = "url=" + req.url;
        return (hash);
    }
    if (riscv.fork(req.http.Host)) {
        riscv.run();
        if (riscv.want_result() == "synth") {
            return (synth(riscv.want_status()));
        }
        if (riscv.want_result() == "backend" && riscv.result_value(0) == 1) {
            return (hash);
        }
        # Only responses the tenant forged as Cached are cached: what reaches the origin
        # depends on the tenant's choices (backend, cookies), which the URL does not show.
        return (pass);
    }
    return (synth(404));
}

sub vcl_hash { riscv.run(); }

sub vcl_deliver {
    riscv.run();
    if (req.http.X-Greet && riscv.active()) {
        # A tenant function called by name (the origin tenant has greet()).
        set resp.http.X-Greeting = riscv.call("greet", req.http.X-Greet);
    }
    if (obj.hits > 0) {
        set resp.http.X-Cache = "hit";
    } else {
        set resp.http.X-Cache = "miss";
    }
}

sub vcl_synth {
    if (local.socket == "origin") {
        set resp.http.Content-Type = "application/json";
        set resp.body = {"{"backend": ""} + req.http.X-Origin-Backend + {"", "method": ""} +
            req.method + {"", "url": ""} + req.url + {"""} + "}";
        return (deliver);
    }
    if (riscv.active()) {
        riscv.run();
        return (deliver);
    }
    if (resp.status == 404) {
        set resp.body = "no tenant for Host: " + req.http.Host + {"
"};
        return (deliver);
    }
}

sub vcl_backend_fetch {
    riscv.run();
    set bereq.http.X-Origin-Backend = bereq.backend;
}

sub vcl_backend_response {
    riscv.run();
    if (bereq.http.Host == "plain") {
        set beresp.ttl = 120s;
    }
}

sub vcl_backend_error {
    if (riscv.active()) {
        riscv.run();
        return (deliver);
    }
}
