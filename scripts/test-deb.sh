#!/usr/bin/env bash
# Builds the Debian package, installs it on this machine, runs the installed binary (`--version`,
# `doctor --json` as the sokoul user with the packaged config), verifies the systemd unit, then
# purges the package and checks that its files, data and user are gone.
#
# It installs a package system-wide (that is its job in CI): it refuses to run when a sokoul
# package or a sokoul user is already there, so it never purges somebody's real install.
# Needs root or sudo. Usage: scripts/test-deb.sh [already-built.deb]
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo

if dpkg -s sokoul >/dev/null 2>&1 || getent passwd sokoul >/dev/null; then
  echo "test-deb: a sokoul package or user already exists on this machine; not touching it" >&2
  exit 1
fi

version=$(cargo metadata --no-deps --format-version 1 |
  python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"]=="sokoul"))')
deb=${1:-target/debian/sokoul_${version}_amd64.deb}
if [ $# -eq 0 ]; then
  # The version is pinned so CI builds the same packaging tool every time; installing it takes
  # about 50 s on 2 cores (measured), once per machine.
  CARGO_DEB_VERSION=3.8.0
  if ! cargo deb --version >/dev/null 2>&1; then
    echo "== cargo install cargo-deb $CARGO_DEB_VERSION"
    time cargo install cargo-deb --version "$CARGO_DEB_VERSION" --locked
  fi

  if [ ! -f dashboard/build/index.html ]; then
    echo "== dashboard build"
    (cd dashboard && npm ci --no-audit --no-fund && npm run build)
  fi

  # --strip: the release profile keeps line tables (backtraces), which make the binary 110 MB;
  # stripped it is 18 MB (a 5.4 MB package). scripts/test.sh packages the dev build its tests
  # already made (DEB_PROFILE=dev): what this script checks is the packaging, and a
  # release build would add about 10 minutes of CI on 2 cores.
  profile=${DEB_PROFILE:-release}
  echo "== cargo deb (profile $profile)"
  cargo deb --locked --strip --profile "$profile"
  [ -f "$deb" ] || { echo "test-deb: $deb was not built" >&2; ls target/debian >&2; exit 1; }
fi
deb=$(realpath "$deb")
dpkg-deb --info "$deb" | sed -n '/Package:/,$p'

purge() { $SUDO env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq sokoul >/dev/null 2>&1 || true; }
trap purge EXIT

echo "== install $deb"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb" >/dev/null
for f in /usr/bin/sokoul /etc/sokoul/sokoul.toml /usr/lib/systemd/system/sokoul.service \
  /usr/share/sokoul/dashboard/index.html; do
  [ -e "$f" ] || { echo "test-deb: $f is not installed" >&2; exit 1; }
done
dpkg-query --control-show sokoul conffiles | grep -qx '/etc/sokoul/sokoul.toml' ||
  { echo "test-deb: /etc/sokoul/sokoul.toml is not a conffile" >&2; exit 1; }
[ "$(stat -c '%U:%G %a' /var/lib/sokoul)" = "sokoul:sokoul 750" ] ||
  { echo "test-deb: /var/lib/sokoul is $(stat -c '%U:%G %a' /var/lib/sokoul)" >&2; exit 1; }

echo "== /usr/bin/sokoul --version"
/usr/bin/sokoul --version | grep -qx "sokoul $version"

echo "== sokoul doctor --json (as sokoul, packaged config)"
# The default library folder is empty on a fresh install: a warning, not a failure.
set +e
report=$($SUDO runuser -u sokoul -- /usr/bin/sokoul --config /etc/sokoul/sokoul.toml doctor --json)
status=$?
set -e
echo "$report" | python3 -c '
import json, sys
r = json.load(sys.stdin)
for c in r["checks"]:
    print("  %-4s %s: %s" % (c["status"], c["id"], c["message"]))
assert isinstance(r["ok"], bool)
'
[ "$status" = 0 ] || { echo "test-deb: doctor failed with the packaged config (exit $status)" >&2; exit 1; }

echo "== systemd-analyze verify"
if command -v systemd-analyze >/dev/null; then
  # Verifying loads the unit's ExecStart binary and user: both exist now.
  $SUDO systemd-analyze verify /usr/lib/systemd/system/sokoul.service
  echo "  unit verified; exposure score (lower is safer):"
  $SUDO systemd-analyze security --offline=true /usr/lib/systemd/system/sokoul.service 2>/dev/null |
    tail -1 || echo "  (this systemd cannot score a unit offline)"
else
  echo "  systemd-analyze is not available here: skipped"
fi

echo "== purge"
trap - EXIT
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq sokoul >/dev/null
left=()
for f in /usr/bin/sokoul /etc/sokoul /usr/lib/systemd/system/sokoul.service /usr/share/sokoul \
  /var/lib/sokoul; do
  [ -e "$f" ] && left+=("$f")
done
getent passwd sokoul >/dev/null && left+=("user sokoul")
getent group sokoul >/dev/null && left+=("group sokoul")
dpkg -s sokoul >/dev/null 2>&1 && left+=("package sokoul")
if [ ${#left[@]} -gt 0 ]; then
  echo "test-deb: left behind after purge: ${left[*]}" >&2
  exit 1
fi
echo "== the package builds, installs, runs and purges cleanly"
