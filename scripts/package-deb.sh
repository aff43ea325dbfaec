#!/usr/bin/env bash
# Builds the desktop app's Debian package with dpkg-deb (no Tauri CLI needed): the binary, a
# desktop entry and the icons, depending on Debian's WebKitGTK and GTK. The bundle settings of
# cti-desktop/tauri.conf.json (deb, AppImage, MSI/NSIS, app/dmg) are for `cargo tauri build`.
#
# Usage: scripts/package-deb.sh [BINARY] [OUT_DIR]
#   BINARY   default: $CARGO_TARGET_DIR or target, /release/cti-desktop
#   OUT_DIR  default: the binary's folder /packages
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
bin="${1:-$target/release/cti-desktop}"
out="${2:-$(dirname "$bin")/packages}"
[ -x "$bin" ] || { echo "no binary at $bin: cargo build --release -p cti-desktop" >&2; exit 1; }
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
arch=$(dpkg --print-architecture)
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
install -Dm755 "$bin" "$root/usr/bin/cti-desktop"
for size in 32x32:32x32 128x128:128x128 256x256:128x128@2x 512x512:icon; do
  install -Dm644 "cti-desktop/icons/${size#*:}.png" "$root/usr/share/icons/hicolor/${size%%:*}/apps/centralino.png"
done
install -d "$root/usr/share/applications" "$root/DEBIAN"
cat > "$root/usr/share/applications/centralino.desktop" <<DESKTOP
[Desktop Entry]
Type=Application
Name=Centralino
Comment=Extensions with live lamps, calls, queues
Exec=cti-desktop
Icon=centralino
Categories=Office;Telephony;
Terminal=false
DESKTOP
size_kib=$(du -sk "$root/usr" | cut -f1)
cat > "$root/DEBIAN/control" <<CONTROL
Package: centralino-desktop
Version: $version
Architecture: $arch
Maintainer: Centralino developers
Installed-Size: $size_kib
Depends: libwebkit2gtk-4.1-0, libgtk-3-0
Section: net
Priority: optional
Description: Centralino CTI desktop app
 The desktop client of the Centralino IP-PBX: the extensions directory with live lamps,
 call control, history, services and call-center queues, a local HTTP API for other
 programs and automatic actions on calls.
CONTROL
mkdir -p "$out"
deb="$out/centralino-desktop_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
