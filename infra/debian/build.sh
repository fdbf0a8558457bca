#!/usr/bin/env bash
# `make deb`: the Debian package from this tree. Copies infra/debian into a
# staging folder ($BUILD/deb/ticketd-VERSION/debian: the tree keeps no
# top-level debian/) and runs dpkg-buildpackage there, binary only, unsigned;
# debian/rules builds and installs with this tree's Makefile and BUILD, so
# what is already built is reused. Prints the path of the .deb.
# Env: BUILD (build).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac

for tool in dpkg-buildpackage dpkg-shlibdeps dpkg-deb; do
	command -v "$tool" >/dev/null || { echo "deb: $tool not found (package dpkg-dev)" >&2; exit 1; }
done
version=$(dpkg-parsechangelog -l infra/debian/changelog -S Version)
arch=$(dpkg --print-architecture)
out=$BUILD/deb
stage=$out/ticketd-${version%-*}
rm -rf "$out"
mkdir -p "$stage"
cp -R infra/debian "$stage/debian"
rm -f "$stage/debian/build.sh"

echo "deb: dpkg-buildpackage -b in $stage"
log=$out/dpkg-buildpackage.log
if ! (cd "$stage" && TICKETD_TREE=$ROOT TICKETD_BUILD=$BUILD \
	dpkg-buildpackage -b -uc -us >"$log" 2>&1); then
	tail -30 "$log" >&2
	echo "deb: dpkg-buildpackage failed (log: $log)" >&2
	exit 1
fi
deb=$out/ticketd_${version}_${arch}.deb
[[ -f $deb ]] || { echo "deb: $deb was not made (log: $log)" >&2; exit 1; }
echo "deb: $deb"
