#!/usr/bin/env bash
# Scale-out on Redis (docs/scaling.md): what sharing the cache costs.
#
#   scripts/bench-scale.sh            # about 1.5 minutes; prints Markdown
#
# Two instances A and B of a release build share one loopback redis-server, behind nginx
# (the docs' configuration); a third, C, has no in-process tier (`memory_capacity = 0`) so
# that every hit is a Redis hit. `examples/fake_consumet` is the upstream (answers in ~0 ms).
# Measured: Redis round trips per cold resolve, per first hit on another instance and per hot
# hit (MONITOR); Redis memory per cached resolution (MEMORY USAGE, and used_memory
# over a few thousand titles); cached-resolve latency and throughput at 64 connections for
# an in-process hit, a Redis hit, and through nginx; cold-resolve latency with Redis.
# wrk runs one thread so that load generator and servers share the two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
need() { command -v "$1" >/dev/null 2>&1; }
if ! need wrk || ! need nginx || ! need redis-server; then
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get install -y -qq wrk nginx-light redis-server
fi
DURATION=${DURATION:-10s}
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

FAKE=29981 REDIS=29982 A=29983 B=29984 C=29985 LB=29986 D=29987   # below the ephemeral range
for p in $FAKE $REDIS $A $B $C $LB $D; do
  if (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "port $p is in use" >&2; exit 1; fi
done
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --quiet --bin sokoul --example fake_consumet
BIN=${CARGO_TARGET_DIR:-target}/release

"$BIN/examples/fake_consumet" --port $FAKE --delay-ms 0 2>/dev/null & pids+=($!)
redis-server --port $REDIS --bind 127.0.0.1 --save '' --appendonly no \
  --maxmemory 256mb --maxmemory-policy volatile-ttl >/dev/null & pids+=($!)
redis_pid=$!
redis_cpu() { awk '{print $14 + $15}' /proc/$redis_pid/stat; }   # clock ticks (1/100 s)
rcli() { redis-cli -p $REDIS "$@"; }
for _ in $(seq 50); do rcli ping >/dev/null 2>&1 && break; sleep 0.1; done

printf '[library]\nenabled = false\n' > "$work/sokoul.toml"
printf '[library]\nenabled = false\n[cache]\nmemory_capacity = 0\n' > "$work/no-memory-tier.toml"
serve() { # port, data dir, extra env...
  local port=$1 dir=$2; shift 2
  mkdir -p "$dir"
  env SOKOUL_BIND=127.0.0.1:$port SOKOUL_DATA_DIR="$dir" SOKOUL_CONFIG="$work/sokoul.toml" SOKOUL_LOG=warn \
    SOKOUL_SECRET="bench cluster secret" SOKOUL_REDIS_URL=redis://127.0.0.1:$REDIS/ SOKOUL_RATE_LIMIT_PER_SECOND=0 \
    SOKOUL_CONSUMET_URL=http://127.0.0.1:$FAKE "$@" "$BIN/sokoul" serve &
  pids+=($!)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && return; sleep 0.1; done
  echo "instance on $port did not start" >&2; exit 1
}
serve $A "$work/a"
serve $B "$work/b"
serve $C "$work/c" SOKOUL_CONFIG="$work/no-memory-tier.toml"
serve $D "$work/d" SOKOUL_REDIS_URL=   # no Redis at all, for comparison

# The nginx configuration of docs/scaling.md, on loopback ports.
cat > "$work/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work; proxy_temp_path $work; fastcgi_temp_path $work;
  uwsgi_temp_path $work; scgi_temp_path $work;
  upstream sokoul {
    server 127.0.0.1:$A max_fails=3 fail_timeout=10s;
    server 127.0.0.1:$B max_fails=3 fail_timeout=10s;
    keepalive 64;
  }
  server {
    listen 127.0.0.1:$LB;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host \$http_host;
    proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto \$scheme;
    location / { proxy_pass http://sokoul; }
    location /api/streaming/proxy {
      proxy_pass http://sokoul;
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 60s;
    }
  }
}
NGINX
nginx -t -q -c "$work/nginx.conf" -p "$work" 2>/dev/null
nginx -c "$work/nginx.conf" -p "$work"

# The round trips a request makes: the commands MONITOR sees from clients (those a script
# runs inside Redis show as "[0 lua]" and are left out).
roundtrips() {
  redis-cli -p $REDIS monitor > "$work/monitor" & local m=$!   # not rcli: $! must be redis-cli
  sleep 0.3; "$@" >/dev/null; sleep 0.3
  kill $m; wait $m 2>/dev/null || true
  local cmds
  cmds=$(grep -E '^[0-9.]+ \[[0-9]+ [0-9.]+:[0-9]+\]' "$work/monitor" | awk '{gsub(/"/, "", $4); print $4}' | tr '\n' ' ')
  echo "$(wc -w <<<"$cmds") (${cmds% })"
}
get() { curl -sf "$1"; }
url() { echo "http://127.0.0.1:$1/api/streaming/resolve/movie/$2"; }

get "$(url $A 1)" >/dev/null   # loads the lock scripts (one SCRIPT LOAD each, once per server)
miss=$(roundtrips get "$(url $A 603)")
first_hit_b=$(roundtrips get "$(url $B 603)")
hot_hit_b=$(roundtrips get "$(url $B 603)")
key=$(rcli --scan --pattern 'sokoul:v1:*:resolve:all:movie/603' | head -1)
usage=$(rcli memory usage "$key")
strlen=$(rcli strlen "$key")

latency() { awk '/^ +50%/{p50=$2} /^ +99%/{p99=$2} /^Requests\/sec/{rps=$2} END{print p50, p99, rps}'; }
used() { rcli info memory | tr -d '\r' | awk -F: '/^used_memory:/{print $2}'; }

keys0=$(rcli dbsize); mem0=$(used)
read -r k50 k99 krps < <(ID_BASE=1000000 wrk -t1 -c1 -d"$DURATION" --latency -s scripts/bench/unique-ids.lua "http://127.0.0.1:$A" | latency)
keys1=$(rcli dbsize); mem1=$(used)
per_entry=$(( (mem1 - mem0) / (keys1 - keys0) ))
read -r d50 d99 drps < <(ID_BASE=1000000 wrk -t1 -c1 -d"$DURATION" --latency -s scripts/bench/unique-ids.lua "http://127.0.0.1:$D" | latency)

get "$(url $C 603)" >/dev/null
get "$(url $LB 603)" >/dev/null
read -r m50 m99 mrps < <(wrk -t1 -c64 -d"$DURATION" --latency "$(url $A 603)" | latency)
cpu0=$(redis_cpu)
read -r r50 r99 rrps < <(wrk -t1 -c64 -d"$DURATION" --latency "$(url $C 603)" | latency)
redis_share=$(awk -v t="$(( $(redis_cpu) - cpu0 ))" -v d="${DURATION%s}" 'BEGIN {printf "%.0f %%", t / d}')
read -r n50 n99 nrps < <(wrk -t1 -c64 -d"$DURATION" --latency "$(url $LB 603)" | latency)
read -r m1 m1p99 m1rps < <(wrk -t1 -c1 -d"$DURATION" --latency "$(url $A 603)" | latency)
read -r r1 r1p99 r1rps < <(wrk -t1 -c1 -d"$DURATION" --latency "$(url $C 603)" | latency)
c_tiers=$(curl -sf "http://127.0.0.1:$C/metrics" | grep '^sokoul_cache_tier_hits_total' | tr '\n' ' ')

cat <<TABLE
Redis round trips: cold resolve $miss; first hit on another instance $first_hit_b; hot hit $hot_hit_b
One cached resolution (3 sources, 2 subtitles, markers): value $strlen bytes, MEMORY USAGE $usage bytes
Cold resolves on A: $((keys1 - keys0)) entries, used_memory +$((mem1 - mem0)) bytes = $per_entry bytes per entry
Instance C (memory_capacity = 0) tier hits: $c_tiers; redis-server CPU during its 64-connection run: $redis_share of one core

| cached resolve, 64 connections | p50 | p99 | req/s |
|---|---|---|---|
| in-process hit (A, hot title) | $m50 | $m99 | $mrps |
| Redis hit (C, no in-process tier) | $r50 | $r99 | $rrps |
| through nginx to A and B | $n50 | $n99 | $nrps |

| one connection | p50 | p99 | req/s |
|---|---|---|---|
| in-process hit (A) | $m1 | $m1p99 | $m1rps |
| Redis hit (C) | $r1 | $r1p99 | $r1rps |
| cold resolve with Redis (A) | $k50 | $k99 | $krps |
| cold resolve without Redis (D) | $d50 | $d99 | $drps |
TABLE
