#!/usr/bin/env bash
# Local-library benchmark: play request → first HLS segment (remux and transcode), the same
# after a seek to 1:30:00, the scan rate for 1,000 files, and an unchanged rescan.
#
#   scripts/bench-library.sh [BINARY]
#
# BINARY defaults to $CARGO_TARGET_DIR/debug/sokoul (or target/debug/sokoul). Generated media
# is cached in ${BENCH_DIR:-/tmp/sokoul-bench} so a second run skips the encodes.
set -euo pipefail
shopt -s inherit_errexit

BIN=${1:-${CARGO_TARGET_DIR:-target}/debug/sokoul}
DIR=${BENCH_DIR:-/tmp/sokoul-bench}
PORT=${BENCH_PORT:-18791}
H=http://127.0.0.1:$PORT
mkdir -p "$DIR/media/movies" "$DIR/scan1000"

now() { date +%s.%N; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (b - a) * 1000 }'; }

# --- media (generated once) ---------------------------------------------------------------
# 2 hours, 320x180, low frame rate so the encode takes about a minute on 2 cores; keyframes
# every 2 s like a typical film.
H264="$DIR/media/movies/Remux Bench (2024) [tmdbid-900001]/Remux Bench (2024).mkv"
HEVC="$DIR/media/movies/Transcode Bench (2024) [tmdbid-900002]/Transcode Bench (2024).mkv"
HEVC1080="$DIR/media/movies/Transcode 1080p Bench (2024) [tmdbid-900003]/Transcode 1080p Bench (2024).mkv"
if [ ! -f "$H264" ]; then
  mkdir -p "$(dirname "$H264")"; t=$(now)
  ffmpeg -v error -y -f lavfi -i testsrc2=size=320x180:rate=5:duration=7200 \
    -f lavfi -i sine=frequency=440:sample_rate=48000:duration=7200 \
    -c:v libx264 -preset ultrafast -g 10 -pix_fmt yuv420p -c:a aac -b:a 64k "$H264.tmp.mkv"
  mv "$H264.tmp.mkv" "$H264"; echo "generated 2 h H.264/AAC in $(ms "$t" "$(now)") ms"
fi
if [ ! -f "$HEVC" ]; then
  mkdir -p "$(dirname "$HEVC")"; t=$(now)
  ffmpeg -v error -y -f lavfi -i testsrc2=size=320x180:rate=2:duration=7200 \
    -f lavfi -i sine=frequency=440:sample_rate=48000:duration=7200 \
    -c:v libx265 -preset ultrafast -x265-params log-level=error:keyint=4 -pix_fmt yuv420p \
    -c:a ac3 -b:a 192k -ac 2 "$HEVC.tmp.mkv"
  mv "$HEVC.tmp.mkv" "$HEVC"; echo "generated 2 h HEVC/AC-3 in $(ms "$t" "$(now)") ms"
fi
if [ ! -f "$HEVC1080" ]; then
  # A realistic resolution, short: only the first segment is measured on it.
  mkdir -p "$(dirname "$HEVC1080")"; t=$(now)
  ffmpeg -v error -y -f lavfi -i testsrc2=size=1920x1080:rate=24:duration=20 \
    -f lavfi -i sine=frequency=440:sample_rate=48000:duration=20 \
    -c:v libx265 -preset ultrafast -x265-params log-level=error:keyint=48 -pix_fmt yuv420p \
    -c:a ac3 -b:a 384k -ac 2 "$HEVC1080.tmp.mkv"
  mv "$HEVC1080.tmp.mkv" "$HEVC1080"; echo "generated 20 s 1080p HEVC/AC-3 in $(ms "$t" "$(now)") ms"
fi
# 1,000 files: hard links of one 12 s clip, each in its own titled folder.
SMALL="$DIR/small.mkv"
if [ ! -f "$SMALL" ]; then
  ffmpeg -v error -y -f lavfi -i testsrc2=size=320x180:rate=25:duration=12 \
    -f lavfi -i sine=frequency=440:sample_rate=48000:duration=12 \
    -c:v libx264 -preset ultrafast -g 50 -pix_fmt yuv420p -c:a aac "$SMALL"
fi
if [ ! -d "$DIR/scan1000/Film 1000 (2000) [tmdbid-1000]" ]; then
  for i in $(seq 1 1000); do
    d="$DIR/scan1000/Film $i (2000) [tmdbid-$i]"; mkdir -p "$d"; ln -f "$SMALL" "$d/Film $i (2000).mkv"
  done
fi

if [ -z "${BENCH_SKIP_SCAN:-}" ]; then
# --- scan rate ------------------------------------------------------------------------------
rm -rf "$DIR/data-scan"
scan() { SOKOUL_LOG=warn SOKOUL_LIBRARY="$DIR/scan1000" SOKOUL_DATA_DIR="$DIR/data-scan" "$BIN" scan; }
first=$(scan | awk -F': ' '/"elapsed_ms"/ { gsub(/,/, "", $2); print $2 }')
t=$(now); again=$(scan); wall=$(ms "$t" "$(now)")
again_ms=$(echo "$again" | awk -F': ' '/"elapsed_ms"/ { gsub(/,/, "", $2); print $2 }')
echo "scan of 1000 files: ${first} ms ($(awk -v m="$first" 'BEGIN { printf "%.0f", 1000000 / m }') files/s)"
echo "unchanged rescan of 1000 files: ${again_ms} ms in the scanner, ${wall} ms for the whole 'sokoul scan' process"

fi

# --- playback -------------------------------------------------------------------------------
rm -rf "$DIR/data-play"
SOKOUL_LOG=warn SOKOUL_BIND=127.0.0.1:$PORT SOKOUL_LIBRARY="$DIR/media" SOKOUL_DATA_DIR="$DIR/data-play" "$BIN" serve &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -sf "$H/healthz" >/dev/null && break; sleep 0.1; done
curl -sf -X POST "$H/api/library/scan" >/dev/null

# The index of the segment containing second $2 of playlist $1 (cumulative EXTINF).
segment_at() {
  curl -sf "$1" | awk -v t="$2" -F'[:,]' '/^#EXTINF/ { if (sum + $2 > t) { print n + 0; exit } sum += $2; n++ }'
}

# Play request → first segment: the resolve, the master playlist, then the video and audio
# playlists and their first segments fetched in parallel, as hls.js does.
play() { # $1 tmdb id, $2 seek seconds (0 = start); prints ms
  local id=$1 at=$2 t master base vi ai
  t=$(now)
  master=$(curl -sf "$H/api/streaming/library/movie/$id" | sed -E 's/.*"url":"([^"]*master.m3u8)".*/\1/')
  curl -sf "$H$master" >/dev/null
  base="$H${master%/master.m3u8}"
  vi=$(segment_at "$base/v/index.m3u8" "$at"); ai=$(segment_at "$base/a0/index.m3u8" "$at")
  [ -n "$vi" ] && [ -n "$ai" ] || { echo "no segment at $at s" >&2; exit 1; }
  curl -sf -o /dev/null "$base/v/$vi.ts" & local p1=$!
  curl -sf -o /dev/null "$base/a0/$ai.ts" & local p2=$!
  wait $p1 || { echo "video segment $vi failed" >&2; exit 1; }
  wait $p2 || { echo "audio segment $ai failed" >&2; exit 1; }
  ms "$t" "$(now)"
}

echo "remux (2 h H.264/AAC, 320x180): first segment $(play 900001 0) ms; after a seek to 1:30:00 $(play 900001 5400) ms"
echo "transcode (2 h HEVC/AC-3, 320x180): first segment $(play 900002 0) ms; after a seek to 1:30:00 $(play 900002 5400) ms"
echo "transcode (20 s HEVC/AC-3, 1920x1080): first segment $(play 900003 0) ms; after a seek to 0:00:12 $(play 900003 12) ms"
