#!/usr/bin/env bash
# Runs every test: formatting, lints, Rust unit and integration tests (real ffmpeg, a real
# redis-server started by the tests), and the dashboard's checks and tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-debian.sh test

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets --quiet -- -D warnings
echo "== cargo test"
cargo test --all-targets
# `cargo test` regenerates the dashboard's TypeScript types from the Rust DTOs (ts-rs).
if [ -n "$(git status --porcelain -- dashboard/src/lib/api/generated 2>/dev/null)" ]; then
  git status --short -- dashboard/src/lib/api/generated
  echo "the generated TypeScript types are out of date: commit dashboard/src/lib/api/generated" >&2
  exit 1
fi

if [ -f dashboard/package.json ]; then
  echo "== dashboard"
  (cd dashboard && npm ci --no-audit --no-fund && npm run check && npm test && npm run build)
fi
echo "== all tests passed"
