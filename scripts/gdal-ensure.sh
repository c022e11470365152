#!/usr/bin/env bash
# gdal-ensure.sh makes GDAL's ogr2ogr and ogrinfo available for `make test`: citygrid reads
# Shapefiles and GeoPackages through them (package ogr), and the tests write such files with them.
#
#   scripts/gdal-ensure.sh      # installs the Debian package gdal-bin when ogr2ogr is missing
#
# Installs only when we are root and apt-get exists; otherwise it says what to install and
# fails, so that `make test` under CI=true stops (the tests that need ogr2ogr would fail anyway)
# and a developer's run goes on with those tests skipped.
set -euo pipefail

PKG=gdal-bin

say() { echo "gdal-ensure: $*" >&2; }

if command -v ogr2ogr >/dev/null 2>&1 && command -v ogrinfo >/dev/null 2>&1; then
	exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	say "installing $PKG"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null
	apt-get install -y -qq --no-install-recommends "$PKG" >/dev/null
	command -v ogr2ogr >/dev/null 2>&1 && exit 0
	say "$PKG is installed but ogr2ogr is still not in PATH"
	exit 1
fi
say "ogr2ogr is missing and we are not root: install the Debian package $PKG (apt-get install $PKG)"
exit 1
