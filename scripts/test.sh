#!/usr/bin/env bash
# Runs every test: formatting, lints, Rust unit and integration tests (real ffmpeg, a real
# redis-server started by the tests), the dashboard's checks and tests, and the browser
# end-to-end suite (scripts/e2e.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-debian.sh test

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets --quiet -- -D warnings
echo "== cargo test"
cargo test --all-targets
# `cargo test` regenerates the dashboard's TypeScript types from the Rust DTOs (ts-rs) and the
# copy of the OpenAPI document the dashboard's documentation page is tested with.
if [ -n "$(git status --porcelain -- dashboard/src/lib/api/generated 2>/dev/null)" ]; then
  git status --short -- dashboard/src/lib/api/generated
  echo "the generated TypeScript types or openapi.json are out of date: commit dashboard/src/lib/api/generated" >&2
  exit 1
fi

if [ -f dashboard/package.json ]; then
  echo "== dashboard"
  (cd dashboard && npm ci --no-audit --no-fund && npm run check && npm test && npm run build)
  # Playwright in Debian's Chromium against real `sokoul serve` instances (issue 5); artifacts
  # (screenshots, traces of failures, ttff.json) in dashboard/test-results/.
  echo "== browser end-to-end"
  scripts/e2e.sh
fi
# After the dashboard build, which the package ships.
echo "== Debian package"
DEB_PROFILE=dev scripts/test-deb.sh
echo "== all tests passed"
