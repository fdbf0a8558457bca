#!/usr/bin/env bash
# XDP on a real veth: a throwaway network namespace with a veth pair in
# 10.78.0.0/24 and fd78::/64 (not the addresses `make run` uses), the edge
# attached through edge_attach_xdp, real UDP HOLD/QUERY/RELEASE from the host
# side to the namespace address. Needs root. Everything it creates is removed
# on exit, whatever happens.
#
# Its driver is built by bpf/bpf.mk (`make all`) as
# $BUILD/tests/bpf/tools/xdp_netns_driver; BUILD defaults to build/ in the
# checkout, as in the root Makefile.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-build}
case "$build" in /*) ;; *) build="$root/$build" ;; esac
driver="$build/tests/bpf/tools/xdp_netns_driver"
id=$$
ns="tkt-xdp-$id"
vh="tkth$id"        # host end (xdp_pass)
vn="tktn$id"        # namespace end (xdp_seat_hold)
pin="/sys/fs/bpf/ticket-test-netns-$id"

cleanup() {
	ip netns del "$ns" 2>/dev/null || true
	ip link del "$vh" 2>/dev/null || true
	rm -rf "$pin" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$(id -u)" != 0 ]; then
	echo "test_xdp_netns: needs root" >&2
	exit 1
fi
[ -x "$driver" ] || { echo "missing $driver (make it first)" >&2; exit 1; }
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

ip netns add "$ns"
ip link add "$vh" type veth peer name "$vn"
ip link set "$vn" netns "$ns"
ip addr add 10.78.0.1/24 dev "$vh"
ip -6 addr add fd78::1/64 dev "$vh" nodad
ip link set "$vh" up
ip -n "$ns" link set lo up
ip -n "$ns" addr add 10.78.0.2/24 dev "$vn"
ip -n "$ns" -6 addr add fd78::2/64 dev "$vn" nodad
ip -n "$ns" link set "$vn" up

# pins of maps an older build used: the edge removes them when it opens
mkdir -m 0700 "$pin"
for old in hold_counts stats; do
	bpftool map create "$pin/$old" type array key 4 value 8 entries 1 name "$old"
done

# pins whose map type changed under the same name (events: hash -> array,
# ratelimit: LRU hash -> array): the edge replaces them instead of failing
bpftool map create "$pin/events" type hash key 4 value 16 entries 4096 name events
bpftool map create "$pin/ratelimit" type lru_hash key 16 value 8 entries 65536 name ratelimit

"$driver" "$pin" "$ns" "$vn" "$vh" 10.78.0.2 fd78::2

for m in events ratelimit; do
	t=$(bpftool -j map show pinned "$pin/$m" | python3 -c 'import json,sys; print(json.load(sys.stdin)["type"])')
	if [ "$t" != array ]; then
		echo "not ok - the $m pin of the old type was not replaced (type $t)"
		exit 1
	fi
done
echo "ok - pins of a changed map type replaced"

for old in hold_counts stats; do
	if [ -e "$pin/$old" ]; then
		echo "not ok - the retired pin $old is still there"
		exit 1
	fi
done
echo "ok - retired pins removed"

# The SRE view of what just ran, from the pins the driver left behind, with
# no process holding them: ticketctl stats / seat (docs/operations.md,
# "Inspecting the edge"). Seat 7 of event 1 was held and released over IPv4.
ctl="$build/ticketctl"
[ -x "$ctl" ] || { echo "missing $ctl (make it first)" >&2; exit 1; }
stats=$("$ctl" stats --pin-dir "$pin" --json)
seat=$("$ctl" seat 1 7 --pin-dir "$pin" --json)
if ! python3 - "$stats" "$seat" <<'PY'
import json, sys
s, seat = json.loads(sys.argv[1]), json.loads(sys.argv[2])
c = s["doorCounters"]
assert c["OK"] >= 3 and c["TAKEN"] >= 2, c            # HOLD, RELEASE, v2 QUERY; QUERY, HOLD
assert c["WRONG_NODE"] >= 1 and c["BAD_CREDENTIAL"] >= 1, c
assert c["malformed_dropped"] >= 1 and c["replay_dropped"] >= 1, c
fill = {m["map"]: m for m in s["maps"]}
assert fill["events"]["entries"] == 2, fill
r = s["ringbuf"]                                      # two records a run, consumed
assert r["producerPos"] >= 2 * 48 and r["unreadBytes"] == 0, r
[ev] = [e for e in s["events"] if e["eventId"] == 1]
assert ev["nseats"] == 100 and ev["available"] == 100, ev
w = seat["seat"]
assert w["state"] == "AVAILABLE" and w["holderSlot"] == 0 and w["counter"] >= 2, w
PY
then
	echo "not ok - ticketctl stats / seat read the driver's counters and words"
	exit 1
fi
echo "ok - ticketctl stats / seat read the driver's counters and words"

# pins of a ticketd older than slot_counts: ticketctl seat reads them still
rm -f "$pin/slot_counts"
if ! "$ctl" seat 1 7 --pin-dir "$pin" --json >/dev/null; then
	echo "not ok - ticketctl seat reads pins without slot_counts"
	exit 1
fi
echo "ok - ticketctl seat reads pins without slot_counts"

# detached on the way out: no XDP program left on either end
if ip -n "$ns" -d link show "$vn" | grep -q "prog/xdp" ||
	ip -d link show "$vh" | grep -q "prog/xdp"; then
	echo "not ok - XDP program left attached after edge_detach_xdp"
	exit 1
fi
echo "ok - nothing left attached"
