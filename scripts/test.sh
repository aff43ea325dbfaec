#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs what it needs, then runs
# formatting, lints, Rust unit and integration tests (SQLite and PostgreSQL), the
# end-to-end tests against real SIP peers, and bounded fuzz runs of the SIP parser and the CTI frames.
set -euo pipefail
cd "$(dirname "$0")/.."

# CI builds once from nothing on a machine whose disk can be small (a run ran out of space
# during clippy with ~4 GB of target): there, .ci/run sets CENTRALINO_LEAN_DISK=1, which turns
# off incremental compilation (~1 GB of caches a one-shot build never reads) and removes the
# test build once the tests are done, before the fuzz build. Locally both stay as they are.
lean=${CENTRALINO_LEAN_DISK:-0}
if [ "$lean" = 1 ]; then export CARGO_INCREMENTAL=0; fi
disk() { echo "   disk: $(df -h --output=avail . | tail -1 | tr -d ' ') free, target $(du -sh "${CARGO_TARGET_DIR:-target}" 2>/dev/null | cut -f1)"; }

need_pkgs=()
for pair in cmake:cmake sipp:sip-tester baresip:baresip tcpdump:tcpdump python3:python3 /usr/lib/postgresql/15/bin/initdb:postgresql \
    pkg-config:pkg-config xvfb-run:xvfb xauth:xauth WebKitWebDriver:webkit2gtk-driver \
    dbus-daemon:dbus-daemon dbus-monitor:dbus-bin; do
  bin=${pair%%:*}; pkg=${pair#*:}
  if ! command -v "$bin" >/dev/null 2>&1 && [ ! -x "$bin" ]; then need_pkgs+=("$pkg"); fi
done
# The desktop app (cti-desktop, Tauri 2) links WebKitGTK, GTK, the tray library, librsvg and
# libsoup, and cti-core's sound cards (cpal) link ALSA; checked by their pkg-config names.
for pair in alsa:libasound2-dev webkit2gtk-4.1:libwebkit2gtk-4.1-dev gtk+-3.0:libgtk-3-dev \
    ayatana-appindicator3-0.1:libayatana-appindicator3-dev librsvg-2.0:librsvg2-dev \
    libsoup-3.0:libsoup-3.0-dev openssl:libssl-dev; do
  mod=${pair%%:*}; pkg=${pair#*:}
  if ! pkg-config --exists "$mod" 2>/dev/null; then need_pkgs+=("$pkg"); fi
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "== installing ${need_pkgs[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

# schemathesis (PyPI) for the REST API fuzz test (tests/tests/e2e/rest_schemathesis.rs), in a
# virtualenv outside the clone; made again whenever it is missing or broken.
st_venv="${XDG_CACHE_HOME:-$HOME/.cache}/centralino/schemathesis-venv"
if ! "$st_venv/bin/schemathesis" --version >/dev/null 2>&1; then
  if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
  fi
  echo "== installing schemathesis in $st_venv"
  rm -rf "$st_venv"
  python3 -m venv "$st_venv"
  "$st_venv/bin/pip" install -q 'schemathesis>=4,<5'
fi
export CENTRALINO_SCHEMATHESIS="$st_venv/bin/schemathesis"

# tauri-driver (crates.io) for the desktop app's WebDriver test, installed outside the clone
# once (~45 s); Debian's WebKitWebDriver does the browser side.
td_root="${XDG_CACHE_HOME:-$HOME/.cache}/centralino/tauri-driver"
if ! "$td_root/bin/tauri-driver" --help >/dev/null 2>&1; then
  echo "== installing tauri-driver in $td_root"
  CARGO_TARGET_DIR="$td_root/build" cargo install tauri-driver --locked --version '^2' --root "$td_root"
  rm -rf "$td_root/build"
fi
export TAURI_DRIVER="$td_root/bin/tauri-driver"

# The web UI (ui/): Node.js and npm come with the machine; its browser test drives Debian's
# Chromium through playwright-core (no browser download).
if [ -z "${CHROMIUM:-}" ] && [ ! -x /usr/bin/chromium ]; then
  echo "== installing chromium"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

echo "== web UI: npm ci, lint, unit tests, build"
uilog=$(mktemp)
(
  cd ui
  npm ci --no-audit --no-fund
  npm run lint
  npm test 2>&1 | tee "$uilog"
  npm run build
)

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo build --workspace"
cargo build --workspace --all-targets

echo "== desktop app package (deb, from the debug build: checks the packaging)"
deb=$(scripts/package-deb.sh "${CARGO_TARGET_DIR:-target}/debug/cti-desktop" "${CARGO_TARGET_DIR:-target}/packages")
contents=$(dpkg-deb --contents "$deb")
grep -q ' ./usr/bin/cti-desktop$' <<<"$contents"
grep -q ' ./usr/share/applications/centralino.desktop$' <<<"$contents"
grep -q libwebkit2gtk-4.1-0 <<<"$(dpkg-deb --field "$deb" Depends)"
echo "built $deb"

disk
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

disk
echo "== cargo test (SQLite and PostgreSQL)"
# Parallel e2e tests each start a PBX and several SIPp processes; two cores cope with four.
log=$(mktemp)
scripts/with-postgres.sh cargo test --workspace -- --test-threads="${TEST_THREADS:-4}" 2>&1 | tee "$log"

disk
if [ "$lean" = 1 ]; then rm -rf "${CARGO_TARGET_DIR:-target}/debug"; fi

echo "== fuzz (bounded)"
scripts/fuzz.sh "${FUZZ_SECONDS:-30}"
disk

# One closing line for the whole suite (cargo's last line is often a crate with no doc tests).
passed=$(grep -Eo '^test result: .* ([0-9]+) passed' "$log" | grep -Eo '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed' "$log" | awk '{s+=$1} END {print s+0}')
rm -f "$log"
ui_passed=$(sed 's/\x1b\[[0-9;]*m//g' "$uilog" | grep -Eo 'Tests +[0-9]+ passed' | grep -Eo '[0-9]+' | tail -1)
passed=$((passed + ${ui_passed:-0}))
rm -f "$uilog"
echo "summary: $passed passed, $failed failed"
