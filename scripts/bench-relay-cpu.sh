#!/usr/bin/env bash
# CPU seconds per GB relayed at 64 connections: Sokoul against the nginx reverse proxy, in
# interleaved pairs.
#
#   scripts/bench-relay-cpu.sh          # 5 pairs of 6 s each, about 2 minutes with the build
#   PAIRS=9 DURATION=8 scripts/bench-relay-cpu.sh
#
# scripts/bench-proxy.sh measures each system once, minutes apart; on a 2-core VM that single
# figure moves by ±10 % from run to run, as much as the margin of the target (≤ 1.2 ×).
# Alternating the two systems, a pair at a time, lets both see the same machine, and the
# median ratio of the pairs is the figure to report. Same setup as bench-proxy.sh: a loopback
# nginx origin serving a 4 MB segment, nginx as reverse proxy (keep-alive, no spooling),
# Sokoul with a signed URL carrying a Referer; wrk with 2 threads.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BENCH_DIR="${BENCH_DIR:-/tmp/sokoul-bench-cpu}"
DURATION="${DURATION:-6}"
PAIRS="${PAIRS:-5}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
ORIGIN_PORT=18091 NGINX_PROXY_PORT=18092 SOKOUL_PORT=18094
SECRET="bench secret, loopback only"

log() { printf '\n== %s\n' "$*" >&2; }
for tool in nginx wrk python3; do
    command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install nginx-light wrk python3)" >&2; exit 1; }
done
for p in $ORIGIN_PORT $NGINX_PROXY_PORT $SOKOUL_PORT; do
    if (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "port $p is in use; stop what listens there" >&2; exit 1; fi
done

rm -rf "$BENCH_DIR" && mkdir -p "$BENCH_DIR/www" "$BENCH_DIR/origin" "$BENCH_DIR/proxy" "$BENCH_DIR/data"
SOKOUL_PID=""
cleanup() {
    [ -n "$SOKOUL_PID" ] && kill "$SOKOUL_PID" 2>/dev/null || true
    for d in origin proxy; do
        [ -f "$BENCH_DIR/$d/nginx.pid" ] && kill "$(cat "$BENCH_DIR/$d/nginx.pid")" 2>/dev/null || true
    done
}
trap cleanup EXIT

head -c 4194304 /dev/urandom > "$BENCH_DIR/www/seg.ts"
# shellcheck source=lib/nginx-bench.sh
. "$ROOT/scripts/lib/nginx-bench.sh"
start_nginx_pair "$BENCH_DIR/origin" "$BENCH_DIR/proxy" "$BENCH_DIR/www" "$ORIGIN_PORT" "$NGINX_PROXY_PORT"

log "building sokoul (release)"
(cd "$ROOT" && cargo build --release --quiet --bin sokoul --example mint_proxy_url)
SOKOUL_BIND="127.0.0.1:$SOKOUL_PORT" SOKOUL_DATA_DIR="$BENCH_DIR/data" SOKOUL_SECRET="$SECRET" \
    SOKOUL_PROXY_ALLOW="127.0.0.1" SOKOUL_LIBRARY="$BENCH_DIR/no-media" SOKOUL_LOG=warn \
    "$CARGO_TARGET_DIR/release/sokoul" serve >"$BENCH_DIR/sokoul.log" 2>&1 &
SOKOUL_PID=$!
for p in $ORIGIN_PORT $NGINX_PROXY_PORT $SOKOUL_PORT; do
    for _ in $(seq 1 150); do (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null && break; sleep 0.2; done
done

SOKOUL_URL="http://127.0.0.1:$SOKOUL_PORT$(SOKOUL_SECRET="$SECRET" \
    "$CARGO_TARGET_DIR/release/examples/mint_proxy_url" "http://127.0.0.1:$ORIGIN_PORT/seg.ts" 'Referer: https://embed.example/')"
NGINX_URL="http://127.0.0.1:$NGINX_PROXY_PORT/seg.ts"
NGINX_MASTER="$(cat "$BENCH_DIR/proxy/nginx.pid")"
NGINX_PIDS="$NGINX_MASTER $(pgrep -P "$NGINX_MASTER" | tr '\n' ' ')"

# Clock ticks of user+system time over a list of pids.
ticks() { local t=0 p; for p in $1; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$t"; }
# CPU seconds per GB relayed by the processes $1 while wrk fetches $2 at 64 connections.
cpu_per_gb() {
    local before after bytes
    before=$(ticks "$1")
    bytes=$(wrk -t2 -c64 -d"${DURATION}s" "$2" | python3 -c '
import re, sys
out = sys.stdin.read()
m = re.search(r"requests in [\d.]+\w+, ([\d.]+)([KMGT]?B) read", out)
print(int(float(m.group(1)) * {"B": 1, "KB": 2**10, "MB": 2**20, "GB": 2**30, "TB": 2**40}[m.group(2)]))
if "Non-2xx" in out or "Socket errors" in out: print(out, file=sys.stderr)')
    after=$(ticks "$1")
    python3 -c 'import os, sys; t, b = map(int, sys.argv[1:]); hz = os.sysconf("SC_CLK_TCK"); print(f"{t / hz / (b / 1e9):.3f}")' "$((after - before))" "$bytes"
}

log "warm-up"
wrk -t2 -c64 -d2s "$NGINX_URL" >/dev/null
wrk -t2 -c64 -d2s "$SOKOUL_URL" >/dev/null

log "$PAIRS pairs of ${DURATION} s at 64 connections (CPU seconds per GB)"
ratios=()
for i in $(seq 1 "$PAIRS"); do
    n=$(cpu_per_gb "$NGINX_PIDS" "$NGINX_URL")
    s=$(cpu_per_gb "$SOKOUL_PID" "$SOKOUL_URL")
    r=$(python3 -c "print(f'{$s / $n:.2f}')")
    ratios+=("$r")
    printf 'pair %d\tnginx-proxy %s\tsokoul %s\tratio %s\n' "$i" "$n" "$s" "$r"
done
python3 - "${ratios[@]}" <<'EOF'
import statistics, sys
r = sorted(float(x) for x in sys.argv[1:])
print(f"ratio sokoul / nginx-proxy: median {statistics.median(r):.2f}, min {r[0]:.2f}, max {r[-1]:.2f} (target <= 1.20)")
EOF
echo "sokoul peak RSS: $(awk '/VmHWM/{printf "%.1f MiB", $2 / 1024}' "/proc/$SOKOUL_PID/status")"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -r); $(date -u +%FT%TZ)"
