#!/usr/bin/env bash
# The proxy under a crowd: VIEWERS concurrent HLS viewers play one VOD through sokoul's proxy
# at playback speed for SECONDS, on loopback.
#
#   scripts/load-test.sh [VIEWERS] [SECONDS]      # defaults: 500 viewers, 120 s
#   BITRATE=3000 SEGMENT_SECONDS=6 scripts/load-test.sh 200 60
#
# An nginx origin on 127.0.0.1 serves an HLS VOD generated once with ffmpeg (640x360 test
# pattern, x264 CBR at BITRATE kbit/s video + 96 kbit/s AAC, SEGMENT_SECONDS-second segments,
# long enough for the run) and answers 403 without the Referer the proxy URL carries. The
# release `sokoul serve` relays it; one proxy URL is minted for the media playlist
# (examples/mint_proxy_url.rs), and examples/viewers.rs plays it with VIEWERS clients, each
# on its own connection, one segment per segment duration. Every failed request is counted
# (the run must have none); the summary (TTFB percentiles, bytes, sokoul's peak RSS, CPU
# seconds and CPU % of one core, load average) is printed and written to
# $BENCH_DIR/summary-<viewers>x<seconds>.txt. Exit status 1 if any request failed.
#
# The edge (issue 17; `scripts/load-test.sh 200 120` is its run): the origin logs every
# answer's body bytes, so the summary says how many bytes the upstream sent against what one
# viewer needs (every distinct file requested, once): at most 1.1x with the shared cache.
# The viewers' TTFB percentiles are mostly cache hits then (all but the first request for
# each segment). After the viewers, unless SKIP_RELAY=1, a 4 MB segment is relayed from
# sokoul's cache at 8 connections beside nginx serving the same file from disk, for
# RELAY_SECONDS (default 10), with wrk: the ratio of the two rates is printed (goal >= 0.9).
# SOKOUL_ENV="SOKOUL_PROXY_CACHE_MEMORY_MB=0" runs the same without the edge (before/after).
# Needs: nginx, ffmpeg, cargo, and wrk for the relay (missing ones are installed with apt-get).
set -euo pipefail

VIEWERS="${1:-500}"
RUN_SECONDS="${2:-120}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BENCH_DIR="${BENCH_DIR:-/tmp/sokoul-load}"
BITRATE="${BITRATE:-900}"
SEGMENT_SECONDS="${SEGMENT_SECONDS:-4}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
ORIGIN_PORT="${ORIGIN_PORT:-18091}" SOKOUL_PORT="${SOKOUL_PORT:-18094}"
SECRET="load test secret, loopback only"
REFERER="https://embed.example/"

log() { printf '\n== %s\n' "$*" >&2; }
need() { command -v "$1" >/dev/null 2>&1; }

if ! need nginx || ! need ffmpeg || { [ -z "${SKIP_RELAY:-}" ] && ! need wrk; }; then
    log "installing nginx-light, ffmpeg and wrk"
    sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq && $sudo_cmd apt-get install -y -qq nginx-light ffmpeg wrk
fi

# Each viewer holds a connection to sokoul, and sokoul one to nginx while a segment flows:
# the default 1,024 descriptors would turn into accept/connect errors, which measure the
# limit rather than the proxy. Every process started below inherits this.
want_fds=$((VIEWERS * 3 + 1024))
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$want_fds" ]; then
    echo "the open-files hard limit ($hard) is below the $want_fds this run needs" >&2; exit 1
fi
ulimit -n "$([ "$hard" = unlimited ] && echo 65536 || echo "$hard")"

for p in "$ORIGIN_PORT" "$SOKOUL_PORT"; do
    if (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "port $p is in use; stop what listens there" >&2; exit 1; fi
done

# The VOD: long enough that no viewer wraps around (viewers start within one segment).
VOD_SECONDS=$((RUN_SECONDS + 4 * SEGMENT_SECONDS))
VOD="$BENCH_DIR/www/vod"
STAMP="${VOD_SECONDS}s ${SEGMENT_SECONDS}s ${BITRATE}k"
mkdir -p "$BENCH_DIR"
if [ "$(cat "$VOD/stamp" 2>/dev/null)" != "$STAMP" ]; then
    log "generating a $VOD_SECONDS s HLS VOD ($SEGMENT_SECONDS s segments, ${BITRATE} kbit/s video)"
    rm -rf "$VOD" && mkdir -p "$VOD"
    ffmpeg -hide_banner -loglevel error \
        -f lavfi -i "testsrc2=size=640x360:rate=25" -f lavfi -i "sine=frequency=440:sample_rate=48000" \
        -t "$VOD_SECONDS" \
        -c:v libx264 -preset ultrafast -g $((25 * SEGMENT_SECONDS)) -keyint_min $((25 * SEGMENT_SECONDS)) -sc_threshold 0 \
        -b:v "${BITRATE}k" -maxrate "${BITRATE}k" -bufsize "$((2 * BITRATE))k" -x264-params nal-hrd=cbr \
        -c:a aac -b:a 96k \
        -f hls -hls_time "$SEGMENT_SECONDS" -hls_playlist_type vod \
        -hls_segment_filename "$VOD/seg_%04d.ts" "$VOD/index.m3u8"
    echo "$STAMP" > "$VOD/stamp"
fi

rm -rf "$BENCH_DIR/nginx" "$BENCH_DIR/sokoul-data"
mkdir -p "$BENCH_DIR/nginx" "$BENCH_DIR/sokoul-data"
SOKOUL_PID=""
cleanup() {
    [ -n "$SOKOUL_PID" ] && kill "$SOKOUL_PID" 2>/dev/null || true
    [ -f "$BENCH_DIR/nginx/nginx.pid" ] && kill "$(cat "$BENCH_DIR/nginx/nginx.pid")" 2>/dev/null || true
}
trap cleanup EXIT

# Like a CDN that wants the embedding page's Referer: without it, 403.
N="$BENCH_DIR/nginx"
cat > "$N/nginx.conf" <<EOF
worker_processes 2;
worker_rlimit_nofile $want_fds;
pid $N/nginx.pid;
error_log $N/error.log warn;
events { worker_connections $want_fds; }
http {
    # What the upstream sent, per request: the edge's upstream bytes, counted by the upstream.
    log_format bytes '\$uri \$body_bytes_sent \$status';
    access_log $N/access.log bytes;
    sendfile on; tcp_nopush on; tcp_nodelay on;
    keepalive_requests 1000000;
    open_file_cache max=1000 inactive=60s;
    types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; }
    client_body_temp_path $N; proxy_temp_path $N; fastcgi_temp_path $N; uwsgi_temp_path $N; scgi_temp_path $N;
    server {
        listen 127.0.0.1:$ORIGIN_PORT backlog=4096;
        root $BENCH_DIR/www;
        location / {
            if (\$http_referer != "$REFERER") { return 403; }
        }
    }
}
EOF
nginx -c "$N/nginx.conf" -p "$N" 2>/dev/null

log "building sokoul and the examples (release)"
(cd "$ROOT" && cargo build --release --quiet --bin sokoul --example mint_proxy_url --example viewers)
# A comment inside the continued line below would end the command before `env` (and start
# sokoul on its defaults): it stays up here.
# shellcheck disable=SC2086  # SOKOUL_ENV is a list of VAR=value words
SOKOUL_BIND="127.0.0.1:$SOKOUL_PORT" SOKOUL_DATA_DIR="$BENCH_DIR/sokoul-data" SOKOUL_SECRET="$SECRET" \
    SOKOUL_PROXY_ALLOW="127.0.0.1" SOKOUL_LIBRARY="$BENCH_DIR/no-media" SOKOUL_LOG=warn \
    env ${SOKOUL_ENV:-} "$CARGO_TARGET_DIR/release/sokoul" serve >"$BENCH_DIR/sokoul.log" 2>&1 &
SOKOUL_PID=$!

wait_port() { for _ in $(seq 1 150); do (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.2; done; return 1; }
for p in "$ORIGIN_PORT" "$SOKOUL_PORT"; do wait_port "$p" || { echo "port $p did not open" >&2; exit 1; }; done

ORIGIN="http://127.0.0.1:$ORIGIN_PORT/vod/index.m3u8"
code=$(curl -s -o /dev/null -w '%{http_code}' "$ORIGIN")
[ "$code" = 403 ] || { echo "the origin answered $code without a Referer; expected 403" >&2; exit 1; }
URL="http://127.0.0.1:$SOKOUL_PORT$(SOKOUL_SECRET="$SECRET" "$CARGO_TARGET_DIR/release/examples/mint_proxy_url" "$ORIGIN" "Referer: $REFERER")"
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL")
[ "$code" = 200 ] || { echo "the proxied playlist answered $code" >&2; exit 1; }
: > "$N/access.log"

SUMMARY="$BENCH_DIR/summary-${VIEWERS}x${RUN_SECONDS}.txt"
log "$VIEWERS viewers for $RUN_SECONDS s (summary: $SUMMARY)"
status=0
"$CARGO_TARGET_DIR/release/examples/viewers" --url "$URL" --viewers "$VIEWERS" --seconds "$RUN_SECONDS" \
    --pid "$SOKOUL_PID" --out "$SUMMARY" || status=$?
# Upstream bytes against one viewer's: every distinct file the origin was asked for, once.
upstream_summary() {
    python3 - "$N/access.log" <<'PY'
import sys
sent, once = 0, {}
for line in open(sys.argv[1]):
    uri, size, status = line.split()
    if status in ("200", "206"):
        sent += int(size)
        once[uri] = max(once.get(uri, 0), int(size))
one = sum(once.values())
print(f"upstream bytes: {sent} sent by the origin for {len(once)} files; one viewer's: {one}; "
      f"ratio {sent / one if one else 0:.3f} (goal <= 1.1)")
PY
}

# A cached 4 MB segment relayed by sokoul beside nginx serving the same file from disk.
relay_summary() {
    head -c 4194304 /dev/urandom > "$BENCH_DIR/www/relay.ts"
    local direct="http://127.0.0.1:$ORIGIN_PORT/relay.ts" proxied
    proxied="http://127.0.0.1:$SOKOUL_PORT$(SOKOUL_SECRET="$SECRET" "$CARGO_TARGET_DIR/release/examples/mint_proxy_url" "$direct" "Referer: $REFERER")"
    curl -s -o /dev/null "$proxied"   # fills the cache
    rate() { wrk -t2 -c8 -d"${RELAY_SECONDS:-10}s" -H "Referer: $REFERER" "$1" | awk '/Requests\/sec/ {print $2}'; }
    local n s
    n=$(rate "$direct"); s=$(rate "$proxied")
    echo "cached 4 MB segment at 8 connections: sokoul $s req/s, nginx from disk $n req/s, ratio $(python3 -c "print(round($s / $n, 3))") (goal >= 0.9)"
}

{
    upstream_summary
    [ -z "${SKIP_RELAY:-}" ] && relay_summary
    echo "sokoul: ${SOKOUL_ENV:-default settings}; $(curl -s "http://127.0.0.1:$SOKOUL_PORT/metrics" | grep -E '^sokoul_proxy_(upstream_bytes|relayed_bytes|coalesced_waiters|read_ahead)' | tr '\n' ' ')"
    echo "segment: $(stat -c %s "$VOD/seg_0001.ts") bytes, ${SEGMENT_SECONDS} s, ${BITRATE} kbit/s video + 96 kbit/s audio"
    echo "sokoul log lines at warn or above: $(grep -c . "$BENCH_DIR/sokoul.log" || true); nginx error log lines: $(grep -c . "$N/error.log" || true)"
    echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -sr); open files limit $(ulimit -n); $(date -u +%FT%TZ)"
} | tee -a "$SUMMARY"
exit "$status"
