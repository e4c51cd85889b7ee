#!/usr/bin/env bash
# Fuzzes the playlist rewriter and the proxy-token verifier (fuzz/, cargo-fuzz + libFuzzer).
#
#   scripts/fuzz.sh [SECONDS]                 # each target for SECONDS (default 600), one after the other
#   TARGETS=proxy_token scripts/fuzz.sh 60    # one target
#   NO_CMIN=1 scripts/fuzz.sh                 # keep every new corpus entry (no minimisation)
#
# Not part of scripts/test.sh. One target at a time, one process each (a 2-core machine is
# shared). Inputs come from fuzz/corpus/<target> (for the rewriter, seeded with the public
# playlists of tests/fixtures/hls/public) and fuzz/seeds/<target>; new ones go to
# fuzz/corpus/<target>, which is then minimised with `cargo fuzz cmin` (commit the result).
# A crash stops the run, its input lands in fuzz/artifacts/<target>/ and the script exits 1.
# libFuzzer's final statistics of each target (executions, exec/s, coverage) are printed at
# the end and kept in $FUZZ_LOGS.
# Needs: a nightly toolchain (`rustup toolchain install nightly`) and cargo-fuzz
# (`cargo install cargo-fuzz`).
set -euo pipefail

SECONDS_EACH="${1:-600}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGETS="${TARGETS:-playlist_rewrite proxy_token}"
FUZZ_LOGS="${FUZZ_LOGS:-/tmp/sokoul-fuzz}"
# The instrumented build is its own: keep it out of the normal target directory.
FUZZ_TARGET_DIR="${FUZZ_TARGET_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}/fuzz}"

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "needs cargo-fuzz on a nightly toolchain: rustup toolchain install nightly && cargo install cargo-fuzz" >&2
    exit 1
fi
mkdir -p "$FUZZ_LOGS"
cd "$ROOT/fuzz"

summary=()
for t in $TARGETS; do
    log="$FUZZ_LOGS/$t.log"
    printf '\n== %s for %s s (log: %s)\n' "$t" "$SECONDS_EACH" "$log" >&2
    corpus_before=$(find "corpus/$t" -type f | wc -l)
    status=0
    # -timeout: an input taking 10 s is a hang worth reporting (the default is 20 minutes).
    # New inputs go to the first directory; the hand-written seeds are read, never
    # minimised away.
    dirs=("corpus/$t")
    [ -d "seeds/$t" ] && dirs+=("seeds/$t")
    cargo +nightly fuzz run "$t" --target-dir "$FUZZ_TARGET_DIR" "${dirs[@]}" -- \
        -max_total_time="$SECONDS_EACH" -timeout=10 -print_final_stats=1 >"$log" 2>&1 || status=$?
    last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
    execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}' || true)
    rate=$(grep -E '^stat::average_exec_per_sec' "$log" | awk '{print $2}' || true)
    if [ "$status" -ne 0 ]; then
        tail -40 "$log" >&2
        echo "$t: FAILED (exit $status); the crashing input is in fuzz/artifacts/$t/" >&2
        exit 1
    fi
    if [ -z "${NO_CMIN:-}" ]; then
        cargo +nightly fuzz cmin "$t" --target-dir "$FUZZ_TARGET_DIR" "corpus/$t" >"$FUZZ_LOGS/$t.cmin.log" 2>&1
    fi
    corpus_after=$(find "corpus/$t" -type f | wc -l)
    summary+=("$t: ${SECONDS_EACH} s, ${execs:-?} executions, ${rate:-?} exec/s, 0 crashes; last status: ${last}; corpus ${corpus_before} -> ${corpus_after} files")
done

printf '\n== results (%s, %s)\n' "$(date -u +%FT%TZ)" "$(rustc +nightly --version)"
printf '%s\n' "${summary[@]}"
