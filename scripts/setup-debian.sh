#!/usr/bin/env bash
# Installs the Debian packages Sokoul and its tests need, skipping what is already there.
# Usage: scripts/setup-debian.sh [run|test]
set -euo pipefail
mode=${1:-run}
packages=(ffmpeg)
if [ "$mode" = test ]; then
  # dvdauthor: its spumux makes the DVD (image) subtitle fixture of the playback tests.
  packages+=(redis-server chromium dvdauthor)
  # tinyproxy, microsocks: the real forward proxies of the outbound-proxy tests (issue 18).
  packages+=(tinyproxy microsocks)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  echo "installing: ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)" >&2; exit 1; }
