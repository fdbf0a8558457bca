#!/usr/bin/env bash
# tests/ops/test_systemd.sh: the systemd units (infra/systemd) and the
# daemons' side of Type=notify.
#  - the units say what docs/ops/install.md promises: Type=notify, a
#    watchdog, Restart=on-failure, the bpffs mount, /var/lib/ticketd, and
#    ticketd's capabilities are exactly the XDP set of
#    userspace/ticketd/privileges.c plus CAP_PERFMON (paymentd: none);
#  - with systemd as PID 1: both units, pointed at this build and the test
#    services, start for real (systemctl start returns once READY=1 came)
#    and the watchdog timestamp moves; without it (containers):
#    `systemd-analyze verify` on the units installed into a scratch PREFIX;
#  - READY=1, WATCHDOG=1 and STOPPING=1 reach a NOTIFY_SOCKET (a socat
#    datagram listener): paymentd once it listens; ticketd only once
#    /readyz says 200 (not while Kafka is unreachable), then its pings;
#  - ticketd under the unit's capability set (as root, setpriv) attaches
#    XDP to a veth of its own, and not without CAP_BPF, CAP_PERFMON or
#    CAP_NET_ADMIN.
# Needs the test services for ticketd (tests/ops/run.sh starts them);
# about 25 s.
# Env: BUILD (build), test ports as tests/run_all.sh.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

tmp=$(mktemp -d /tmp/ticketd-ops-systemd.XXXXXX)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp" "$OPS_PIN_DIR"
}
trap cleanup EXIT
T=infra/systemd/ticketd.service
PD=infra/systemd/paymentd.service

# ---- what the units say ----
val() { sed -n "s/^$2=//p" "$1" | tail -1; }
for u in "$T" "$PD"; do
	check "$u: Type=notify" test "$(val "$u" Type)" = notify
	check "$u: WatchdogSec set" test -n "$(val "$u" WatchdogSec)"
	check "$u: Restart=on-failure" test "$(val "$u" Restart)" = on-failure
	check "$u: NoNewPrivileges, ProtectSystem=strict, ProtectHome" \
		test "$(val "$u" NoNewPrivileges)$(val "$u" ProtectSystem)$(val "$u" ProtectHome)" = yesstrictyes
done
check "$T: RequiresMountsFor=/sys/fs/bpf" test "$(val "$T" RequiresMountsFor)" = /sys/fs/bpf
check "$T: StateDirectory=ticketd" test "$(val "$T" StateDirectory)" = ticketd
check "$T: bpffs writable under ProtectSystem=strict" test "$(val "$T" ReadWritePaths)" = /sys/fs/bpf
# privileges.c's set for the XDP door on a host interface and a high port
# (no sys_admin: that is for xdp_netns; no net_bind_service), e.g.
# "cap_net_admin,cap_bpf=ep"; the unit adds CAP_PERFMON for loading.
xdp_caps=$( (grep -o '"cap_[a-z_,]*=ep"' userspace/ticketd/privileges.c | tr -d '"' | sed 's/=ep$//' |
	grep -v -e sys_admin -e net_bind_service | head -1 | tr ',' '\n'; echo cap_perfmon) |
	tr a-z A-Z | sort -u | awk NF | tr '\n' ' ')
for key in CapabilityBoundingSet AmbientCapabilities; do
	got=$(val "$T" "$key" | tr ' ' '\n' | awk NF | sort | tr '\n' ' ')
	if [ "$got" = "$xdp_caps" ]; then
		ok "$T: $key is privileges.c's XDP set and CAP_PERFMON ($got)"
	else
		fail "$T: $key is '$got', want '$xdp_caps' (privileges.c and CAP_PERFMON)"
	fi
done
check "$PD: no capabilities" test -z "$(val "$PD" CapabilityBoundingSet)$(val "$PD" AmbientCapabilities)"

# ---- the units under systemd, or checked by systemd-analyze ----
if [ "$(ps -p 1 -o comm= 2>/dev/null)" = systemd ] && [ -d /run/systemd/system ]; then
	# Transient copies named *-opstest, on this build and the test ports.
	mapfile -t targs < <(ticketd_args /var/lib/ticketd-opstest)
	sed -e "s|^ExecStart=.*|ExecStart=$BUILD/ticketd ${targs[*]}|" \
		-e "s|^StateDirectory=.*|StateDirectory=ticketd-opstest|" \
		-e "s|^ProtectHome=.*|ProtectHome=no|" -e "s|^WatchdogSec=.*|WatchdogSec=4s|" \
		-e "s|paymentd.service|paymentd-opstest.service|" "$T" >/run/systemd/system/ticketd-opstest.service
	sed -e "s|^ExecStart=.*|ExecStart=$BUILD/paymentd --port $OPS_PAYMENTD_PORT|" \
		-e "s|^ProtectHome=.*|ProtectHome=no|" -e "s|^WatchdogSec=.*|WatchdogSec=4s|" \
		"$PD" >/run/systemd/system/paymentd-opstest.service
	systemctl daemon-reload
	for u in paymentd-opstest ticketd-opstest; do
		check "systemctl start $u (returns after READY=1)" timeout 120 systemctl start "$u"
		check "$u is active" test "$(systemctl show -p ActiveState --value "$u")" = active
		w1=$(systemctl show -p WatchdogTimestampMonotonic --value "$u")
		sleep 3
		w2=$(systemctl show -p WatchdogTimestampMonotonic --value "$u")
		check "$u pings the watchdog" test "${w2:-0}" -gt "${w1:-0}"
	done
	check "ticketd-opstest answers /readyz" wait_http "http://127.0.0.1:$OPS_HTTP_PORT/readyz" 5
	systemctl stop ticketd-opstest paymentd-opstest
	rm -f /run/systemd/system/ticketd-opstest.service /run/systemd/system/paymentd-opstest.service
	systemctl daemon-reload
	rm -rf /var/lib/ticketd-opstest
else
	echo "PID 1 is $(ps -p 1 -o comm=), not systemd: checking the units with systemd-analyze verify"
	if command -v systemd-analyze >/dev/null; then
		v=$tmp/verify
		make -s --no-print-directory BUILD="$BUILD" install PREFIX="$v/usr" SYSCONFDIR="$v/etc" \
			SYSTEMDUNITDIR="$v/lib/systemd/system" >"$tmp/install.log" 2>&1 || tail "$tmp/install.log"
		for u in ticketd paymentd; do
			if out=$(cd "$tmp" && MANPATH=$v/usr/share/man systemd-analyze verify \
				"$v/lib/systemd/system/$u.service" 2>&1); then
				ok "systemd-analyze verify $u.service"
			else
				fail "systemd-analyze verify $u.service: $out"
			fi
		done
	else
		skip "systemd-analyze not installed (package systemd)"
	fi
fi

# ---- sd_notify: a datagram listener as NOTIFY_SOCKET ----
command -v socat >/dev/null || { fail "socat not installed"; finish; exit; }
listen() { # listen NAME: a NOTIFY_SOCKET at $tmp/NAME.sock, datagrams to $tmp/NAME.out
	rm -f "$tmp/$1.sock"
	: >"$tmp/$1.out"
	socat -u "UNIX-RECV:$tmp/$1.sock" "OPEN:$tmp/$1.out,append" &
	pids+=($!)
	for _ in $(seq 50); do [ -S "$tmp/$1.sock" ] && return 0; sleep 0.05; done
	return 1
}
count() { grep -o "$2" "$tmp/$1.out" | wc -l; }
wait_msg() { # wait_msg NAME MSG SECONDS
	for ((i = 0; i < $3 * 10; i++)); do grep -q "$2" "$tmp/$1.out" && return 0; sleep 0.1; done
	return 1
}

# paymentd: READY once it listens, WATCHDOG=1 every WATCHDOG_USEC/2.
listen pay
NOTIFY_SOCKET=$tmp/pay.sock WATCHDOG_USEC=1000000 "$BUILD/paymentd" --port "$OPS_PAYMENTD_PORT" \
	2>"$tmp/paymentd.log" &
pay=$!
pids+=("$pay")
check "paymentd: READY=1 on NOTIFY_SOCKET" wait_msg pay READY=1 10
check "paymentd: /healthz answers once READY" wait_http "http://127.0.0.1:$OPS_PAYMENTD_PORT/healthz" 2
sleep 2.2
n=$(count pay WATCHDOG=1)
check "paymentd: WATCHDOG=1 every 0.5 s ($n in ~2.5 s)" test "$n" -ge 3
# (paymentd keeps running for ticketd below)

# ticketd, Kafka unreachable: serves /healthz, /readyz says 503, no READY.
if ! services_up; then
	fail "the test services are not running (tests/ops/run.sh starts them)"
	finish
	exit
fi
mapfile -t targs < <(ticketd_args "$tmp/state")
listen tdown
NOTIFY_SOCKET=$tmp/tdown.sock "$BUILD/ticketd" "${targs[@]}" --kafka-bootstrap 127.0.0.1:1 \
	2>"$tmp/ticketd-down.log" &
td=$!
pids+=("$td")
if wait_http "http://127.0.0.1:$OPS_HTTP_PORT/healthz" 60 && wait_http "http://127.0.0.1:$OPS_HTTP_PORT/readyz" 10 503; then
	sleep 3
	check "ticketd: no READY=1 while /readyz says 503 (Kafka unreachable)" test "$(count tdown READY=1)" = 0
else
	fail "ticketd with Kafka unreachable: /healthz 200 and /readyz 503"; tail -5 "$tmp/ticketd-down.log"
fi
stop_pid "$td"

# ticketd, all services up: READY=1 when /readyz says 200, then pings, STOPPING at stop.
listen tok
NOTIFY_SOCKET=$tmp/tok.sock WATCHDOG_USEC=2000000 "$BUILD/ticketd" "${targs[@]}" \
	2>"$tmp/ticketd.log" &
td=$!
pids+=("$td")
if wait_msg tok READY=1 90; then
	ok "ticketd: READY=1 on NOTIFY_SOCKET"
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$OPS_HTTP_PORT/readyz")
	check "ticketd: /readyz says 200 once READY=1 came ($code)" test "$code" = 200
	sleep 3.5
	n=$(count tok WATCHDOG=1)
	check "ticketd: WATCHDOG=1 every 1 s while /healthz answers ($n in ~3.5 s)" test "$n" -ge 3
else
	fail "ticketd: READY=1 on NOTIFY_SOCKET within 90 s"; tail -5 "$tmp/ticketd.log"
fi
check "ticketd: stops cleanly (exit 0)" stop_pid "$td"
check "ticketd: STOPPING=1 at stop" wait_msg tok STOPPING=1 2

# The unit's capabilities, applied the way systemd applies them to a root
# service (the bounding set; setpriv), are enough to attach XDP to an
# interface (a veth pair of our own in this namespace), and CAP_BPF,
# CAP_PERFMON and CAP_NET_ADMIN are each needed (without one the door is
# no XDP door).
nn=$((OPS_UDP_PORT % 250))
vh=opx${nn}h vn=opx${nn}n
if ! command -v setpriv >/dev/null; then
	skip "setpriv not installed (util-linux): unit capabilities not tried"
elif ! { ip link del "$vh" 2>/dev/null; ip link add "$vh" type veth peer name "$vn" &&
	ip link set "$vh" up && ip link set "$vn" up; } 2>"$tmp/veth.log"; then
	skip "cannot create a veth pair here: unit capabilities not tried"
else
	unit_caps=$(val "$T" CapabilityBoundingSet | tr 'A-Z ' 'a-z\n' | awk NF | sed 's/^cap_/+/' | paste -sd, -)
	xdp_run() { # xdp_run CAPS: the hold path /readyz reports for a ticketd with that bounding set
		local caps=$1 pid hp=
		rm -rf "$OPS_PIN_DIR" "$tmp/xstate"
		setpriv --bounding-set="-all,$caps" --inh-caps=-all "$BUILD/ticketd" \
			$(ticketd_args "$tmp/xstate") --hold-path xdp --xdp-iface "$vn" 2>>"$tmp/xdp.log" &
		pid=$!
		for _ in $(seq 150); do
			kill -0 "$pid" 2>/dev/null || break
			hp=$(curl -s --max-time 1 "http://127.0.0.1:$OPS_HTTP_PORT/readyz" 2>/dev/null |
				sed -n 's/.*"holdPath":"\([a-z]*\)".*/\1/p')
			[ -n "$hp" ] && break
			sleep 0.2
		done
		stop_pid "$pid" >/dev/null 2>&1
		printf '%s' "${hp:-none}"
	}
	got=$(xdp_run "$unit_caps")
	check "ticketd with the unit's capabilities ($unit_caps) attaches XDP to $vn (holdPath $got)" test "$got" = xdp
	check "the XDP program left $vn at stop" sh -c "! ip link show '$vn' | grep -q 'prog/xdp'"
	for drop in bpf perfmon net_admin; do
		got=$(xdp_run "$(tr ',' '\n' <<<"$unit_caps" | grep -vx "+$drop" | paste -sd, -)")
		check "without cap_$drop ticketd cannot attach XDP (holdPath $got)" test "$got" != xdp
	done
	ip link del "$vh" 2>/dev/null || true
fi
check "paymentd: stops cleanly (exit 0)" stop_pid "$pay"
check "paymentd: STOPPING=1 at stop" wait_msg pay STOPPING=1 2
finish
