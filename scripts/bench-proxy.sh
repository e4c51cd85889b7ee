#!/usr/bin/env bash
# Benchmarks the HLS proxy against nginx (direct and as a reverse proxy) and MediaFlow Proxy.
#
#   scripts/bench-proxy.sh            # everything, about 6 minutes
#   DURATION=5 SKIP_MEDIAFLOW=1 scripts/bench-proxy.sh
#   SOKOUL_BIN=/path/to/old/sokoul SYSTEMS=sokoul SKIP_MEDIAFLOW=1 scripts/bench-proxy.sh
#                                     # another build (before/after a change, in one sitting)
#   SKIP_CRITERION=1 …                # without the rewriter's criterion run at the end
#
# Everything listens on 127.0.0.1 only. One loopback nginx is the origin; each system under
# test relays the same 4 MB segment and the same playlists from it. Measured, in one run:
# segment relay throughput at 1, 8 and 64 connections, the proxy's CPU seconds per GB relayed
# (at 64 connections), a 1 MB Range request, playlist requests per second (120 and 20,000
# segments, 8 connections), and the proxy's peak RSS (VmHWM) after the segment runs.
# Sokoul runs twice: `sokoul` as configured by default (the edge: segments relayed from its
# cache, VOD playlists served as kept rewrites after the first request) and `sokoul-nocache`
# with SOKOUL_PROXY_CACHE_MEMORY_MB=0 (every request fetched and rewritten, as before issue 17).
# The goals of issue 17 are printed at the end as ratios of the same run: a cached 4 MB segment
# against nginx serving the file from disk (>= 0.9x at 64 connections), the 120-segment
# playlist against nginx as a reverse proxy (>= 0.5x the requests per second), and the
# 20,000-segment playlist's p50 (<= 10 ms).
# Needs: nginx, wrk, python3 (+ venv/pip for MediaFlow), cargo. Missing nginx/wrk are
# installed with apt-get; MediaFlow goes into a venv under $BENCH_DIR.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BENCH_DIR="${BENCH_DIR:-/tmp/sokoul-bench}"
DURATION="${DURATION:-8}"
THREADS="${THREADS:-2}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
ORIGIN_PORT=18081 NGINX_PROXY_PORT=18082 MEDIAFLOW_PORT=18083 SOKOUL_PORT=18084 NOCACHE_PORT=18085
SECRET="bench secret, loopback only"
MEDIAFLOW_PW="benchpw"
RESULTS="$BENCH_DIR/results.tsv"

log() { printf '\n== %s\n' "$*" >&2; }
need() { command -v "$1" >/dev/null 2>&1; }

if ! need nginx || ! need wrk; then
    log "installing nginx-light and wrk"
    sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq && $sudo_cmd apt-get install -y -qq nginx-light wrk
fi

# A leftover server on a bench port would be measured instead of the one started here.
for p in $ORIGIN_PORT $NGINX_PROXY_PORT $MEDIAFLOW_PORT $SOKOUL_PORT $NOCACHE_PORT; do
    if (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "port $p is in use; stop what listens there" >&2; exit 1; fi
done
rm -rf "$BENCH_DIR/www" "$BENCH_DIR/nginx-"* "$BENCH_DIR/sokoul-data" "$BENCH_DIR/nocache-data"
mkdir -p "$BENCH_DIR/www" "$BENCH_DIR/nginx-origin" "$BENCH_DIR/nginx-proxy" "$BENCH_DIR/sokoul-data" "$BENCH_DIR/nocache-data"
: > "$RESULTS"
PIDS=()
cleanup() {
    # Children first (uvicorn's workers), then the processes themselves.
    for p in "${PIDS[@]}"; do pkill -P "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
    [ -f "$BENCH_DIR/nginx-origin/nginx.pid" ] && kill "$(cat "$BENCH_DIR/nginx-origin/nginx.pid")" 2>/dev/null || true
    [ -f "$BENCH_DIR/nginx-proxy/nginx.pid" ] && kill "$(cat "$BENCH_DIR/nginx-proxy/nginx.pid")" 2>/dev/null || true
}
trap cleanup EXIT

log "content: a 4 MB segment and two playlists"
head -c 4194304 /dev/urandom > "$BENCH_DIR/www/seg.ts"
python3 - "$BENCH_DIR/www" <<'EOF'
import sys
for n in (120, 20000):
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:6", "#EXT-X-MEDIA-SEQUENCE:0"]
    for i in range(n):
        lines += ["#EXTINF:6.006,", f"segment_{i:05d}.ts"]
    lines.append("#EXT-X-ENDLIST")
    open(f"{sys.argv[1]}/p{n}.m3u8", "w").write("\n".join(lines) + "\n")
EOF

# shellcheck source=lib/nginx-bench.sh
. "$ROOT/scripts/lib/nginx-bench.sh"
start_nginx_pair "$BENCH_DIR/nginx-origin" "$BENCH_DIR/nginx-proxy" "$BENCH_DIR/www" "$ORIGIN_PORT" "$NGINX_PROXY_PORT"

log "building sokoul (release)"
(cd "$ROOT" && cargo build --release --bin sokoul --quiet)
SOKOUL_BIN="${SOKOUL_BIN:-$CARGO_TARGET_DIR/release/sokoul}"
(cd "$ROOT" && cargo build --release --example mint_proxy_url --quiet)
# The built binary, not `cargo run`: editing the tree during a run must not rebuild mid-benchmark.
mint() { SOKOUL_SECRET="$SECRET" "$CARGO_TARGET_DIR/release/examples/mint_proxy_url" "$@"; }
SOKOUL_BIND="127.0.0.1:$SOKOUL_PORT" SOKOUL_DATA_DIR="$BENCH_DIR/sokoul-data" SOKOUL_SECRET="$SECRET" \
    SOKOUL_PROXY_ALLOW="127.0.0.1" SOKOUL_LIBRARY="$BENCH_DIR/no-media" SOKOUL_LOG=warn \
    "$SOKOUL_BIN" serve >"$BENCH_DIR/sokoul.log" 2>&1 &
SOKOUL_PID=$!; PIDS+=("$SOKOUL_PID")
SOKOUL_BIND="127.0.0.1:$NOCACHE_PORT" SOKOUL_DATA_DIR="$BENCH_DIR/nocache-data" SOKOUL_SECRET="$SECRET" \
    SOKOUL_PROXY_ALLOW="127.0.0.1" SOKOUL_LIBRARY="$BENCH_DIR/no-media" SOKOUL_LOG=warn \
    SOKOUL_PROXY_CACHE_MEMORY_MB=0 "$SOKOUL_BIN" serve >"$BENCH_DIR/sokoul-nocache.log" 2>&1 &
NOCACHE_PID=$!; PIDS+=("$NOCACHE_PID")

MEDIAFLOW_PID=""
if [ -z "${SKIP_MEDIAFLOW:-}" ]; then
    log "MediaFlow Proxy (PyPI mediaflow-proxy) in $BENCH_DIR/venv"
    if [ ! -x "$BENCH_DIR/venv/bin/mediaflow-proxy" ]; then
        python3 -m venv "$BENCH_DIR/venv"
        timeout 900 "$BENCH_DIR/venv/bin/pip" install -q mediaflow-proxy || echo "mediaflow install failed" >&2
    fi
    if [ -x "$BENCH_DIR/venv/bin/uvicorn" ]; then
        (cd "$BENCH_DIR" && API_PASSWORD="$MEDIAFLOW_PW" LOG_LEVEL=WARNING \
            exec "$BENCH_DIR/venv/bin/uvicorn" mediaflow_proxy.main:app --host 127.0.0.1 --port "$MEDIAFLOW_PORT" \
            --workers 2 --log-level warning >"$BENCH_DIR/mediaflow.log" 2>&1) &
        MEDIAFLOW_PID=$!; PIDS+=("$MEDIAFLOW_PID")
    fi
fi

wait_port() { for _ in $(seq 1 150); do (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.2; done; return 1; }
for p in $ORIGIN_PORT $NGINX_PROXY_PORT $SOKOUL_PORT $NOCACHE_PORT; do wait_port "$p" || { echo "port $p did not open" >&2; exit 1; }; done
[ -n "$MEDIAFLOW_PID" ] && { wait_port "$MEDIAFLOW_PORT" || { echo "MediaFlow did not start" >&2; MEDIAFLOW_PID=""; }; }

O="http://127.0.0.1:$ORIGIN_PORT"
REF="Referer: https://embed.example/"
enc() { python3 -c 'import sys,urllib.parse;print(urllib.parse.quote(sys.argv[1],safe=""))' "$1"; }
declare -A SEG PL120 PL20K PIDOF
SEG[nginx]="$O/seg.ts"; PL120[nginx]="$O/p120.m3u8"; PL20K[nginx]="$O/p20000.m3u8"
SEG[nginx-proxy]="http://127.0.0.1:$NGINX_PROXY_PORT/seg.ts"
PL120[nginx-proxy]="http://127.0.0.1:$NGINX_PROXY_PORT/p120.m3u8"; PL20K[nginx-proxy]="http://127.0.0.1:$NGINX_PROXY_PORT/p20000.m3u8"
S="http://127.0.0.1:$SOKOUL_PORT"
SEG[sokoul]="$S$(mint "$O/seg.ts" "$REF")"
PL120[sokoul]="$S$(mint "$O/p120.m3u8" "$REF")"; PL20K[sokoul]="$S$(mint "$O/p20000.m3u8" "$REF")"
N="http://127.0.0.1:$NOCACHE_PORT"
SEG[sokoul-nocache]="$N$(mint "$O/seg.ts" "$REF")"
PL120[sokoul-nocache]="$N$(mint "$O/p120.m3u8" "$REF")"; PL20K[sokoul-nocache]="$N$(mint "$O/p20000.m3u8" "$REF")"
M="http://127.0.0.1:$MEDIAFLOW_PORT"
SEG[mediaflow]="$M/proxy/stream?d=$(enc "$O/seg.ts")&h_referer=$(enc https://embed.example/)&api_password=$MEDIAFLOW_PW"
PL120[mediaflow]="$M/proxy/hls/manifest.m3u8?d=$(enc "$O/p120.m3u8")&h_referer=$(enc https://embed.example/)&api_password=$MEDIAFLOW_PW"
PL20K[mediaflow]="$M/proxy/hls/manifest.m3u8?d=$(enc "$O/p20000.m3u8")&h_referer=$(enc https://embed.example/)&api_password=$MEDIAFLOW_PW"
PIDOF[nginx]="$(cat "$BENCH_DIR/nginx-origin/nginx.pid")"
PIDOF[nginx-proxy]="$(cat "$BENCH_DIR/nginx-proxy/nginx.pid")"
PIDOF[sokoul]="$SOKOUL_PID"
PIDOF[sokoul-nocache]="$NOCACHE_PID"
PIDOF[mediaflow]="$MEDIAFLOW_PID"

# CPU seconds (user+system) of a process and all its descendants.
cpu_of() {
    python3 - "$1" <<'EOF'
import os, sys
hz = os.sysconf("SC_CLK_TCK")
def kids(p):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if int(open(f"/proc/{d}/stat").read().rsplit(")", 1)[1].split()[1]) == p: out.append(int(d))
            except (OSError, IndexError, ValueError): pass
    return out
todo, total = [int(sys.argv[1])], 0
while todo:
    p = todo.pop()
    try: f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
    except OSError: continue
    total += int(f[11]) + int(f[12])
    todo += kids(p)
print(total / hz)
EOF
}
# Peak RSS (VmHWM, KiB) summed over a process tree.
hwm_of() {
    python3 - "$1" <<'EOF'
import os, sys
def kids(p):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if int(open(f"/proc/{d}/stat").read().rsplit(")", 1)[1].split()[1]) == p: out.append(int(d))
            except (OSError, IndexError, ValueError): pass
    return out
todo, total = [int(sys.argv[1])], 0
while todo:
    p = todo.pop()
    try:
        for l in open(f"/proc/{p}/status"):
            if l.startswith("VmHWM:"): total += int(l.split()[1])
    except OSError: continue
    todo += kids(p)
print(total)
EOF
}

# wrk → "req_per_s bytes_per_s total_bytes p50_ms non2xx"
run_wrk() { # $1 conns, $2 url, [$3 header]
    local t=$THREADS; [ "$1" -lt "$t" ] && t=$1
    local args=(-t"$t" -c"$1" -d"${DURATION}s" --latency --timeout 30s)
    [ -n "${3:-}" ] && args+=(-H "$3")
    wrk "${args[@]}" "$2" | python3 -c '
import re, sys
out = sys.stdin.read()
units = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
def size(s):
    m = re.match(r"([\d.]+)([KMGT]?B)", s); return float(m.group(1)) * units[m.group(2)]
def ms(s):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", s)
    return float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[m.group(2)] if m else -1
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
tr = size(re.search(r"Transfer/sec:\s+(\S+)", out).group(1))
total = size(re.search(r"requests in [\d.]+\w+, (\S+) read", out).group(1))
# Anchored: a "+/- Stdev" column such as "93.50%" also ends in "50%".
p50 = ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
errs = re.search(r"Socket errors: (.*)", out)
print(f"{rps:.1f} {tr:.0f} {total:.0f} {p50:.3f} {bad.group(1) if bad else 0}")
if bad or errs: print(out, file=sys.stderr)
'
}

record() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" | tee -a "$RESULTS"; }

for sys in ${SYSTEMS:-nginx nginx-proxy mediaflow sokoul sokoul-nocache}; do
    pid="${PIDOF[$sys]}"
    [ -z "$pid" ] && { log "$sys: not running, skipped"; continue; }
    log "$sys"
    # Sanity: the bodies are the origin's.
    got=$(curl -s -H "$REF" "${SEG[$sys]}" | sha256sum | cut -c1-16); want=$(sha256sum "$BENCH_DIR/www/seg.ts" | cut -c1-16)
    [ "$got" = "$want" ] || echo "WARNING: $sys segment body differs" >&2
    for c in 1 8 64; do
        cpu0=$(cpu_of "$pid")
        read -r rps bps total p50 bad < <(run_wrk "$c" "${SEG[$sys]}" "$REF")
        cpu1=$(cpu_of "$pid")
        record "$sys" "segment_c$c" "MBps=$(python3 -c "print(round($bps/1e6,1))") rps=$rps non2xx=$bad"
        if [ "$c" = 64 ]; then
            record "$sys" "cpu_s_per_GB" "$(python3 -c "print(round(($cpu1-$cpu0)/($total/1e9),3))")"
            record "$sys" "peak_rss_MiB" "$(python3 -c "print(round($(hwm_of "$pid")/1024,1))")"
        fi
    done
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "$REF" -H 'Range: bytes=1000000-1999999' "${SEG[$sys]}")
    read -r rps bps total p50 bad < <(run_wrk 8 "${SEG[$sys]}" 'Range: bytes=1000000-1999999')
    record "$sys" "range_1MB_c8" "status=$code MBps=$(python3 -c "print(round($bps/1e6,1))") rps=$rps non2xx=$bad"
    for pl in 120 20K; do
        if [ "$pl" = 120 ]; then url="${PL120[$sys]}"; else url="${PL20K[$sys]}"; fi
        read -r rps bps total p50 bad < <(run_wrk 8 "$url" "$REF")
        read -r rps1 bps1 total1 p501 bad1 < <(run_wrk 1 "$url" "$REF")
        record "$sys" "playlist_${pl}" "rps_c8=$rps p50_ms_c1=$p501 non2xx=$((bad + bad1))"
    done
done

# Issue 17's goals, as ratios within this run (each needs both systems in SYSTEMS).
goals() {
    python3 - "$RESULTS" <<'PY'
import re, sys
r = {}
for line in open(sys.argv[1]):
    system, what, value = line.rstrip("\n").split("\t")
    r[(system, what)] = dict(kv.split("=") for kv in value.split() if "=" in kv) or {"v": value}
def get(system, what, key):
    try: return float(r[(system, what)][key])
    except (KeyError, ValueError): return None
def ratio(a, b):
    return f"{a / b:.2f}x" if a is not None and b else "n/a"
seg = lambda s: get(s, "segment_c64", "MBps")
pl = lambda s: get(s, "playlist_120", "rps_c8")
print(f"cached 4 MB segment, 64 connections: sokoul / nginx from disk = {ratio(seg('sokoul'), seg('nginx'))} (goal >= 0.9x)")
print(f"120-segment playlist, 8 connections: sokoul / nginx reverse proxy = {ratio(pl('sokoul'), pl('nginx-proxy'))} (goal >= 0.5x); "
      f"without the edge {ratio(pl('sokoul-nocache'), pl('nginx-proxy'))}")
for s in ("sokoul", "sokoul-nocache"):
    print(f"20,000-segment playlist p50, 1 connection, {s}: {get(s, 'playlist_20K', 'p50_ms_c1')} ms (goal <= 10 ms)")
PY
}
log "issue 17 goals"
goals | tee -a "$BENCH_DIR/goals.txt"

[ -n "${SKIP_CRITERION:-}" ] && exit 0
log "rewriter alone (criterion, median)"
(cd "$ROOT" && cargo bench --quiet --bench playlist_rewrite -- --noplot 2>/dev/null | grep -E "^rewrite|time:" ) | tee -a "$BENCH_DIR/criterion.txt" || true

log "results ($RESULTS)"
column -t -s $'\t' "$RESULTS"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -sr); $(date -u +%FT%TZ)"
