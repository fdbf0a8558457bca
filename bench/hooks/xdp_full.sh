# shellcheck shell=bash
# bench/run_bench.sh hook: the full XDP path, the real program attached by
# ticketd itself (--hold-path xdp) to tkb1 inside the benchmark's netns,
# with its XDP_PASS program on the host-side peer tkb0 so XDP_TX replies
# are taken. Sourced by run_bench.sh (bench/netns.sh is loaded by then).
# shellcheck source=bench/hooks/ticketd_common.sh
source bench/hooks/ticketd_common.sh

bench_xdp_full_start() {
	local name
	# No other XDP program on either end: the calibration steps attach
	# theirs with plain netlink, and ticketd's BPF link will not replace a
	# program it did not load.
	tkb_detach
	"$TKB_BUILD/xdp_calib" --detach --iface "$TKB_HOST_IF" >/dev/null 2>&1 || true
	tkd_hook_start xdp_full xdp --xdp-netns "$TKB_NS" --xdp-iface "$TKB_NS_IF" \
		--xdp-peer-iface "$TKB_HOST_IF" --udp-port 7000 || return 1
	export TKB_TARGET=$TKB_NS_IP:7000
	# the program ticketd attached (its bpf_stats are the program's cost)
	TKB_PROG_ID=$(ip -j -n "$TKB_NS" link show "$TKB_NS_IF" 2>/dev/null |
		jq -r '.[0].xdp.prog.id // empty')
	name=$(bpftool prog show id "${TKB_PROG_ID:-0}" -j 2>/dev/null | jq -r '.name // empty')
	if [ -z "$TKB_PROG_ID" ]; then
		tkd_log "xdp_full: no XDP program on $TKB_NS/$TKB_NS_IF after ticketd started"
		return 1
	fi
	tkd_log "xdp_full: program id $TKB_PROG_ID ($name) on $TKB_NS/$TKB_NS_IF"
	export TKB_PROG_ID
}

bench_xdp_full_stop() {
	tkd_hook_stop xdp_full
	# ticketd took its programs off both ends; the next paths need the
	# XDP_PASS program on tkb0 again
	tkb_detach
	"$TKB_BUILD/xdp_calib" --detach --iface "$TKB_HOST_IF" >/dev/null 2>&1 || true
	tkb_peer_accepts_xdp_tx || true
}
