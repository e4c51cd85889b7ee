#!/usr/bin/env bash
# Sets up and starts Sokoul on a fresh Debian machine: system packages, the dashboard build,
# a demo library when ./media is empty, then `sokoul serve` on http://127.0.0.1:8080.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-debian.sh run
if [ -f dashboard/package.json ]; then
  (cd dashboard && npm ci --no-audit --no-fund && npm run build)
fi
cargo build --release --bin sokoul
media=${SOKOUL_LIBRARY:-./media}
if target/release/sokoul demo-library --help >/dev/null 2>&1 && [ ! -d "$media" -o -z "$(ls -A "$media" 2>/dev/null)" ]; then
  target/release/sokoul demo-library "$media"
fi
exec target/release/sokoul serve "$@"
