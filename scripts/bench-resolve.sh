#!/usr/bin/env bash
# Resolve benchmark on loopback: cached resolve latency and throughput at 64 connections, and
# the overhead a cold resolve adds on top of the upstream's own latency.
# Usage: scripts/bench-resolve.sh [--redis]   (prints a Markdown table; takes about 1 minute)
# wrk runs one thread (WRK_THREADS) so that on a 2-core machine the load generator and the
# server each get about one core instead of preempting each other.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { sudo_apt=$( [ "$(id -u)" = 0 ] || echo sudo ); $sudo_apt apt-get install -y wrk; }
BACKEND=memory
[ "${1:-}" = "--redis" ] && BACKEND=redis
DURATION=${DURATION:-15s}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

cargo build --release --quiet --bin sokoul --example fake_consumet
BIN=${CARGO_TARGET_DIR:-target}/release

FAKE_PORT=39991 SOKOUL_PORT=39992 REDIS_PORT=39993
"$BIN/examples/fake_consumet" --port $FAKE_PORT --delay-ms 0 2>/dev/null & pids+=($!)
if [ $BACKEND = redis ]; then
  redis-server --port $REDIS_PORT --save '' --appendonly no >/dev/null & pids+=($!)
  export SOKOUL_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/
fi
# One client (wrk) hammering resolves is exactly what the per-client rate limit stops: it is
# turned off here (SOKOUL_RATE_LIMIT_PER_SECOND=0) to measure the resolve path itself.
SOKOUL_BIND=127.0.0.1:$SOKOUL_PORT SOKOUL_DATA_DIR=$work SOKOUL_LIBRARY= SOKOUL_LOG=warn \
  SOKOUL_RATE_LIMIT_PER_SECOND=0 \
  SOKOUL_CONSUMET_URL=http://127.0.0.1:$FAKE_PORT "$BIN/sokoul" serve & pids+=($!)
for _ in $(seq 100); do curl -sf http://127.0.0.1:$SOKOUL_PORT/healthz >/dev/null && break; sleep 0.1; done

latency() { # wrk output → "p50 p99 rps"
  awk '/^ +50%/{p50=$2} /^ +99%/{p99=$2} /^Requests\/sec/{rps=$2} END{print p50, p99, rps}'
}

URL=http://127.0.0.1:$SOKOUL_PORT/api/streaming/resolve/movie/603
curl -sf "$URL" >/dev/null   # warm the cache
read -r c50 c99 crps < <(wrk -t"${WRK_THREADS:-1}" -c64 -d"$DURATION" --latency "$URL" | latency)

# Cold: one connection, a new title per request, against an upstream answering in ~0 ms;
# compared with the same two upstream calls made directly.
read -r k50 k99 krps < <(ID_BASE=1000000 wrk -t1 -c1 -d10s --latency -s scripts/bench/unique-ids.lua "http://127.0.0.1:$SOKOUL_PORT" | latency)
read -r i50 _ _ < <(wrk -t1 -c1 -d5s --latency "http://127.0.0.1:$FAKE_PORT/meta/tmdb/info/603?type=movie" | latency)
read -r w50 _ _ < <(wrk -t1 -c1 -d5s --latency "http://127.0.0.1:$FAKE_PORT/meta/tmdb/watch/603?id=movie/watch-title-603" | latency)

cat <<TABLE
| backend | cached p50 | cached p99 | cached req/s (64 conn) | cold p50 | upstream info p50 | upstream watch p50 |
|---|---|---|---|---|---|---|
| $BACKEND | $c50 | $c99 | $crps | $k50 | $i50 | $w50 |
TABLE
