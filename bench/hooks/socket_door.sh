# shellcheck shell=bash
# bench/run_bench.sh hook: ticketd's socket door (--hold-path socket,
# recvmmsg/sendmmsg worker threads, one per core) on loopback, with the
# same seat table code in userspace (shared-memory backend).
# shellcheck source=bench/hooks/ticketd_common.sh
source bench/hooks/ticketd_common.sh

bench_socket_door_start() {
	tkd_hook_start socket_door socket --udp-addr "$TKD_SOCKET_ADDR" \
		--udp-port "$TKD_SOCKET_PORT" || return 1
	export TKB_TARGET=$TKD_SOCKET_ADDR:$TKD_SOCKET_PORT
	export TKB_PROG_ID=
}

bench_socket_door_stop() {
	tkd_hook_stop socket_door
}
