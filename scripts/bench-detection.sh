#!/usr/bin/env bash
# Background jobs of the library, timed as they really run: `sokoul serve` fingerprints a
# season's episodes (intro and credits detection) or makes a film's seek thumbnails after its
# scan. Measured from /proc/<pid>/stat of the server: its own CPU (the alignment) and that of
# the ffmpeg children it waited for, both user+sys, until the job's last row in SQLite, minus
# a baseline (start-up and an unchanged rescan); "share of one core" is that CPU over the
# wall time the job's run took.
#
#   scripts/bench-detection.sh [BINARY]
#
# BINARY defaults to $CARGO_TARGET_DIR/debug/sokoul (or target/debug/sokoul). Generated media
# is cached in ${BENCH_DIR:-/tmp/sokoul-bench-detection} so a second run skips the encodes.
# Run it on an idle machine: the load average is printed with the results.
set -euo pipefail
shopt -s inherit_errexit

BIN=${1:-${CARGO_TARGET_DIR:-target}/debug/sokoul}
DIR=${BENCH_DIR:-/tmp/sokoul-bench-detection}
PORT=${BENCH_PORT:-18793}
EPISODES=10
# An episode as aired: 22 minutes, an opening after a cold open, credits at the end.
STORY=1290
TICKS=$(getconf CLK_TCK)
command -v sqlite3 >/dev/null || { echo "bench-detection: sqlite3 is needed (apt-get install sqlite3)" >&2; exit 1; }

now() { date +%s.%N; }

# --- media (generated once) ---------------------------------------------------------------
# Episodes like the tests' (library::demo::episode_args): a cold open of its own tune, the
# shared 15 s opening melody, a story of its own tune, the shared 10 s ending. 320x180 video:
# detection reads the audio only.
tune() { # duration, k: a tune of its own per k
  local f=$((150 + 41 * $2)) r=$((2 + $2 % 5)) m=$((3 + $2 % 4))
  echo "aevalsrc='0.5*sin(2*PI*t*($f+$((17 + $2))*mod(floor(t*$r),$m)))+0.2*sin(2*PI*t*$((700 + 29 * $2))*(1+0.5*mod(floor(t*$((r + 1))),2)))':s=44100:d=$1"
}
melody() { echo "aevalsrc='0.4*sin(2*PI*t*($2+55*mod(floor(t*3),7)))+0.3*sin(2*PI*t*($3+61*mod(floor(t*5),5)))':s=44100:d=$1"; }
SEASON="$DIR/season/Bench Show (2020) [tmdbid-900100]/Season 01"
mkdir -p "$SEASON"
for n in $(seq 1 $EPISODES); do
  out="$SEASON/Bench Show S01E$(printf %02d "$n").mkv"
  [ -f "$out" ] && continue
  cold=$((5 + 3 * n))
  total=$((cold + 15 + STORY + 10))
  graph="$(tune $cold $((n * 2)))[a0];$(melody 15 220 440)[a1];$(tune $STORY $((n * 2 + 1)))[a2];$(melody 10 330 587)[a3];"
  graph+="[a0][a1][a2][a3]concat=n=4:v=0:a=1[a];color=c=0x$(printf %02x $((n * 67 % 256)))4080:s=320x180:r=10:d=$total[v]"
  ffmpeg -hide_banner -nostdin -loglevel error -y -filter_complex "$graph" -map '[v]' -map '[a]' \
    -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -b:a 96k "$out.tmp.mkv"
  mv "$out.tmp.mkv" "$out"
done
# A 2-hour 1080p H.264 film with a keyframe every 10 s (x264's default -g 250 at 25 fps):
# 2 minutes encoded, then concatenated 60 times without re-encoding.
FILM="$DIR/film/Bench Film (2024) [tmdbid-900101]/Bench Film (2024).mkv"
if [ ! -f "$FILM" ]; then
  mkdir -p "$(dirname "$FILM")"
  ffmpeg -hide_banner -nostdin -loglevel error -y -f lavfi -i testsrc2=s=1920x1080:r=25:d=120 \
    -c:v libx264 -preset ultrafast -b:v 4000k -g 250 -pix_fmt yuv420p "$DIR/piece.mkv"
  for _ in $(seq 1 60); do echo "file '$DIR/piece.mkv'"; done >"$DIR/list.txt"
  ffmpeg -hide_banner -nostdin -loglevel error -y -f concat -safe 0 -i "$DIR/list.txt" -c copy "$FILM.tmp.mkv"
  mv "$FILM.tmp.mkv" "$FILM"
fi

# --- one job, timed -------------------------------------------------------------------------
# cpu <pid>: own and waited-for children's CPU seconds (utime+stime, cutime+cstime).
cpu() { awk -v t="$TICKS" '{ sub(/.*\) /, ""); printf "%.2f %.2f\n", ($12 + $13) / t, ($14 + $15) / t }' "/proc/$1/stat"; }
rows() { sqlite3 -readonly "$1/sokoul.db" "$2" 2>/dev/null || echo 0; }

# serve <data dir> <config>: starts `sokoul serve` on the library $LIB; sets PID and START.
serve() {
  printf '%s\n' "$2" >"$1/sokoul.toml"
  SOKOUL_LOG=warn SOKOUL_BIND=127.0.0.1:$PORT SOKOUL_LIBRARY="$LIB" SOKOUL_DATA_DIR="$1" \
    SOKOUL_CONFIG="$1/sokoul.toml" "$BIN" serve >>"$1/server.log" 2>&1 &
  PID=$! START=$(now)
  trap "kill $PID 2>/dev/null || true" EXIT
}
# stop: stops the server after reading its CPU into OWN and CHILDREN, and the wall time into WALL.
stop() {
  WALL=$(awk -v a="$START" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
  read -r OWN CHILDREN < <(cpu $PID)
  kill $PID; wait $PID 2>/dev/null || true
  trap - EXIT
}
# until_rows <data dir> <sql> <count>: polls SQLite (30 min at most).
until_rows() {
  for _ in $(seq 1 3600); do
    [ "$(rows "$1" "$2")" -ge "$3" ] && return 0
    sleep 0.5
  done
  echo "bench-detection: gave up waiting for $2 >= $3" >&2; return 1
}

# job <slug> <name> <library> <files> <config turning the job on> <sql of its rows> <rows>
# 1. scans with both jobs off (the scan probes and indexes keyframes: not the job's cost);
# 2. restarts the same way for 5 s: start-up and an unchanged rescan, the baseline;
# 3. restarts with the job on and stops at its last row: that minus the baseline is the job.
job() {
  local data="$DIR/data-$1" name=$2 files=$4 config=$5 sql=$6 want=$7 off=$'[library]\nthumbnails = false\ndetect_markers = false'
  LIB=$3
  rm -rf "$data"; mkdir -p "$data"
  serve "$data" "$off"; until_rows "$data" "SELECT count(*) FROM media_files" "$files"; sleep 3; stop
  serve "$data" "$off"; sleep 5; stop
  local base_own=$OWN base_children=$CHILDREN
  serve "$data" "$config"; until_rows "$data" "$sql" "$want"; stop
  awk -v n="$name" -v o="$OWN" -v c="$CHILDREN" -v bo="$base_own" -v bc="$base_children" -v w="$WALL" 'BEGIN {
    jo = o - bo; jc = c - bc
    printf "%-28s CPU %5.1f s (ffmpeg %5.1f s + sokoul %4.1f s)  wall %5.1f s  share of one core %3.0f %%   [baseline start-up + rescan: %.1f s]\n",
      n, jo + jc, jc, jo, w, 100 * (jo + jc) / w, bo + bc }'
}

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u '+%Y-%m-%d %H:%M UTC'), $BIN"
job detection "detection, $EPISODES episodes" "$DIR/season" $EPISODES $'[library]\nthumbnails = false' \
  "SELECT count(*) FROM media_markers" $EPISODES
job thumbnails "thumbnails, 2 h 1080p film" "$DIR/film" 1 $'[library]\ndetect_markers = false' \
  "SELECT count(*) FROM media_thumbnails" 1
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
