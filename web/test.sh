#!/usr/bin/env bash
# Unit tests of the page (vitest, no browser, no server). Ends with one
# "N passed, N failed" line; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
if ! bash build.sh --deps; then
	echo "0 passed, 1 failed"
	exit 1
fi
json=$(mktemp)
npx --no-install vitest run --reporter=default --reporter=json --outputFile.json="$json"
rc=$?
if ! node -e '
	const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
	let failed = r.numFailedTests + (r.numRuntimeErrorTestSuites ?? 0);
	// A run that failed without a failing test (a file that does not load) still fails.
	if (process.argv[2] !== "0" && failed === 0) failed = 1;
	console.log(`${r.numPassedTests} passed, ${failed} failed`);
' "$json" "$rc" 2>/dev/null; then
	echo "0 passed, 1 failed"
	rc=1
fi
rm -f "$json"
exit "$rc"
