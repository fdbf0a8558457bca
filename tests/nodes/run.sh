#!/usr/bin/env bash
# The multi-node test (issue 16): three ticketd nodes, each with XDP in a
# network namespace of its own (infra/nodes.sh), over running services
# (infra/services.sh start, same environment as tests/run_all.sh); see
# tests/nodes/test_nodes.py. Ends with "N passed, N failed" for
# tests/run_all.sh. About a minute.
#   tests/nodes/run.sh [pytest args...]
# NODES_TEST_HOLD_PATH=socket: socket doors on 127.0.0.1 instead of XDP.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
BUILD=${BUILD:-build}
for f in "$BUILD/ticketd" "$BUILD/paymentd" "$BUILD/node_follow"; do
	[ -x "$f" ] || { echo "nodes: $f not built (make build-all)"; echo "0 passed, 1 failed"; exit 1; }
done
out=$(BUILD="$BUILD" timeout -k 10 240 python3 -m pytest -p no:cacheprovider -q -s -rfE \
	tests/nodes/test_nodes.py "$@" 2>&1)
rc=$?
printf '%s\n' "$out"
summary=$(printf '%s\n' "$out" | grep -E '[0-9]+ (passed|failed|error)' | tail -1)
p=$(printf '%s' "$summary" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+')
f=$(printf '%s' "$summary" | grep -oE '[0-9]+ (failed|error)' | awk '{s+=$1} END {print s+0}')
if [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then f=1; fi
echo "${p:-0} passed, ${f:-0} failed"
exit "$rc"
