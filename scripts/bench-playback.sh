#!/usr/bin/env bash
# Playback benchmark (issue 14): time to first frame in Chromium for each way the engine plays a
# file, seeking in a 2 h film, the engine's transcode speed, a remote MKV through the proxy, and
# beside them a plain `ffmpeg … -f hls` of the same file (the floor any server pays).
#
#   scripts/bench-playback.sh                 # RUNS=5 samples per case: 15 minutes on a busy
#                                             # 2-core machine, plus 20 once to generate the films
#   RUNS=9 SOKOUL_BIN=/path/to/sokoul scripts/bench-playback.sh
#   ONLY='HEVC 1080p|remux' scripts/bench-playback.sh   # only the Chromium cases whose name matches
#                                       # (a regex), no server-side part: a before/after of one change
#
# Every sample is cold: `sokoul serve` is restarted with an empty segment cache before it (no
# packaged segment, no cached probe, no ffmpeg of the previous sample still running), and the
# browser gets a new context. First frame = navigation start → the first
# `requestVideoFrameCallback` of the player's <video> with `mediaTime` > 0 (dashboard/tests/bench/,
# run with playwright.bench.config.ts, outside the e2e suite). Seek = setting `currentTime` to
# 80 % of the film once it plays → the first frame shown there.
# Transcode speed: the engine's 1080p HEVC → H.264 job, its video segments fetched one after the
# other as hls.js does; film seconds produced per wall second after its first segment.
# Floor: `ffmpeg -i FILE -c:v libx264 -preset ultrafast -force_key_frames … -c:a aac -f hls
# -hls_time 2`, start → its first segment in the playlist; ratio = ours / floor.
#
# BENCH_TRACE=1 prints, for every sample, each request of the page (start, first byte, end) and
# the <video> events, in ms from navigation: where the time to the first frame goes.
# Environment: BENCH_DIR (generated films, kept for the next run; default
# /tmp/sokoul-bench-playback), RUNS, SOKOUL_BIN (default target/release/sokoul, else
# target/debug/sokoul), CHROMIUM, BENCH_PORT (default 18795), BENCH_SKIP_BUILD=1 (reuse
# dashboard/build). Results: the table on stdout (scripts/bench/playback-table.py), and
# $BENCH_DIR/results.{tsv,json}; the last run's logs and raw samples in $BENCH_DIR/last-run/.
# Needs: ffmpeg (libx264, libx265, libsvtav1, libvpx, libopus), node + the dashboard's
# node_modules, Debian's chromium, curl, python3.
set -euo pipefail
shopt -s inherit_errexit
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
DIR=${BENCH_DIR:-/tmp/sokoul-bench-playback}
RUNS=${RUNS:-5}
PORT=${BENCH_PORT:-18795}
URL=http://127.0.0.1:$PORT
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
if [ -z "${SOKOUL_BIN:-}" ]; then
  SOKOUL_BIN="$TARGET/release/sokoul"
  [ -x "$SOKOUL_BIN" ] || SOKOUL_BIN="$TARGET/debug/sokoul"
fi
# The engine's x264 preset: `library.transcode_preset`'s default (sokoul.example.toml).
PRESET=ultrafast
REFERER="https://embed.example/e/1"
[ -x "$SOKOUL_BIN" ] || { echo "bench-playback: build sokoul first (cargo build --release)" >&2; exit 1; }
# Absolute (the browser side restarts the server from dashboard/), and not passed on to sokoul,
# which warns about SOKOUL_* variables it does not know.
SOKOUL_BIN=$(realpath "$SOKOUL_BIN")
export -n SOKOUL_BIN
if [ -z "${CHROMIUM:-}" ]; then
  for c in /usr/lib/chromium/chromium /usr/bin/chromium; do [ -x "$c" ] && CHROMIUM=$c && break; done
fi
[ -n "${CHROMIUM:-}" ] || { echo "bench-playback: chromium not found" >&2; exit 1; }
export CHROMIUM

log() { echo "== bench-playback: $*" >&2; }
now() { date +%s.%N; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (b - a) * 1000 }'; }

# ---- Films (generated once): a moving picture with grain, so encoders work as on a film ----
LIB="$DIR/library"
film() { echo "$LIB/Bench $1 (2024) [tmdbid-$2]/Bench $1 (2024).$3"; }
DP=$(film "Direct Play" 910001 mp4)
AV1=$(film "AV1 Opus" 910002 mkv)
VP9=$(film "VP9 Opus" 910003 mkv)
AC3=$(film "H264 AC3" 910004 mkv)
HEVC1080=$(film "HEVC 1080p" 910005 mkv)
HEVC4K=$(film "HEVC 4K" 910006 mkv)
LONG_REMUX=$(film "Long Remux" 910007 mkv)
LONG_HEVC=$(film "Long HEVC" 910008 mkv)
AV1_MULTI=$(film "AV1 Opus Multi" 910009 mkv)
H264_MKV=$(film "H264 AAC MKV" 910010 mkv)
H264_MULTI=$(film "H264 AAC Multi" 910011 mkv)
LONG_REMUX_MULTI=$(film "Long Remux Multi" 910012 mkv)
# gen OUT VIDEO_FILTER SECONDS ARGS…: encodes lavfi VIDEO_FILTER + a tone into OUT unless it exists.
gen() {
  local out=$1 src=$2 secs=$3 t
  shift 3
  [ -f "$out" ] && return 0
  mkdir -p "$(dirname "$out")"
  t=$(now)
  SVT_LOG=1 ffmpeg -hide_banner -nostdin -loglevel error -y -f lavfi -i "$src" \
    -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=$secs" -shortest "$@" "${out%.*}.tmp.${out##*.}"
  mv "${out%.*}.tmp.${out##*.}" "$out"
  log "generated $(basename "$out") in $(ms "$t" "$(now)") ms"
}
grain() { echo "testsrc2=size=$1:rate=$2:duration=$3,noise=alls=10:allf=t"; }
X265=(-c:v libx265 -preset ultrafast -pix_fmt yuv420p)
# H.264 at 8 Mb/s at most, as a 1080p web release (grain left uncapped makes 40 Mb/s).
H264=(-c:v libx264 -preset veryfast -profile:v high -pix_fmt yuv420p -g 48 -maxrate 8M -bufsize 16M)
gen "$DP" "$(grain 1920x1080 24 30)" 30 "${H264[@]}" -c:a aac -b:a 160k -movflags +faststart
gen "$AV1" "$(grain 1280x720 24 30)" 30 -c:v libsvtav1 -preset 12 -g 48 -pix_fmt yuv420p -c:a libopus -b:a 128k
gen "$VP9" "$(grain 1280x720 24 30)" 30 -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -b:v 2M -g 48 \
  -c:a libopus -b:a 128k
gen "$AC3" "$(grain 1920x1080 24 30)" 30 "${H264[@]}" -c:a ac3 -ac 6 -b:a 448k
gen "$HEVC1080" "$(grain 1920x1080 24 30)" 30 "${X265[@]}" -x265-params log-level=error:keyint=48 \
  -c:a ac3 -ac 6 -b:a 448k
gen "$HEVC4K" "$(grain 3840x2160 24 10)" 10 "${X265[@]}" -x265-params log-level=error:keyint=48 \
  -c:a ac3 -ac 6 -b:a 448k
# Made from the films above by stream copy: the direct-play film's H.264/AAC in Matroska (played
# as it is by a browser with a Matroska demuxer, Chromium's), and two films for direct stream
# (remuxed to HLS, nothing re-encoded): the AV1 film and the H.264 MKV, each with a second
# audio track (a <video> plays one, so the file is not played as it is).
remux_film() { # OUT IN FFMPEG_ARGS…
  local out=$1 in=$2
  shift 2
  [ -f "$out" ] && return 0
  mkdir -p "$(dirname "$out")"
  ffmpeg -hide_banner -nostdin -loglevel error -y -i "$in" "$@" -c copy "${out%.*}.tmp.${out##*.}"
  mv "${out%.*}.tmp.${out##*.}" "$out"
}
remux_film "$AV1_MULTI" "$AV1" -map 0:v -map 0:a -map 0:a -metadata:s:a:0 language=fre -metadata:s:a:1 language=eng
remux_film "$H264_MKV" "$DP" -map 0:v -map 0:a
remux_film "$H264_MULTI" "$DP" -map 0:v -map 0:a -map 0:a -metadata:s:a:0 language=fre -metadata:s:a:1 language=eng
# The 2 h films: small and at a low frame rate, so that they encode in a minute or two; the
# targets are about seeking in a long file (a Matroska cue lookup, a job restarted there).
gen "$LONG_REMUX" "$(grain 320x180 5 7200)" 7200 -c:v libx264 -preset ultrafast -g 10 -pix_fmt yuv420p \
  -c:a aac -b:a 64k
gen "$LONG_HEVC" "$(grain 320x180 2 7200)" 7200 "${X265[@]}" -x265-params log-level=error:keyint=4 \
  -c:a ac3 -b:a 192k -ac 2
# The 2 h H.264/AAC film plays as it is in Chromium (a seek is one Range request); with a second
# audio track it is remuxed, which is the seek the remux target is about.
remux_film "$LONG_REMUX_MULTI" "$LONG_REMUX" -map 0:v -map 0:a -map 0:a -metadata:s:a:0 language=fre \
  -metadata:s:a:1 language=eng

# ---- Dashboard ----
if [ "${BENCH_SKIP_BUILD:-}" != 1 ] || [ ! -f dashboard/build/index.html ]; then
  log "dashboard build"
  (
    cd dashboard
    # As scripts/e2e.sh: dependencies again when the lock file changed since the last install.
    if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
      npm ci --no-audit --no-fund
    fi
    out=$(npm run build 2>&1) || { echo "$out" >&2; exit 1; }
  )
fi
[ -d tests/stremio-addon/node_modules ] || (cd tests/stremio-addon && npm ci --no-audit --no-fund)

# ---- Processes: started here, always stopped ----
WORK="$(mktemp -d "${TMPDIR:-/tmp}/sokoul-bench-playback.XXXXXX")"
DATA="$DIR/data"
PIDS=()
# The server and its ffmpeg children (by parent id), then everything else started here.
stop_sokoul() {
  local pid
  pid=$(cat "$WORK/sokoul.pid" 2>/dev/null) || return 0
  for child in $(pgrep -P "$pid" || true); do kill "$child" 2>/dev/null || true; done
  kill "$pid" 2>/dev/null || true
  # Until it is gone or a zombie (its parent, a finished reset, left it to a subreaper).
  while [ -e "/proc/$pid" ] && [ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" != Z ]; do sleep 0.05; done
  rm -f "$WORK/sokoul.pid"
}
cleanup() {
  local rc=$?
  exec 9>&- 2>/dev/null || true # closes the addon's stdin: it exits by itself
  stop_sokoul
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ "$rc" = 0 ] || { for f in "$WORK"/*.log; do echo "---- tail of $f"; tail -n 30 "$f"; done; } >&2
  # The logs of the last run stay for whoever profiles it.
  rm -rf "$DIR/last-run" && mkdir -p "$DIR/last-run" && cp "$WORK"/*.log "$WORK"/*.tsv "$WORK"/*.json "$DIR/last-run/" 2>/dev/null || true
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
(echo >"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && { echo "port $PORT is in use (BENCH_PORT)" >&2; exit 1; }

# The remote film: the H.264 + AC-3 MKV on the e2e suite's Referer-checking origin with Range
# (its log: one JSON line per request), listed by the real stremio-addon-sdk addon
# (tests/stremio-addon) as a `notWebReady` `url` stream for tmdb:550 (`/films/film.mkv`).
mkdir -p "$WORK/origin"
ln -s "$AC3" "$WORK/origin/film.mkv"
: >"$WORK/origin.log"
DIR="$WORK/origin" REFERER="$REFERER" LOG="$WORK/origin.log" node dashboard/tests/e2e/support/range-origin.mjs \
  >"$WORK/origin.url" 2>"$WORK/origin.err.log" &
PIDS+=($!)
mkfifo "$WORK/addon.in"
for _ in $(seq 1 100); do [ -s "$WORK/origin.url" ] && break; sleep 0.1; done
ORIGIN=$(cat "$WORK/origin.url")
(cd tests/stremio-addon &&
  exec env ORIGIN="$ORIGIN" MEDIA_ORIGIN="$ORIGIN" REFERER="$REFERER" TOKEN=bench \
    node addon.js <"$WORK/addon.in" >"$WORK/addon.out" 2>"$WORK/addon.log") &
PIDS+=($!)
exec 9>"$WORK/addon.in"
for _ in $(seq 1 100); do [ -s "$WORK/addon.out" ] && break; sleep 0.2; done
ADDON=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).tmdb)' "$WORK/addon.out")

# One `sokoul serve` with the library and the addon; $WORK/reset restarts it cold.
cat >"$WORK/reset" <<EOF
#!/usr/bin/env bash
set -euo pipefail
$(declare -f stop_sokoul)
WORK="$WORK"
stop_sokoul
rm -rf "$DATA/hls-cache"
env SOKOUL_BIND=127.0.0.1:$PORT SOKOUL_DATA_DIR="$DATA" SOKOUL_LIBRARY="$LIB" SOKOUL_SECRET="bench secret, loopback only" \\
  SOKOUL_DASHBOARD_DIR="$ROOT/dashboard/build" SOKOUL_STREMIO_ADDONS="$ADDON/manifest.json" \\
  SOKOUL_PROXY_ALLOW=127.0.0.1 SOKOUL_LOG=\${SOKOUL_LOG:-warn} "$SOKOUL_BIN" serve >>"$WORK/sokoul.log" 2>&1 &
echo \$! >"$WORK/sokoul.pid"
node "$ROOT/dashboard/tests/e2e/support/wait-http.mjs" "$URL/api/library/items" 120 8
# Background work after a start (the scan's ffprobe, seek thumbnails of new files) would compete
# with what is measured: wait until the server has run no child process for a second.
idle=0
for _ in \$(seq 1 12000); do
  if pgrep -P "\$(cat "$WORK/sokoul.pid")" >/dev/null; then idle=0; else idle=\$((idle + 1)); fi
  [ "\$idle" -ge 20 ] && break
  sleep 0.05
done
EOF
chmod +x "$WORK/reset"
"$WORK/reset"
log "server $URL ($SOKOUL_BIN), origin $ORIGIN, addon $ADDON"

# ---- Server side: first segment, the floor, transcode speed ----
RESULTS="$WORK/server.tsv"
: >"$RESULTS"
record() { printf '%s\t%s\n' "$1" "$2" >>"$RESULTS"; }

# hls_media MASTER_URL: the video playlist's URL, then the first audio rendition's (absolute).
hls_media() {
  curl -sf "$1" | python3 -c '
import re, sys, urllib.parse
base, lines = sys.argv[1], sys.stdin.read().splitlines()
video = next(lines[i + 1] for i, l in enumerate(lines) if l.startswith("#EXT-X-STREAM-INF"))
audio = [m.group(1) for l in lines if l.startswith("#EXT-X-MEDIA:TYPE=AUDIO") for m in [re.search(r"URI=\"([^\"]+)\"", l)] if m]
print(urllib.parse.urljoin(base, video))
if audio: print(urllib.parse.urljoin(base, audio[0]))' "$1"
}
# segments PLAYLIST_URL: its init segment (if any) then every segment, absolute, with their end times.
segments() {
  curl -sf "$1" | python3 -c '
import re, sys, urllib.parse
base, end = sys.argv[1], 0.0
for l in sys.stdin.read().splitlines():
    m = re.match(r"#EXT-X-MAP:URI=\"([^\"]+)\"", l)
    if m: print(urllib.parse.urljoin(base, m.group(1)), 0)
    elif l.startswith("#EXTINF:"): end += float(l[8:].split(",")[0])
    elif l and not l.startswith("#"): print(urllib.parse.urljoin(base, l), round(end, 3))' "$1"
}
master_of() { # TMDB_ID → the engine's master playlist URL from the library's resolve answer
  curl -sf "$URL/api/streaming/library/movie/$1" | python3 -c '
import json, sys
s = json.load(sys.stdin)["sources"][0]
print(sys.argv[1] + (s.get("proxy_url") or s["url"]))' "$URL"
}
# first_segment TMDB_ID: ms from the resolve to the first video and audio segments (with their
# init segments), fetched in parallel as hls.js does.
first_segment() {
  local t master pl urls=() pids=()
  t=$(now)
  master=$(master_of "$1")
  for pl in $(hls_media "$master"); do
    urls+=($(segments "$pl" | awk 'NR == 1 && $2 == 0 { print $1; next } { print $1; exit }'))
  done
  for u in "${urls[@]}"; do curl -sf -o /dev/null "$u" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p" || { echo "segment failed" >&2; exit 1; }; done
  ms "$t" "$(now)"
}
# floor FILE [FILTER]: ms from starting a plain ffmpeg HLS transcode to its first segment in its
# playlist. Keyframes every 2 s (x264's default GOP of 250 frames would make the first segment
# 10 s long), and the engine's 2 s first segment; FILTER: the engine's scaling of a 4K picture.
floor() {
  python3 - "$1" "$PRESET" "$WORK/floor" "${2:-null}" <<'EOF'
import os, shutil, subprocess, sys, time
src, preset, out, vf = sys.argv[1:]
shutil.rmtree(out, ignore_errors=True); os.makedirs(out)
t = time.monotonic()
p = subprocess.Popen(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-i", src, "-map", "0:v:0", "-map", "0:a:0",
    "-vf", vf, "-c:v", "libx264", "-preset", preset, "-force_key_frames", "expr:gte(t,n_forced*2)", "-c:a", "aac",
    "-f", "hls", "-hls_time", "2", "-hls_flags", "temp_file", "-hls_segment_filename", f"{out}/%d.ts", f"{out}/index.m3u8"])
pl = f"{out}/index.m3u8"
while not (os.path.exists(pl) and ".ts" in open(pl).read()):
    if p.poll() is not None: sys.exit("ffmpeg ended without a segment")
    time.sleep(0.005)
print(round((time.monotonic() - t) * 1000))
p.kill(); p.wait()
EOF
}
# speed: the engine's 1080p HEVC → H.264 job, film seconds per wall second after its first segment.
speed() {
  local master video t0 t1 first_end last_end n=0
  master=$(master_of 910005)
  video=$(hls_media "$master" | sed -n 1p) # not head: Python would write into a closed pipe
  while read -r seg end; do
    curl -sf -o /dev/null "$seg" || { echo "speed: $seg failed" >&2; return 1; }
    [ "$end" = 0 ] && continue
    n=$((n + 1))
    if [ "$n" = 1 ]; then t0=$(now); first_end=$end; fi
    t1=$(now); last_end=$end
  done < <(segments "$video")
  awk -v a="$t0" -v b="$t1" -v f="$first_end" -v l="$last_end" 'BEGIN { printf "%.2f", (l - f) / (b - a) }'
}

log "server side: first segment, floor, transcode speed ($RUNS runs each)"
for run in $(seq 1 "$([ -n "${ONLY:-}" ] && echo 0 || echo "$RUNS")"); do
  for id in 910005 910006; do
    "$WORK/reset"
    record "first_segment_$id" "$(first_segment $id)"
  done
  record "floor_910005" "$(floor "$HEVC1080")"
  record "floor_910006" "$(floor "$HEVC4K" scale=-2:1080)"
  "$WORK/reset"
  record "speed_910005" "$(speed || echo "speed: no measurement in run $run" >&2)"
done

# ---- Chromium: first frame, seek ----
cat >"$WORK/cases.json" <<'EOF'
[
  { "name": "direct play: MP4 H.264/AAC 1080p", "tmdb": 910001 },
  { "name": "direct play: MKV AV1/Opus 720p", "tmdb": 910002 },
  { "name": "direct play: MKV VP9/Opus 720p", "tmdb": 910003 },
  { "name": "direct play: MKV H.264/AAC 1080p", "tmdb": 910010 },
  { "name": "direct stream: MKV AV1/Opus 720p, 2 audio tracks", "tmdb": 910009 },
  { "name": "direct stream: MKV H.264/AAC 1080p, 2 audio tracks", "tmdb": 910011 },
  { "name": "remux + audio: MKV H.264/AC-3 5.1 1080p", "tmdb": 910004 },
  { "name": "transcode: MKV HEVC 1080p", "tmdb": 910005 },
  { "name": "transcode: MKV HEVC 4K", "tmdb": 910006 },
  { "name": "seek 80 %: 2 h MKV H.264/AAC (direct play)", "tmdb": 910007, "seek": 0.8 },
  { "name": "seek 80 %: 2 h MKV H.264/AAC, 2 audio tracks (remux)", "tmdb": 910012, "seek": 0.8 },
  { "name": "seek 80 %: 2 h MKV HEVC/AC-3 (transcode)", "tmdb": 910008, "seek": 0.8 },
  { "name": "remote MKV H.264/AC-3 via addon + proxy", "tmdb": 550 }
]
EOF
if [ -n "${ONLY:-}" ]; then
  python3 -c 'import json, re, sys; p = sys.argv[1]; json.dump([c for c in json.load(open(p)) if re.search(sys.argv[2], c["name"])], open(p + ".new", "w"))' \
    "$WORK/cases.json" "$ONLY"
  mv "$WORK/cases.json.new" "$WORK/cases.json"
fi
log "Chromium: $RUNS cold samples per case"
(cd dashboard && BENCH_URL="$URL" BENCH_CASES="$WORK/cases.json" BENCH_RUNS="$RUNS" BENCH_RESET="$WORK/reset" \
  BENCH_OUT="$WORK/browser.json" timeout 3000 npx playwright test --config playwright.bench.config.ts)
# The origin saw only our proxy, with Range requests.
ORIGIN_REQS=$(wc -l <"$WORK/origin.log")
ORIGIN_NO_RANGE=$(grep -c '"range":null' "$WORK/origin.log" || true)

# ---- Table ----
if [ -n "${ONLY:-}" ]; then
  python3 -c 'import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    xs = sorted(x["seek"] if x["seek"] is not None else x["frame"] for x in r["samples"])
    print(f"{r['"'"'name'"'"']}: median {xs[len(xs) // 2]:.0f} ms, samples {[round(x) for x in xs]}")' "$WORK/browser.json"
  exit 0
fi
python3 scripts/bench/playback-table.py "$WORK/browser.json" "$RESULTS" "$DIR" "$ORIGIN_REQS" "$ORIGIN_NO_RANGE" "$SOKOUL_BIN"
