#!/usr/bin/env bash
# `make web`: installs the page's dev dependencies when package-lock.json
# changed (npm ci, remembered by a stamp in node_modules), then rebuilds
# web/dist when a source is newer than it. Quick and quiet when everything
# is up to date.
#   web/build.sh          dependencies, then the build
#   web/build.sh --deps   dependencies only (what web/test.sh needs)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

stamp=node_modules/.lock-sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
	npm ci --no-audit --no-fund --loglevel=error
	echo "$want" >"$stamp"
fi
[[ ${1:-} == --deps ]] && exit 0

out=dist/index.html
if [[ -f $out ]] && [[ -z $(find src index.html package.json package-lock.json tsconfig.json vite.config.ts -newer "$out" -print -quit) ]]; then
	exit 0
fi
npm run --silent build
