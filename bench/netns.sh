#!/usr/bin/env bash
# Throwaway network namespace for the benchmark: a veth pair whose inner end
# (tkb1, 10.79.0.2 and fd00:79::2, inside netns "tkbench") runs the XDP
# program under test and whose outer end (tkb0, 10.79.0.1 and fd00:79::1) is
# where the load generator sends from. Kept apart from `make run`'s
# 10.77.0.0/24.
#
# Source it for the functions (run_bench.sh does), or run it:
#   bench/netns.sh up | down | status
#
# Every name here is ours: `up` first removes a leftover of an earlier run
# with the same names, nothing else.

TKB_NS=${TKB_NS:-tkbench}
TKB_HOST_IF=${TKB_HOST_IF:-tkb0}
TKB_NS_IF=${TKB_NS_IF:-tkb1}
TKB_HOST_IP=${TKB_HOST_IP:-10.79.0.1}
TKB_NS_IP=${TKB_NS_IP:-10.79.0.2}
TKB_PREFIX=${TKB_PREFIX:-24}
# IPv6 too (the protocol and the real program serve both families)
TKB_HOST_IP6=${TKB_HOST_IP6:-fd00:79::1}
TKB_NS_IP6=${TKB_NS_IP6:-fd00:79::2}
# veth queues: one per core, so two client threads land on two NAPI
# contexts instead of queueing behind one.
TKB_QUEUES=${TKB_QUEUES:-$(nproc)}
TKB_BUILD=${TKB_BUILD:-${BUILD:-build}}

tkb_log() { printf '[netns] %s\n' "$*" >&2; }

# Mounts bpffs if missing (pinning needs it; harmless otherwise).
tkb_bpffs() {
	if ! mountpoint -q /sys/fs/bpf; then
		mount -t bpf bpf /sys/fs/bpf
	fi
}

tkb_netns_down() {
	ip netns del "$TKB_NS" 2>/dev/null || true
	# deleting the namespace destroys tkb1 and with it its peer; wait a
	# bounded time for the kernel to finish, then remove what is left
	for _ in $(seq 1 50); do
		ip link show "$TKB_HOST_IF" >/dev/null 2>&1 || return 0
		sleep 0.1
	done
	ip link del "$TKB_HOST_IF" 2>/dev/null || true
}

# Creates the pair, addresses, static neighbour entries (no ARP while we
# measure) and makes the host-side peer able to take XDP_TX frames.
tkb_netns_up() {
	local mac0 mac1
	tkb_netns_down
	tkb_bpffs
	ip netns add "$TKB_NS"
	ip link add "$TKB_HOST_IF" numtxqueues "$TKB_QUEUES" \
		numrxqueues "$TKB_QUEUES" type veth peer name "$TKB_NS_IF" \
		numtxqueues "$TKB_QUEUES" numrxqueues "$TKB_QUEUES" \
		netns "$TKB_NS"
	ip addr add "$TKB_HOST_IP/$TKB_PREFIX" dev "$TKB_HOST_IF"
	ip link set "$TKB_HOST_IF" up
	ip -n "$TKB_NS" link set lo up
	ip -n "$TKB_NS" addr add "$TKB_NS_IP/$TKB_PREFIX" dev "$TKB_NS_IF"
	ip -n "$TKB_NS" link set "$TKB_NS_IF" up
	mac0=$(cat "/sys/class/net/$TKB_HOST_IF/address")
	mac1=$(ip netns exec "$TKB_NS" cat "/sys/class/net/$TKB_NS_IF/address")
	ip -6 addr add "$TKB_HOST_IP6/64" dev "$TKB_HOST_IF" nodad
	ip -n "$TKB_NS" -6 addr add "$TKB_NS_IP6/64" dev "$TKB_NS_IF" nodad
	ip neigh replace "$TKB_NS_IP" lladdr "$mac1" dev "$TKB_HOST_IF" nud permanent
	ip -n "$TKB_NS" neigh replace "$TKB_HOST_IP" lladdr "$mac0" \
		dev "$TKB_NS_IF" nud permanent
	ip -6 neigh replace "$TKB_NS_IP6" lladdr "$mac1" dev "$TKB_HOST_IF" nud permanent
	ip -n "$TKB_NS" -6 neigh replace "$TKB_HOST_IP6" lladdr "$mac0" \
		dev "$TKB_NS_IF" nud permanent
	tkb_peer_accepts_xdp_tx
	tkb_log "up: $TKB_HOST_IF $TKB_HOST_IP <-> $TKB_NS/$TKB_NS_IF $TKB_NS_IP ($TKB_QUEUES queues)"
}

# PITFALLS: veth drops XDP_TX frames unless the peer runs an XDP program or
# has GRO on. An XDP_PASS program is the one that works without ethtool.
tkb_peer_accepts_xdp_tx() {
	local obj="$TKB_BUILD/bench/xdp_trivial.bpf.o"
	if [ -x "$TKB_BUILD/xdp_calib" ] && [ -f "$obj" ] &&
		"$TKB_BUILD/xdp_calib" --attach --iface "$TKB_HOST_IF" \
			--obj "$obj" --prog xdp_pass >/dev/null; then
		return 0
	fi
	if command -v ethtool >/dev/null 2>&1 &&
		ethtool -K "$TKB_HOST_IF" gro on >/dev/null 2>&1; then
		tkb_log "host peer: GRO on (no XDP_PASS program)"
		return 0
	fi
	tkb_log "host peer: neither an XDP_PASS program nor GRO: XDP_TX replies will be dropped"
	return 1
}

# Attaches OBJ's program PROG to tkb1 inside the namespace; prints its id.
tkb_attach() {
	local obj=$1 prog=$2 out
	out=$("$TKB_BUILD/xdp_calib" --attach --netns "$TKB_NS" \
		--iface "$TKB_NS_IF" --obj "$obj" --prog "$prog") || return 1
	jq -r .prog_id <<<"$out"
}

tkb_detach() {
	"$TKB_BUILD/xdp_calib" --detach --netns "$TKB_NS" \
		--iface "$TKB_NS_IF" >/dev/null 2>&1 || true
}

tkb_status() {
	ip netns list | grep -w "$TKB_NS" || echo "no netns $TKB_NS"
	ip -d link show "$TKB_HOST_IF" 2>/dev/null | head -3 || true
	ip -n "$TKB_NS" -d link show "$TKB_NS_IF" 2>/dev/null | head -3 || true
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	case "${1:-}" in
	up) tkb_netns_up ;;
	down) tkb_netns_down ;;
	status) tkb_status ;;
	*)
		echo "usage: $0 up|down|status" >&2
		exit 2
		;;
	esac
fi
