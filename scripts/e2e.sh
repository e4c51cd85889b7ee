#!/usr/bin/env bash
# Browser end-to-end tests: Playwright in Debian's Chromium against real `sokoul serve` instances.
#
# Builds sokoul, the fake Consumet and the dashboard; generates (once per run, in a temporary
# directory) the demo library and a short H.264/AAC HLS stream; starts on free loopback ports:
#   - fake_consumet --media HLS   (a Consumet stand-in that is also a Referer-checking CDN),
#   - tests/stremio-addon          (the real stremio-addon-sdk addon; its origin is that CDN),
#   - four `sokoul serve`, each with a fresh data dir:
#       local   = the demo library only          (home page, resume, next episode, keyboard, TTFF, CSP)
#       remote  = fake Consumet + the library    (Referer through the proxy, 403 fallback, nothing found)
#       stremio = the Stremio addon only         (a header-requiring stream through the proxy)
#       secure  = the library + SOKOUL_API_TOKEN (login form, signed media URLs)
# then runs `npx playwright test` in dashboard/ and always stops everything it started.
# Artifacts (screenshots of every test, traces of failures, ttff.json): dashboard/test-results/.
#
# Environment: CHROMIUM (browser binary; default /usr/lib/chromium/chromium), E2E_SKIP_BUILD=1
# (reuse the built binaries and dashboard), CARGO_TARGET_DIR. Extra arguments go to Playwright.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
START=$(date +%s)

log() { echo "== e2e: $*"; }

if [ -z "${CHROMIUM:-}" ]; then
  for c in /usr/lib/chromium/chromium /usr/bin/chromium; do
    [ -x "$c" ] && CHROMIUM=$c && break
  done
fi
[ -n "${CHROMIUM:-}" ] || { echo "e2e: chromium not found (apt-get install chromium)" >&2; exit 1; }
export CHROMIUM
command -v ffmpeg >/dev/null || { echo "e2e: ffmpeg not found" >&2; exit 1; }

# ---- Build ----
if [ "${E2E_SKIP_BUILD:-}" != 1 ]; then
  log "cargo build (sokoul, fake_consumet)"
  cargo build --quiet --bin sokoul --example fake_consumet
  log "dashboard build"
  (
    cd dashboard
    if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
      npm ci --no-audit --no-fund
    fi
    if ! out=$(npm run build 2>&1); then echo "$out" >&2; exit 1; fi
  )
fi
if [ ! -d tests/stremio-addon/node_modules ]; then
  (cd tests/stremio-addon && npm ci --no-audit --no-fund)
fi
SOKOUL="$TARGET/debug/sokoul"
FAKE_CONSUMET="$TARGET/debug/examples/fake_consumet"
[ -x "$SOKOUL" ] && [ -x "$FAKE_CONSUMET" ] || { echo "e2e: build sokoul and fake_consumet first" >&2; exit 1; }
[ -f dashboard/build/index.html ] || { echo "e2e: dashboard/build is missing" >&2; exit 1; }

# ---- Processes: started here, always stopped ----
WORK="$(mktemp -d "${TMPDIR:-/tmp}/sokoul-e2e.XXXXXX")"
PIDS=()
STATUS=1
cleanup() {
  local rc=$?
  exec 9>&- 2>/dev/null || true # closes the addon's stdin: it exits by itself
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "$STATUS" != 0 ]; then
    for f in "$WORK"/*.log; do
      [ -f "$f" ] || continue
      echo "---- tail of $(basename "$f")"
      tail -n 40 "$f"
    done
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# wait_http URL SECONDS [MIN_ITEMS]: until URL answers 2xx (with at least MIN_ITEMS `items`).
wait_http() { node dashboard/tests/e2e/support/wait-http.mjs "$@"; }

# ---- Media ----
log "generating the demo library and the remote HLS stream"
# 90 s titles: resuming needs a position ≥ 10 s and more than 60 s before the end.
"$SOKOUL" demo-library "$WORK/library" --seconds 90 >"$WORK/demo-library.log" 2>&1 &
DEMO=$!
mkdir -p "$WORK/cdn" "$WORK/empty"
ffmpeg -hide_banner -nostdin -loglevel error -y \
  -f lavfi -i testsrc2=size=640x360:rate=25:duration=20 \
  -f lavfi -i sine=frequency=440:sample_rate=48000:duration=20 \
  -c:v libx264 -preset veryfast -profile:v high -pix_fmt yuv420p -g 100 -keyint_min 100 -sc_threshold 0 \
  -c:a aac -b:a 128k -ac 2 \
  -f hls -hls_time 4 -hls_playlist_type vod -hls_segment_filename "$WORK/cdn/seg_%03d.ts" \
  "$WORK/cdn/index.m3u8"
cat >"$WORK/cdn/master.m3u8" <<'EOF'
#EXTM3U
#EXT-X-STREAM-INF:BANDWIDTH=1200000,RESOLUTION=640x360,CODECS="avc1.64001e,mp4a.40.2"
index.m3u8
EOF
cat >"$WORK/cdn/en.vtt" <<'EOF'
WEBVTT

00:00:01.000 --> 00:00:04.000
Sokoul end-to-end subtitle
EOF
wait "$DEMO" || { cat "$WORK/demo-library.log" >&2; exit 1; }
# Two films for the playback engine (tests/e2e/5-engine.spec.ts, docs/playback.md): a VP9 +
# Opus WebM that Chromium decodes (remuxed, never re-encoded), and a phone video lying on its
# side with a 90° display matrix and `moov` at the end (turned upright by a transcode).
mkdir -p "$WORK/library/Sokoul VP9 (2024) [tmdbid-905]" "$WORK/library/Sokoul Portrait (2024) [tmdbid-906]"
ffmpeg -hide_banner -nostdin -loglevel error -y \
  -f lavfi -i testsrc2=size=640x360:rate=25:duration=12 -f lavfi -i sine=frequency=440:sample_rate=48000:duration=12 \
  -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -b:v 600k -g 50 -c:a libopus -ac 2 \
  "$WORK/library/Sokoul VP9 (2024) [tmdbid-905]/Sokoul VP9 (2024).webm"
ffmpeg -hide_banner -nostdin -loglevel error -y \
  -f lavfi -i testsrc2=size=640x360:rate=25:duration=12 -f lavfi -i sine=frequency=440:sample_rate=48000:duration=12 \
  -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac -ac 2 "$WORK/portrait-unrotated.mp4"
# ffmpeg 5.1 has no -display_rotation; on a stream copy the `rotate` tag becomes the matrix.
ffmpeg -hide_banner -nostdin -loglevel error -y -i "$WORK/portrait-unrotated.mp4" -c copy -metadata:s:v:0 rotate=90 \
  "$WORK/library/Sokoul Portrait (2024) [tmdbid-906]/Sokoul Portrait (2024).mp4"

# An image subtitle (tests/e2e/6-image-subtitles.spec.ts, docs/playback.md): H.264 + AAC in
# Matroska with a DVD (VobSub) subpicture, which ffmpeg cannot draw from text: spumux muxes a
# PNG (a white bar, black declared transparent) into an MPEG-PS at the DVD's 720x480, shown
# over the dark bottom band of the picture for the whole film.
command -v spumux >/dev/null || { echo "e2e: spumux not found (apt-get install dvdauthor)" >&2; exit 1; }
IMGSUB="$WORK/library/Sokoul Signs (2024) [tmdbid-960]"
mkdir -p "$IMGSUB"
ffmpeg -hide_banner -nostdin -loglevel error -y \
  -f lavfi -i "color=c=black:s=720x480,drawbox=x=100:y=400:w=520:h=40:color=white:t=fill,format=rgb24" \
  -frames:v 1 "$WORK/imgsub-bar.png"
ffmpeg -hide_banner -nostdin -loglevel error -y \
  -f lavfi -i "testsrc2=size=720x480:rate=30000/1001:duration=40,drawbox=x=0:y=360:w=720:h=120:color=0x101010:t=fill" \
  -f lavfi -i sine=frequency=440:sample_rate=48000:duration=40 -target ntsc-dvd "$WORK/imgsub-base.mpg"
printf '<subpictures><stream><spu start="00:00:00.20" end="00:00:39.50" image="%s" transparent="000000" force="yes"/></stream></subpictures>' \
  "$WORK/imgsub-bar.png" >"$WORK/imgsub-spu.xml"
spumux -m dvd -s 0 "$WORK/imgsub-spu.xml" <"$WORK/imgsub-base.mpg" >"$WORK/imgsub-with.mpg" 2>"$WORK/spumux.log"
ffmpeg -hide_banner -nostdin -loglevel error -y -i "$WORK/imgsub-with.mpg" -map 0:v -map 0:a -map 0:s \
  -c:v libx264 -preset veryfast -pix_fmt yuv420p -g 60 -c:a aac -ac 2 -c:s copy \
  -metadata:s:s:0 language=eng -metadata:s:s:0 title=Signs "$IMGSUB/Sokoul Signs (2024).mkv"
rm -f "$WORK"/imgsub-*.mpg

# ---- Fake Consumet (also the Referer-checking CDN) ----
CONSUMET_PORT=$(free_port)
"$FAKE_CONSUMET" --port "$CONSUMET_PORT" --media "$WORK/cdn" >"$WORK/fake-consumet.log" 2>&1 &
PIDS+=($!)
CONSUMET="http://127.0.0.1:$CONSUMET_PORT"

# ---- The Stremio addon; its stdin (fd 9) stays open for as long as this script runs ----
mkfifo "$WORK/addon.in"
(cd tests/stremio-addon &&
  exec env ORIGIN="$CONSUMET/cdn" REFERER="https://embed.example/e/1" TOKEN=e2e \
    node addon.js <"$WORK/addon.in" >"$WORK/addon.out" 2>"$WORK/stremio-addon.log") &
PIDS+=($!)
exec 9>"$WORK/addon.in"
deadline=$((SECONDS + 20))
until [ -s "$WORK/addon.out" ]; do
  [ $SECONDS -lt $deadline ] || { echo "e2e: the Stremio addon did not start" >&2; exit 1; }
  sleep 0.2
done
ADDON_TMDB=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).tmdb)' "$WORK/addon.out")

# ---- sokoul serve ×3 ----
# start_sokoul NAME LIBRARY [VAR=VALUE…]: prints the base URL.
start_sokoul() {
  local name=$1 library=$2 port
  shift 2
  port=$(free_port)
  mkdir -p "$WORK/data-$name"
  env SOKOUL_BIND="127.0.0.1:$port" SOKOUL_DATA_DIR="$WORK/data-$name" SOKOUL_LIBRARY="$library" \
    SOKOUL_DASHBOARD_DIR="$ROOT/dashboard/build" SOKOUL_LOG="${SOKOUL_LOG:-info}" "$@" \
    "$SOKOUL" serve >"$WORK/sokoul-$name.log" 2>&1 &
  PIDS+=($!)
  echo "http://127.0.0.1:$port"
}
# start VAR NAME …: start_sokoul without a command substitution, whose subshell would lose PIDS.
start() {
  local var=$1
  shift
  start_sokoul "$@" >"$WORK/url"
  printf -v "$var" '%s' "$(cat "$WORK/url")"
}
LOCAL_URL=""; REMOTE_URL=""; STREMIO_URL=""; SECURE_URL=""
E2E_TOKEN="e2e-$(node -e 'console.log(require("crypto").randomBytes(12).toString("hex"))')"
start LOCAL_URL local "$WORK/library"
start REMOTE_URL remote "$WORK/library" SOKOUL_CONSUMET_URL="$CONSUMET"
start STREMIO_URL stremio "$WORK/empty" SOKOUL_STREMIO_ADDONS="$ADDON_TMDB/manifest.json" \
  SOKOUL_PROXY_ALLOW=127.0.0.1
start SECURE_URL secure "$WORK/library" SOKOUL_API_TOKEN="$E2E_TOKEN"
for url in "$LOCAL_URL" "$REMOTE_URL" "$STREMIO_URL" "$SECURE_URL"; do wait_http "$url/healthz" 60; done

# The library scan runs in the background at start: wait for the three demo titles and the
# engine's two films.
for url in "$LOCAL_URL" "$REMOTE_URL"; do wait_http "$url/api/library/items" 60 5; done
WAIT_TOKEN="$E2E_TOKEN" wait_http "$SECURE_URL/api/library/items" 60 5
log "servers ready after $(($(date +%s) - START)) s: local $LOCAL_URL, remote $REMOTE_URL, stremio $STREMIO_URL, secure $SECURE_URL, consumet $CONSUMET"

# ---- Playwright ----
export E2E_LOCAL_URL="$LOCAL_URL" E2E_REMOTE_URL="$REMOTE_URL" E2E_STREMIO_URL="$STREMIO_URL" E2E_CONSUMET_URL="$CONSUMET"
export E2E_SECURE_URL="$SECURE_URL" E2E_TOKEN
set +e
(cd dashboard && timeout 600 npx playwright test "$@")
STATUS=$?
set -e
log "finished in $(($(date +%s) - START)) s (status $STATUS)"
exit "$STATUS"
