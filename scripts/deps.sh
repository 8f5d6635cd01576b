#!/bin/sh
# Installs what usetrace needs to build, test and run its demo on Debian 12.
# Idempotent; skips apt when every package is already installed.
set -eu
PKGS="meson ninja-build pkg-config gcc
libx11-dev libxtst-dev libx11-xcb-dev libxcb1-dev libxcb-randr0-dev libxcb-xkb-dev
libxkbcommon-dev libxkbcommon-x11-dev
libxext-dev libxres-dev libxdamage-dev libxfixes-dev libwebp-dev libxxhash-dev libpng-dev
libsodium-dev libzstd-dev libjansson-dev libsqlite3-dev libmicrohttpd-dev libgnutls28-dev libcurl4-gnutls-dev gnutls-bin nginx-light libvectorscan-dev libpcre2-dev libyaml-dev
xvfb openbox xterm mousepad xdotool x11-xkb-utils x11-utils x11-xserver-utils xsettingsd
xkb-data python3 imagemagick tesseract-ocr curl openssl
zenity pinentry-gtk2 at-spi2-core dbus dbus-x11 libatspi2.0-dev
chromium"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	SUDO=""
	[ "$(id -u)" -ne 0 ] && SUDO="sudo"
	echo "installing:$missing"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi

# The web page's browser tests (tests/web): Playwright from npm, driving the
# Chromium above (never a browser Playwright downloads).  npm ci again when
# the lock file is newer than what node_modules was installed from.
# Debian's nodejs and npm only when no node is installed (a nodejs from
# elsewhere brings its own npm, which Debian's npm package would conflict with).
if ! command -v npm >/dev/null 2>&1; then
	SUDO=""
	[ "$(id -u)" -ne 0 ] && SUDO="sudo"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm
fi
WEB="$(dirname "$0")/../tests/web"
if [ -f "$WEB/package-lock.json" ] &&
    { [ ! -f "$WEB/node_modules/.package-lock.json" ] ||
      [ "$WEB/package-lock.json" -nt "$WEB/node_modules/.package-lock.json" ]; }; then
	echo "installing the web tests' npm packages"
	(cd "$WEB" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi
