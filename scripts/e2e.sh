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
#       stremio = the Stremio addon only         (a header-requiring stream through the proxy,
#                                                 and its subtitles addon's SRTs as WebVTT)
#       secure  = the library + SOKOUL_API_TOKEN + an admin account made with `sokoul user add`
#                 (login form, session cookie, logout, signed media URLs)
#       household = the library, no account yet (its first run, profiles: 21-profiles)
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
  exec 8>&- 2>/dev/null || true # the picture addon's
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
# Opus WebM that Chromium plays as it is (no ffmpeg at all), and a phone video lying on its
# side with a 90° display matrix and `moov` at the end (turned upright by a transcode).
mkdir -p "$WORK/library/Sokoul VP9 (2024) [tmdbid-905]" "$WORK/library/Sokoul Portrait (2024) [tmdbid-906]"
ffmpeg -hide_banner -nostdin -loglevel error -y \
  -f lavfi -i testsrc2=size=640x360:rate=25:duration=12 -f lavfi -i sine=frequency=440:sample_rate=48000:duration=12 \
  -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -b:v 600k -g 50 -c:a libopus -ac 2 \
  "$WORK/library/Sokoul VP9 (2024) [tmdbid-905]/Sokoul VP9 (2024).webm"
ffmpeg -hide_banner -nostdin -loglevel error -y \
  -f lavfi -i testsrc2=size=640x360:rate=25:duration=12 -f lavfi -i sine=frequency=440:sample_rate=48000:duration=12 \
  -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac -ac 2 "$WORK/portrait-unrotated.mp4"
# An AV1 + Opus MKV (movie 9150) with two audio tracks, French and English, as a "MULTi"
# release has them, which Debian's Chromium decodes with dav1d: a <video> would play only the
# first track, so it is remuxed into fMP4 HLS with both as renditions, never re-encoded.
# SVT_LOG=1: SVT-AV1 prints its banner on stderr whatever ffmpeg's log level.
mkdir -p "$WORK/library/Sokoul AV1 (2024) [tmdbid-9150]"
SVT_LOG=1 ffmpeg -hide_banner -nostdin -loglevel error -y \
  -f lavfi -i testsrc2=size=640x360:rate=25:duration=12 -f lavfi -i sine=frequency=440:sample_rate=48000:duration=12 \
  -f lavfi -i sine=frequency=660:sample_rate=48000:duration=12 -map 0:v -map 1:a -map 2:a \
  -c:v libsvtav1 -preset 12 -crf 40 -g 50 -pix_fmt yuv420p -c:a libopus -ac 2 \
  -metadata:s:a:0 language=fre -metadata:s:a:1 language=eng \
  "$WORK/library/Sokoul AV1 (2024) [tmdbid-9150]/Sokoul AV1 (2024).mkv"
# Both carry an English sidecar shown for their whole length: the player draws it on the picture,
# not on the black bars (tests/e2e/30-subtitles-on-picture.spec.ts).
for film in "Sokoul VP9 (2024) [tmdbid-905]/Sokoul VP9 (2024)" "Sokoul Portrait (2024) [tmdbid-906]/Sokoul Portrait (2024)"; do
  printf '1\n00:00:00,200 --> 00:00:12,000\nOn the picture, where the eyes are, even when the picture is a narrow column\n' >"$WORK/library/$film.en.srt"
done
# ffmpeg 5.1 has no -display_rotation; on a stream copy the `rotate` tag becomes the matrix.
ffmpeg -hide_banner -nostdin -loglevel error -y -i "$WORK/portrait-unrotated.mp4" -c copy -metadata:s:v:0 rotate=90 \
  "$WORK/library/Sokoul Portrait (2024) [tmdbid-906]/Sokoul Portrait (2024).mp4"

# A styled ASS track (tests/e2e/7-styled-ass.spec.ts): movie 9145, a grey-only H.264 MKV (hue
# removed, so the only saturated colour on screen is the subtitle's) with an embedded ASS whose
# big magenta `{\an8}` sign sits at the top for the whole film.
STYLED="$WORK/library/Sokoul Styled (2024) [tmdbid-9145]"
mkdir -p "$STYLED"
cat >"$WORK/styled.ass" <<'EOF'
[Script Info]
ScriptType: v4.00+
PlayResX: 640
PlayResY: 360

[V4+ Styles]
Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding
Style: Sign,Liberation Sans,64,&H00FF00FF,&H00FF00FF,&H00000000,&H00000000,-1,0,0,0,100,100,0,0,1,0,0,2,10,10,20,1

[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
Dialogue: 0,0:00:00.00,0:00:12.00,Sign,,0,0,0,,{\an8}TOP SIGN
EOF
ffmpeg -hide_banner -nostdin -loglevel error -y \
  -f lavfi -i testsrc2=size=640x360:rate=25:duration=12,hue=s=0 -f lavfi -i sine=frequency=440:sample_rate=48000:duration=12 \
  -i "$WORK/styled.ass" -map 0 -map 1 -map 2 \
  -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac -ac 2 -c:s copy \
  -metadata:s:s:0 language=eng -metadata:s:s:0 title=Signs "$STYLED/Sokoul Styled (2024).mkv"

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
# The same process's subtitles-only addon (French SRT in Windows-1252, English in UTF-8).
ADDON_SUBS=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).subs)' "$WORK/addon.out")

# ---- Picture: HDR10, interlaced, a remote MKV (tests/e2e/8-engine-picture.spec.ts) ----
# - movie 907: HDR10 (HEVC Main10, PQ + BT.2020, tagged) made from a known 2×2 pattern (grey
#   B4B4B4, red C83232, green 32A032, blue 3232C8) converted to PQ with SDR white at 100 nits,
#   so a correct tone-map gives the pattern back, darker but with its hues;
# - movie 908: an MPEG-2 TS whose frames weave two fields from different instants (50 → 25 fps);
# - movie 550: a 60 s H.264 + AC-3 Matroska film (tmdb:550 in the SDK addon) on an origin that
#   answers byte ranges and wants the addon's Referer, listed by an addon instance of its own.
PICTURE="$WORK/picture"
mkdir -p "$PICTURE/library/Sokoul HDR10 (2024) [tmdbid-907]" "$PICTURE/library/Sokoul Interlaced (2024) [tmdbid-908]" \
  "$PICTURE/films"
colour_patch() { echo "color=c=0x$1:s=320x180:d=20:r=25"; }
ffmpeg -hide_banner -nostdin -loglevel error -y \
  -f lavfi -i "$(colour_patch B4B4B4)" -f lavfi -i "$(colour_patch C83232)" -f lavfi -i "$(colour_patch 32A032)" -f lavfi -i "$(colour_patch 3232C8)" \
  -f lavfi -i sine=frequency=440:sample_rate=48000:duration=20 \
  -filter_complex "[0][1]hstack[t];[2][3]hstack[b];[t][b]vstack,format=gbrpf32le,zscale=tin=bt709:pin=bt709:t=smpte2084:p=bt2020:npl=100,zscale=m=bt2020nc:r=tv,format=yuv420p10le[v]" \
  -map "[v]" -map 4:a -c:v libx265 -preset ultrafast -tag:v hvc1 \
  -x265-params "log-level=error:hdr10=1:colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc:master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1):max-cll=1000,400" \
  -color_primaries bt2020 -color_trc smpte2084 -colorspace bt2020nc -c:a aac -ac 2 -movflags +faststart \
  "$PICTURE/library/Sokoul HDR10 (2024) [tmdbid-907]/Sokoul HDR10 (2024).mp4"
ffmpeg -hide_banner -nostdin -loglevel error -y \
  -f lavfi -i testsrc2=size=352x288:rate=50:duration=12 -f lavfi -i sine=frequency=440:sample_rate=48000:duration=12 \
  -vf tinterlace=interleave_top,setfield=tff -c:v mpeg2video -flags +ilme+ildct -top 1 -b:v 2M -c:a mp2 \
  "$PICTURE/library/Sokoul Interlaced (2024) [tmdbid-908]/Sokoul Interlaced (2024).ts"
ffmpeg -hide_banner -nostdin -loglevel error -y \
  -f lavfi -i testsrc2=size=640x360:rate=25:duration=60 -f lavfi -i sine=frequency=440:sample_rate=48000:duration=60 \
  -c:v libx264 -preset veryfast -pix_fmt yuv420p -g 50 -b:v 400k -c:a ac3 -ac 2 "$PICTURE/films/film.mkv"
PICTURE_ORIGIN_LOG="$WORK/picture-origin.jsonl"
: >"$PICTURE_ORIGIN_LOG"
env DIR="$PICTURE/films" REFERER="https://embed.example/e/1" LOG="$PICTURE_ORIGIN_LOG" \
  node dashboard/tests/e2e/support/range-origin.mjs >"$WORK/picture-origin.out" 2>"$WORK/picture-origin.log" &
PIDS+=($!)
# wait_file FILE WHAT: until FILE has something in it (a process printed its URL).
wait_file() {
  local deadline=$((SECONDS + 20))
  until [ -s "$1" ]; do
    [ $SECONDS -lt $deadline ] || { echo "e2e: $2 did not start" >&2; exit 1; }
    sleep 0.2
  done
}
wait_file "$WORK/picture-origin.out" "the picture origin"
PICTURE_ORIGIN=$(head -n1 "$WORK/picture-origin.out")
mkfifo "$WORK/picture-addon.in"
(cd tests/stremio-addon &&
  exec env ORIGIN="$CONSUMET/cdn" MEDIA_ORIGIN="$PICTURE_ORIGIN" REFERER="https://embed.example/e/1" TOKEN=e2e \
    node addon.js <"$WORK/picture-addon.in" >"$WORK/picture-addon.out" 2>"$WORK/picture-addon.log") &
PIDS+=($!)
exec 8>"$WORK/picture-addon.in"
wait_file "$WORK/picture-addon.out" "the picture addon"
PICTURE_ADDON=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).tmdb)' "$WORK/picture-addon.out")

# ---- Languages (tests/e2e/11-languages.spec.ts): a server and library of their own ----
# - movie 9160: English (default, the original) and French audio (440 and 880 Hz), French and
#   English subtitles whose text says their language;
# - series 9161: two episodes with English (default) and French audio.
LANGS="$WORK/langs"
LANGS_SHOW="$LANGS/library/Shows/Sokoul Langues Serie (2024) [tmdbid-9161]/Season 01"
mkdir -p "$LANGS/library/Sokoul Langues (2024) [tmdbid-9160]" "$LANGS_SHOW"
printf '1\n00:00:00,000 --> 00:00:40,000\nSous-titre français\n' >"$LANGS/fr.srt"
printf '1\n00:00:00,000 --> 00:00:40,000\nEnglish subtitle\n' >"$LANGS/en.srt"
# two_audio OUT SECONDS [SUBTITLE…]: H.264 + English (default) and French AAC, subtitles after.
two_audio() {
  local out=$1 seconds=$2
  shift 2
  local inputs=() maps=() meta=() i=0
  for sub in "$@"; do
    inputs+=(-i "$sub")
    maps+=(-map "$((i + 3))")
    meta+=(-metadata:s:s:$i language="$(basename "$sub" .srt | sed 's/^fr$/fre/;s/^en$/eng/')" -disposition:s:$i 0)
    i=$((i + 1))
  done
  ffmpeg -hide_banner -nostdin -loglevel error -y \
    -f lavfi -i "testsrc2=size=640x360:rate=25:duration=$seconds" \
    -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=$seconds" \
    -f lavfi -i "sine=frequency=880:sample_rate=48000:duration=$seconds" "${inputs[@]}" \
    -map 0:v -map 1:a -map 2:a "${maps[@]}" \
    -c:v libx264 -preset veryfast -pix_fmt yuv420p -g 50 -c:a aac -ac 2 -c:s srt \
    -metadata:s:a:0 language=eng -metadata:s:a:1 language=fre -disposition:a:0 default -disposition:a:1 0 \
    "${meta[@]}" "$out"
}
two_audio "$LANGS/library/Sokoul Langues (2024) [tmdbid-9160]/Sokoul Langues (2024).mkv" 40 "$LANGS/fr.srt" "$LANGS/en.srt"
two_audio "$LANGS_SHOW/Sokoul Langues Serie S01E01 - Un.mkv" 30
two_audio "$LANGS_SHOW/Sokoul Langues Serie S01E02 - Deux.mkv" 30

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
start STREMIO_URL stremio "$WORK/empty" SOKOUL_STREMIO_ADDONS="$ADDON_TMDB/manifest.json,$ADDON_SUBS/manifest.json" \
  SOKOUL_PROXY_ALLOW=127.0.0.1
# The secure server's admin, created headless before it starts (the password on stdin).
E2E_USER="e2e-admin"
E2E_PASSWORD="pw-$(node -e 'console.log(require("crypto").randomBytes(12).toString("hex"))')"
mkdir -p "$WORK/data-secure"
printf '%s\n' "$E2E_PASSWORD" | env SOKOUL_DATA_DIR="$WORK/data-secure" "$SOKOUL" user add "$E2E_USER" --admin \
  >"$WORK/user-add.log" 2>&1 || { cat "$WORK/user-add.log" >&2; exit 1; }
start SECURE_URL secure "$WORK/library" SOKOUL_API_TOKEN="$E2E_TOKEN"
for url in "$LOCAL_URL" "$REMOTE_URL" "$STREMIO_URL" "$SECURE_URL"; do wait_http "$url/healthz" 60; done

# The picture server: its own library (907, 908) and addon (the remote MKV), so the counts the
# other specs see do not change.
PICTURE_URL=""
start PICTURE_URL picture "$PICTURE/library" SOKOUL_STREMIO_ADDONS="$PICTURE_ADDON/manifest.json" \
  SOKOUL_PROXY_ALLOW=127.0.0.1
wait_http "$PICTURE_URL/healthz" 60
wait_http "$PICTURE_URL/api/library/items" 60 2
LANGS_URL=""
start LANGS_URL langs "$LANGS/library"
wait_http "$LANGS_URL/healthz" 60
wait_http "$LANGS_URL/api/library/items" 60 2
# The household server: the demo library and no account, so that its first run is the spec's.
HOUSEHOLD_URL=""
start HOUSEHOLD_URL household "$WORK/library"
wait_http "$HOUSEHOLD_URL/healthz" 60
# The search server: the demo library, the fake Consumet for "Regarder" on a title outside the
# library, and a fake TMDB (KEY checked like TMDB does) for the header's search.
TMDB_KEY="e2e-tmdb-$(node -e 'console.log(require("crypto").randomBytes(8).toString("hex"))')"
KEY="$TMDB_KEY" node dashboard/tests/e2e/support/fake-tmdb.mjs >"$WORK/fake-tmdb.out" 2>"$WORK/fake-tmdb.log" &
PIDS+=($!)
wait_file "$WORK/fake-tmdb.out" "the fake TMDB"
SEARCH_URL=""
start SEARCH_URL search "$WORK/library" SOKOUL_CONSUMET_URL="$CONSUMET" \
  SOKOUL_TMDB_KEY="$TMDB_KEY" SOKOUL_TMDB_URL="$(cat "$WORK/fake-tmdb.out")"
wait_http "$SEARCH_URL/healthz" 60
wait_http "$SEARCH_URL/api/library/items" 60 5

# The library scan runs in the background at start: wait for the three demo titles and the
# engine's two films.
for url in "$LOCAL_URL" "$REMOTE_URL" "$HOUSEHOLD_URL"; do wait_http "$url/api/library/items" 60 5; done
WAIT_TOKEN="$E2E_TOKEN" wait_http "$SECURE_URL/api/library/items" 60 5
log "servers ready after $(($(date +%s) - START)) s: local $LOCAL_URL, remote $REMOTE_URL, stremio $STREMIO_URL, secure $SECURE_URL, consumet $CONSUMET"

# ---- Playwright ----
export E2E_LOCAL_URL="$LOCAL_URL" E2E_REMOTE_URL="$REMOTE_URL" E2E_STREMIO_URL="$STREMIO_URL" E2E_CONSUMET_URL="$CONSUMET"
export E2E_SECURE_URL="$SECURE_URL" E2E_TOKEN E2E_USER E2E_PASSWORD E2E_LANGS_URL="$LANGS_URL" E2E_SEARCH_URL="$SEARCH_URL"
export E2E_HOUSEHOLD_URL="$HOUSEHOLD_URL"
export E2E_PICTURE_URL="$PICTURE_URL" E2E_PICTURE_DIR="$PICTURE" E2E_PICTURE_ORIGIN="$PICTURE_ORIGIN" \
  E2E_PICTURE_ORIGIN_LOG="$PICTURE_ORIGIN_LOG"
set +e
(cd dashboard && timeout 600 npx playwright test "$@")
STATUS=$?
set -e
log "finished in $(($(date +%s) - START)) s (status $STATUS)"
# 23-screenshots.spec.ts: the pages at 1280×800 and 390×844, linked from dashboard/README.md.
[ -d dashboard/test-results/screenshots ] && log "screenshots: $ROOT/dashboard/test-results/screenshots"
exit "$STATUS"
