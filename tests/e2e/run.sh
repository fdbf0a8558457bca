#!/usr/bin/env bash
# End-to-end test of the web page in real Chromium (Debian's, driven by
# playwright-core; no browser download) against a running ticketd.
#   bash tests/e2e/run.sh               uses TICKETD_URL (default http://127.0.0.1:18080):
#                                       a ticketd with --dev-mode serving web/dist
#   bash tests/e2e/run.sh --with-stack  builds the page and starts its own Redis,
#                                       MariaDB, Kafka, paymentd and ticketd (see stack.sh),
#                                       then stops them
#   bash tests/e2e/run.sh --fake-room   builds the page and runs only room_flow.test.mjs
#                                       against its scripted stand-in server
#                                       (fake_room_server.mjs): no ticketd needed
# room_flow.test.mjs skips itself against a ticketd without the waiting room.
# categories_flow and admin_flow serve issue 17's new fields and admin routes
# with page.route fixtures (fixtures.mjs); the page itself comes from ticketd.
# Ends with one "N passed, N failed" line; exits non-zero on any failure.
# Screenshots go to tests/e2e/screenshots/.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$here/../.." && pwd)
CHROMIUM_PATH=${CHROMIUM_PATH:-/usr/bin/chromium}
export CHROMIUM_PATH

fail() {
	echo "e2e: $*" >&2
	echo "0 passed, 1 failed"
	exit 1
}

with_stack=0 fake_room=0
[[ ${1:-} == --with-stack ]] && with_stack=1
[[ ${1:-} == --fake-room ]] && fake_room=1
tests=(seat_flow.test.mjs tickets_flow.test.mjs room_flow.test.mjs waitlist_flow.test.mjs)

[[ -x $CHROMIUM_PATH ]] || fail "no browser at $CHROMIUM_PATH (Debian package chromium; infra/install.sh installs it)"
# Issue 17's page features: the picker against ticketd, the rest on fixtures.
tests+=(picker_flow.test.mjs categories_flow.test.mjs admin_flow.test.mjs)

# playwright-core, reinstalled only when package-lock.json changed.
stamp=$here/node_modules/.lock-sha256
want=$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
	(cd "$here" && npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci failed in tests/e2e"
	echo "$want" >"$stamp"
fi

if ((fake_room)); then
	bash "$ROOT/web/build.sh" || fail "the web build failed"
	export ROOM_E2E_FAKE=1
	tests=(room_flow.test.mjs)
elif ((with_stack)); then
	bash "$ROOT/web/build.sh" || fail "the web build failed"
	trap 'bash "$here/stack.sh" stop >/dev/null 2>&1' EXIT
	bash "$here/stack.sh" start || fail "could not start the stack (logs: RUN_DIR/logs/e2e, see tests/e2e/stack.sh)"
	TICKETD_URL=$(bash "$here/stack.sh" url)
	# The room test switches a room on through the admin API.
	TICKET_ADMIN_KEY_FILE=$(bash "$here/stack.sh" admin-key-file)
	export TICKET_ADMIN_KEY_FILE
fi
export TICKETD_URL=${TICKETD_URL:-http://127.0.0.1:18080}

if ((!fake_room)); then
	# The server must be ready and serving the page.
	for _ in $(seq 1 150); do
		curl -fsS "$TICKETD_URL/readyz" >/dev/null 2>&1 && break
		sleep 0.2
	done
	curl -fsS "$TICKETD_URL/readyz" >/dev/null 2>&1 || fail "ticketd at $TICKETD_URL is not ready"
	curl -fsS "$TICKETD_URL/" 2>/dev/null | grep -q '<div\|<main' ||
		fail "ticketd at $TICKETD_URL does not serve the page (build it: make web; ticketd --web-root web/dist)"
fi

rm -f "$here"/screenshots/*.png # no stale pictures from an earlier run
tap=$(mktemp)
cd "$here"
# One file at a time: both use the same ticketd and this machine's cores.
node --test --test-concurrency=1 --test-reporter=spec --test-reporter-destination=stdout \
	--test-reporter=tap --test-reporter-destination="$tap" "${tests[@]}"
rc=$?
p=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$tap" | tail -1)
f=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$tap" | tail -1)
s=$(sed -n 's/^# skipped \([0-9]*\)$/\1/p' "$tap" | tail -1)
rm -f "$tap"
if ((with_stack)); then # stop now, so the summary stays the last line
	bash "$here/stack.sh" stop >/dev/null 2>&1 || echo "e2e: stack.sh stop failed" >&2
	trap - EXIT
fi
p=${p:-0} f=${f:-0} s=${s:-0}
# A run that died before reporting counts as a failure.
if ((rc != 0 && f == 0)); then f=1; fi
echo "screenshots: $here/screenshots/"
echo "$p passed, $f failed, $s skipped"
exit $((rc != 0 || f != 0))
