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
zenity pinentry-gtk2 at-spi2-core dbus dbus-x11 libatspi2.0-dev"
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
