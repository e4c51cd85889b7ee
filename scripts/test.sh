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

if [ -f dashboard/package.json ]; then
  echo "== dashboard"
  (cd dashboard && npm ci --no-audit --no-fund && npm run check && npm test && npm run build)
fi
echo "== all tests passed"
