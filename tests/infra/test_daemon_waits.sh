#!/usr/bin/env bash
# tests/infra/test_daemon_waits.sh: infra/lib/daemon.sh's bounded wait tells
# a daemon that is still being launched (its pid is the forked shell, then
# setsid, then nohup) from one that exited. A first check that lands before
# the last exec once failed `kafka.sh start` on a loaded CI machine with "the
# broker exited during start". Ends with "N passed, N failed"; ~3 s.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RUN_DIR=$(mktemp -d)
trap 'rm -rf "$RUN_DIR"' EXIT
export RUN_DIR
SVC=waits
# shellcheck source=../../infra/lib/daemon.sh
source "$ROOT/infra/lib/daemon.sh"

passed=0 failed=0
check() { # name expected actual
	if [[ $2 == "$3" ]]; then passed=$((passed + 1)); printf 'ok   %s\n' "$1"
	else failed=$((failed + 1)); printf 'FAIL %s (expected %s, got %s)\n' "$1" "$2" "$3"; fi
}
never() { return 1; }
flag_set() { [[ -e $RUN_DIR/flag ]]; }

# The launcher chain stays a shell for 0.4 s, then setsid, nohup, sleep.
# (wait_until's limit counts whole seconds of $SECONDS: 2 waits 1-2 s.)
( sleep 0.4; exec setsid nohup sleep 5 ) </dev/null >/dev/null 2>&1 &
pid=$!
rc=0; WAIT_PID=$pid WAIT_COMM=sleep wait_until 2 never || rc=$?
check "a daemon still in its launcher is not taken for an exit" 1 "$rc"
for _ in {1..30}; do pid_is "$pid" sleep && break; sleep 0.1; done
check "after its exec it is the daemon" 0 "$(pid_is "$pid" sleep && echo 0 || echo 1)"
kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null

( sleep 0.2; exit 3 ) &
pid=$!
rc=0; WAIT_PID=$pid WAIT_COMM=sleep wait_until 5 never || rc=$?
check "a launcher that exits is an exit" 2 "$rc"
wait "$pid" 2>/dev/null

( sleep 0.3; touch "$RUN_DIR/flag" ) &
rc=0; wait_until 5 flag_set || rc=$?
check "the condition ends the wait" 0 "$rc"
wait

printf '%d passed, %d failed\n' "$passed" "$failed"
((failed == 0))
