#!/usr/bin/env bash
# Starts varnishd on 127.0.0.1 with the VMOD `riscv`, the demo VCL (vmod/demo.vcl) and the
# example tenants (scripts/build-tenants.sh), prints curl lines to try (the Host header picks
# the tenant) and serves until Ctrl-C, then stops varnishd.
#
#   bash scripts/demo-varnish.sh           # interactive
#   bash scripts/demo-varnish.sh --check   # sends the printed requests, checks the answers, exits
#   bash scripts/demo-varnish.sh --bench 2 # figures (printed, never asserted), then exits:
#                                          # BENCH_ROUNDS (default 7) alternating wrk rounds of
#                                          # 2 s of tenant and plain VCL, per round and median:
#                                          # latency, varnishd CPU per request, throughput; and
#                                          # 4000 hits of each interleaved (curl): latency
#   bash scripts/demo-varnish.sh --train 500
#                                          # the check, then each request line that
#                                          # answers normally 500 times: the workload
#                                          # scripts/build-vmod.sh takes its profile from
#   bash scripts/demo-varnish.sh --requests hello 100
#                                          # that many cache hits on one connection, then exits
#                                          # (scripts/varnish-instructions.sh counts their work)
#
# DEMO_PORT (default 6081) is the listen port; the demo's origin listens on DEMO_PORT+1.
# RVEDGE_VMOD_DIR serves the libvmod_riscv.so in that directory instead of building one with
# scripts/build-vmod.sh. RVEDGE_VARNISHD_UNDER is a command varnishd runs under (valgrind).
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib/env.sh"
check=0
bench_seconds=0
train_requests=0
requests_host=""
case "${1:-}" in
    --check) check=1 ;;
    --bench) bench_seconds="${2:-5}" ;;
    --train) check=1; train_requests="${2:-500}" ;;
    --requests) requests_host="${2:?host}"; request_count="${3:?count}" ;;
    "") ;;
    *) echo "usage: $0 [--check | --bench SECONDS | --train REQUESTS | --requests HOST COUNT]" >&2; exit 2 ;;
esac

port="${DEMO_PORT:-6081}"
origin_port=$((port + 1))
secret="demo-secret"

echo "demo-varnish: building the VMOD (release) and the example tenants" >&2
vmod_dir="${RVEDGE_VMOD_DIR:-$(bash scripts/build-vmod.sh | tail -n 1)}"
TENANT_OUT="$(bash scripts/build-tenants.sh | tail -n 1)"

work="$(mktemp -d /tmp/rvedge-demo-varnish.XXXXXX)"
varnishd_pid=""
stop() {
    if [[ -n "$varnishd_pid" ]] && kill -0 "$varnishd_pid" 2>/dev/null; then
        kill "$varnishd_pid" 2>/dev/null || true
        wait "$varnishd_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap stop EXIT
trap 'exit 130' INT TERM

# The conformance table's tenant configuration names the built examples relative to itself.
cp tests/conformance/tenants.json "$TENANT_OUT/rvedge-demo-tenants.json"
sed -e "s|@ORIGIN_PORT@|$origin_port|g" \
    -e "s|@TENANTS_JSON@|$TENANT_OUT/rvedge-demo-tenants.json|g" \
    -e "s|@UPDATE_SECRET@|$secret|g" \
    vmod/demo.vcl >"$work/demo.vcl"

read -ra under <<<"${RVEDGE_VARNISHD_UNDER:-}"
"${under[@]}" varnishd -F -j none -n "$work/n" \
    -a "127.0.0.1:$port" -a "origin=127.0.0.1:$origin_port" -T 127.0.0.1:0 \
    -p vmod_path="$vmod_dir" -p vcc_err_unref=off -s malloc,64m \
    -f "$work/demo.vcl" >"$work/varnishd.log" 2>&1 &
varnishd_pid=$!
# Up to a minute: under valgrind, varnishd starts in seconds rather than milliseconds.
for _ in $(seq 1 600); do
    if curl -s -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null; then
        break
    fi
    if ! kill -0 "$varnishd_pid" 2>/dev/null; then
        cat "$work/varnishd.log" >&2
        echo "demo-varnish: varnishd did not start" >&2
        exit 1
    fi
    sleep 0.1
done

url="http://127.0.0.1:$port"
token="alice.e5f4719bbc21ecb3a09cbb39be09efae032381c07b09324315b7bf4ecb20e4bd"
# Each line: what to send (curl arguments) | what the answer must contain.
requests=(
    "-H 'Host: hello' $url/|Hello from RISC-V!"
    "-H 'Host: hello' $url/|X-Cache: hit"
    "-H 'Host: hello-rust' $url/r|hello from Rust 2"
    "-H 'Host: rewrite' '$url/old/page?q=1'|\"url\": \"/new/page?q=1\""
    "-H 'Host: router' $url/api/users|\"backend\": \"api\""
    "-H 'Host: router' -H 'Cookie: beta=1' $url/api/users|\"backend\": \"beta\""
    "-H 'Host: ab-split' -H 'Cookie: uid=u2' $url/|X-AB-Group: b"
    "-H 'Host: json-api' --data '{\"name\": \"widget\"}' $url/api/items|{\"valid\":true,\"name\":\"widget\"}"
    "-H 'Host: json-api' --data '{\"name\": ' $url/api/items|invalid JSON"
    "-H 'Host: xml' --data '<order><customer>Ada</customer><item sku=\"X-1\"/></order>' $url/orders|\"sku\":\"X-1\""
    "-H 'Host: hmac-token' -H 'Authorization: Bearer $token' $url/account|\"backend\": \"default\""
    "-H 'Host: hmac-token' $url/account|401"
    "-H 'Host: loop' $url/|x-rvedge-error: timeout"
    "-H 'Host: memory-bomb' $url/|x-rvedge-error: memory_limit"
    "-H 'Host: leak' $url/|counter=0 heap=clean"
    "-H 'Host: origin' -H 'Cookie: session=1' $url/docs|X-Origin-Checked: 1"
    "-H 'Host: origin' -H 'X-Greet: world' $url/|X-Greeting: hello, world"
)

if ((bench_seconds == 0)) && [[ -z "$requests_host" ]]; then
    echo
    echo "varnishd is serving rvedge tenants on $url (pid $varnishd_pid). Try:"
    echo
    for line in "${requests[@]}"; do
        echo "  curl -si ${line%%|*}"
    done
    echo
    echo "  # live update (swap hello's program for hello-rust's):"
    echo "  curl -si -X POST -H 'X-Tenant: hello' -H 'X-Live-Update-Secret: $secret' --data-binary @$TENANT_OUT/hello-rust $url/live-update"
    echo "  varnishlog -n $work/n    # the tenants' log lines and errors"
    echo
fi

# wrk's median (p50) and mean latency in microseconds, from its Lua `done` hook.
wrk_latency_us() { # wrk_latency_us HOST SECONDS -> "p50 mean"
    wrk -c1 -t1 -d"${2}s" -H "Host: $1" -s "$work/latency.lua" "$url/bench" |
        awk '/^latency_us/ {print $2, $3}'
}

# The median of the numbers on stdin, one per line.
median() {
    sort -g | awk '{ value[NR] = $1 } END {
        if (NR == 0) { print "nan"; exit }
        if (NR % 2) { print value[(NR + 1) / 2] } else { print (value[NR / 2] + value[NR / 2 + 1]) / 2 }
    }'
}

# The mean of the middle half of the numbers on stdin (one per line): as robust to outliers as
# the median, and finer than the microseconds it is taken from.
interquartile_mean() {
    sort -g | awk '{ value[NR] = $1 } END {
        if (NR == 0) { print "nan"; exit }
        first = int(NR / 4) + 1; last = NR - int(NR / 4)
        for (i = first; i <= last; i++) { sum += value[i] }
        print sum / (last - first + 1)
    }'
}

# Primes the cache with /bench for each host given, and checks that the next request hits.
prime_cache_hits() {
    local host
    for host in "$@"; do
        curl -s -o /dev/null -H "Host: $host" "$url/bench"
        curl -s -D - -o /dev/null -H "Host: $host" "$url/bench" | tr -d '\r' | grep -q "X-Cache: hit" ||
            { echo "demo-varnish: $host is not a cache hit" >&2; return 1; }
    done
}

# The two hosts' cache hits interleaved on one keep-alive connection: curl sends PAIRS of
# requests, one to each host (which goes first alternates), and times every one. Neighbours in
# time, so the drift of a shared machine cancels in the difference of the two hosts' p50s,
# which wrk's whole rounds of one host after the other leave to the median over rounds. Each
# request also finds the other host's work between it and the last like it, as requests of
# many tenants do.
interleaved_latency() { # interleaved_latency PAIRS
    local pairs="$1" config="$work/interleaved.curl" pair first second host separator=""
    for ((pair = 0; pair < pairs; pair++)); do
        if ((pair % 2)); then first=plain second=hello; else first=hello second=plain; fi
        for host in "$first" "$second"; do
            # `next` separates the requests' options; the connection stays open across it.
            printf '%s' "$separator"
            separator=$'next\n'
            printf 'url = "%s/bench"\nheader = "Host: %s"\noutput = "/dev/null"\n' "$url" "$host"
            printf 'write-out = "%s %%{time_total} %%{num_connects} %%{http_code}\\n"\n' "$host"
        done
    done >"$config"
    curl -s -K "$config" >"$work/interleaved"
    local answered connections
    answered="$(awk '$4 == 200' "$work/interleaved" | wc -l)"
    if ((answered != 2 * pairs)); then
        echo "demo-varnish: $answered of $((2 * pairs)) interleaved requests answered 200" >&2
        return 1
    fi
    connections="$(awk '{ sum += $3 } END { print sum }' "$work/interleaved")"
    for host in hello plain; do
        awk -v host="$host" '$1 == host { print $2 * 1e6 }' "$work/interleaved" >"$work/interleaved.$host"
    done
    echo "== latency, ${pairs} cache hits of each interleaved on one connection (curl; ${connections} connection(s) made) =="
    compare_interleaved p50 median
    compare_interleaved "mean of the middle half" interquartile_mean
}

# compare_interleaved LABEL STATISTIC: STATISTIC (a function above) of each host's interleaved
# times, their difference and their ratio. The ratio too: when the shared machine slows, both
# hosts slow alike, and the ratio moves less than the difference.
compare_interleaved() {
    local tenant plain
    tenant="$("$2" <"$work/interleaved.hello")"
    plain="$("$2" <"$work/interleaved.plain")"
    awk -v label="$1" -v t="$tenant" -v p="$plain" 'BEGIN {
        printf "  %s: tenant %.2f us, plain %.2f us: the tenant adds %.2f us per request (ratio %.3f)\n",
            label, t, p, t - p, t / p
    }'
}

bench() {
    local seconds="$1" rounds="${BENCH_ROUNDS:-7}"
    cat >"$work/latency.lua" <<'LUA'
done = function(summary, latency, requests)
    io.write(string.format("latency_us %.3f %.3f\n", latency:percentile(50), latency.mean))
end
LUA
    prime_cache_hits hello plain
    # The machine is shared and its load drifts: alternate short rounds of the two (which one
    # goes first alternates too), so each round's difference compares neighbours in time, and
    # the median over rounds ignores the rounds a neighbour's burst spoiled. Each round's p50
    # is robust to the preemption stalls that inflate a mean on a loaded machine.
    echo "== latency, wrk -c1 -t1, ${rounds} alternating rounds of ${seconds} s each, cache hits =="
    echo "  tenant = hello (fork + on_recv in vcl_recv, then the hit); plain = the same header in VCL"
    printf '  %6s | %9s %9s %8s %6s | %9s %9s %8s\n' round "tenant" "plain" "diff" ratio \
        "tenant" "plain" "diff"
    printf '  %6s | %35s | %28s\n' "" "p50 latency, us" "mean latency, us"
    local round tenant plain
    : >"$work/rounds"
    for ((round = 1; round <= rounds; round++)); do
        if ((round % 2)); then
            tenant="$(wrk_latency_us hello "$seconds")"
            plain="$(wrk_latency_us plain "$seconds")"
        else
            plain="$(wrk_latency_us plain "$seconds")"
            tenant="$(wrk_latency_us hello "$seconds")"
        fi
        # Columns: tenant p50, tenant mean, plain p50, plain mean.
        echo "$tenant $plain" >>"$work/rounds"
        echo "$round $tenant $plain" | awk '{ printf "  %6d | %9.2f %9.2f %8.2f %6.3f | %9.2f %9.2f %8.2f\n",
            $1, $2, $4, $2 - $4, $2 / $4, $3, $5, $3 - $5 }'
    done
    local column figures=()
    for column in '$1' '$3' '$1 - $3' '$1 / $3' '$2' '$4' '$2 - $4'; do
        figures+=("$(awk "{ print $column }" "$work/rounds" | median)")
    done
    printf '  %6s | %9.2f %9.2f %8.2f %6.3f | %9.2f %9.2f %8.2f\n' median "${figures[@]}"
    printf '  overhead of the tenant: %.2f us per request (median of the per-round p50 differences; target on the 2-core development machine <= 3 us)\n' \
        "${figures[2]}"
    interleaved_latency $((2000 * seconds))
    # CPU time of varnishd's worker process per request: steadier than latency on a shared
    # machine, and what the tenant adds is the difference.
    echo "== varnishd CPU per request, wrk -c16 -t1, ${rounds} alternating rounds of ${seconds} s =="
    local child ticks_per_second
    child="$(pgrep -P "$varnishd_pid" | head -n 1)"
    ticks_per_second="$(getconf CLK_TCK)"
    : >"$work/cpu"
    for ((round = 1; round <= rounds; round++)); do
        local host cpu=()
        for host in hello plain; do
            local before after requests
            before="$(awk '{ print $14 + $15 }' "/proc/$child/stat")"
            requests="$(wrk -c16 -t1 -d"${seconds}s" -H "Host: $host" "$url/bench" | awk '/ requests in / {print $1}')"
            after="$(awk '{ print $14 + $15 }' "/proc/$child/stat")"
            cpu+=("$(awk -v ticks=$((after - before)) -v hz="$ticks_per_second" -v n="$requests" \
                'BEGIN { printf "%.2f", ticks * 1e6 / hz / n }')")
        done
        echo "${cpu[0]} ${cpu[1]}" >>"$work/cpu"
        printf '  round %d: tenant %s us, plain %s us\n' "$round" "${cpu[0]}" "${cpu[1]}"
    done
    printf '  CPU the tenant adds: %.2f us per request (median of the per-round differences)\n' \
        "$(awk '{ print $1 - $2 }' "$work/cpu" | median)"
    echo "== throughput, wrk -c64 -t2 -d${seconds}s, cache hits, both cores =="
    for host in hello plain; do
        local rate
        rate="$(wrk -c64 -t2 -d"${seconds}s" -H "Host: $host" "$url/bench" | awk '/^Requests\/sec/ {print $2}')"
        printf '  %-6s %12s requests/s\n' "$host" "$rate"
    done
}

if ((bench_seconds > 0)); then
    bench "$bench_seconds"
    exit 0
fi

if [[ -n "$requests_host" ]]; then
    prime_cache_hits "$requests_host"
    # One curl, one keep-alive connection, as a client's requests arrive; every answer is read.
    urls=()
    for ((i = 0; i < request_count; i++)); do
        urls+=(-o /dev/null "$url/bench")
    done
    curl -sf -H "Host: $requests_host" "${urls[@]}"
    exit 0
fi

if ((check)); then
    failures=0
    for line in "${requests[@]}"; do
        arguments="${line%%|*}"
        expected="${line#*|}"
        answer="$(eval "curl -si --max-time 10 $arguments" | tr -d '\r')"
        if [[ "$answer" == *"$expected"* ]]; then
            echo "ok    curl $arguments"
        else
            echo "FAIL  curl $arguments: no \"$expected\" in:" >&2
            echo "$answer" | sed 's/^/      /' >&2
            failures=$((failures + 1))
        fi
    done
    if ! kill -0 "$varnishd_pid" 2>/dev/null; then
        echo "FAIL  varnishd died" >&2
        failures=$((failures + 1))
    fi
    if ((failures)); then
        echo "demo-varnish: $failures request(s) failed" >&2
        exit 1
    fi
    echo "demo-varnish: all ${#requests[@]} requests answered as expected"
    if ((train_requests > 0)); then
        # Each line that answers normally, the same number of times on one keep-alive
        # connection, so the profile weighs the tenants' common paths alike and builds from two
        # trainings run the same host instructions per request (under wrk for a second each, a
        # tenant got what its speed that second allowed, and hello's cache hit moved by up to
        # 1,300 host instructions from one profile to the next). Failures (timeouts, memory
        # limits) are rare paths, run once by the check: the looping tenant's runs to its
        # budget had outweighed all the other tenants' work together.
        declare -A trained
        for line in "${requests[@]}"; do
            arguments="${line%%|*}"
            expected="${line#*|}"
            [[ "$expected" == *x-rvedge-error* ]] && continue
            [[ -n "${trained[$arguments]:-}" ]] && continue
            trained[$arguments]=1
            # The URL is the last argument (quoted where it has a query): repeated, as written.
            repeated=""
            for ((i = 0; i < train_requests; i++)); do
                repeated+=" -o /dev/null ${arguments##* }"
            done
            eval "curl -s --max-time 120 ${arguments% *} $repeated" ||
                { echo "demo-varnish: training with curl $arguments failed" >&2; exit 1; }
            echo "train: $train_requests x curl $arguments"
        done
    fi
    exit 0
fi

echo "Ctrl-C stops varnishd."
wait "$varnishd_pid"
