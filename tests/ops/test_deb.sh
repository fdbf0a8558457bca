#!/usr/bin/env bash
# tests/ops/test_deb.sh: `make deb` builds the package with dpkg-buildpackage
# (infra/debian); its control data depends on the runtime libraries and
# lists the config files as conffiles; lintian runs when installed
# (warnings reported, not fatal). Then, on this machine (root, under a
# lock): `dpkg -i`, the installed paymentd and ticketd (the installed
# /etc/ticketd/ticketd.conf, test ports and services through
# TICKETD_<SETTING> variables) start and answer /healthz and /readyz and
# serve the installed web page, and `dpkg --purge` leaves nothing behind.
# A ticketd package installed by someone else is left alone (skipped).
# Needs the test services (tests/ops/run.sh starts them); about 20 s.
# Env: BUILD (build), test ports as tests/run_all.sh.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

tmp=$(mktemp -d /tmp/ticketd-ops-deb.XXXXXX)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do stop_pid "$p" >/dev/null 2>&1 || true; done
	rm -rf "$tmp" "$OPS_PIN_DIR"
}
trap cleanup EXIT

if out=$(make -s --no-print-directory BUILD="$BUILD" deb 2>&1); then
	ok "make deb"
else
	fail "make deb: $(printf '%s' "$out" | tail -5)"
	finish
	exit
fi
deb=$(sed -n 's/^deb: \(.*\.deb\)$/\1/p' <<<"$out" | tail -1)
check "make deb names a .deb ($deb)" test -f "$deb"
ctl=$(dpkg-deb -f "$deb")
for lib in libbpf1 libmicrohttpd12 libhiredis librdkafka1 libmariadb3 libjansson4 libcurl4 libcap2 libsystemd0; do
	check "Depends: $lib" grep -q "^Depends:.* $lib" <<<"$ctl"
done
conffiles=$(dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./conffiles 2>/dev/null)
check "conffiles: /etc/ticketd/ticketd.conf and paymentd.env" \
	test "$conffiles" = "$(printf '/etc/ticketd/paymentd.env\n/etc/ticketd/ticketd.conf')"
contents=$(dpkg-deb -c "$deb")
check "ticketd.conf is 0600 in the package" grep -q '^-rw------- root/root .* ./etc/ticketd/ticketd.conf$' <<<"$contents"
for f in ./usr/sbin/ticketd ./usr/sbin/paymentd ./usr/bin/ticketctl ./usr/lib/ticketd/seat_hold.bpf.o \
	./usr/share/ticketd/web/index.html ./usr/share/man/man8/ticketd.8.gz ./lib/systemd/system/ticketd.service \
	./lib/systemd/system/paymentd.service ./usr/share/doc/ticketd/copyright; do
	check "package holds $f" grep -q " $f\$" <<<"$contents"
done
if command -v lintian >/dev/null; then
	lint=$(lintian --tag-display-limit 0 "$deb" 2>&1)
	if grep -q '^E: ' <<<"$lint"; then
		echo "lintian (errors, reported):"
	else
		echo "lintian: no errors"
	fi
	grep -E '^[EW]: ' <<<"$lint" | head -30
else
	skip "lintian not installed"
fi

# ---- install on this machine ----
if [ "$(id -u)" != 0 ]; then
	skip "dpkg -i needs root"
	finish
	exit
fi
marker=/var/lib/ticketd-ops-test.installed
exec 8>/run/lock/ticketd-ops-deb.lock
flock -w 300 8 || { fail "the package lock (/run/lock/ticketd-ops-deb.lock) stayed taken"; finish; exit; }
if dpkg-query -W -f='${Status}' ticketd 2>/dev/null | grep -q 'ok installed' && [ ! -e "$marker" ]; then
	skip "a ticketd package installed by someone else is on this machine; not touching it"
	finish
	exit
fi
# dpkg waits for nobody: retry while another dpkg or apt holds its lock.
dpkg_retry() {
	local i out
	for ((i = 0; i < 60; i++)); do
		out=$(dpkg "$@" 2>&1) && return 0
		grep -qi 'lock' <<<"$out" || { printf '%s\n' "$out" | tail -5; return 1; }
		sleep 2
	done
	printf '%s\n' "$out" | tail -5
	return 1
}
touch "$marker"
check "dpkg -i $(basename "$deb")" dpkg_retry -i "$deb"
check "dpkg: ticketd installed" sh -c "dpkg-query -W -f='\${Status}' ticketd | grep -q 'ok installed'"
check "/etc/ticketd/ticketd.conf is 0600" test "$(stat -c %a /etc/ticketd/ticketd.conf 2>/dev/null)" = 600
check "dpkg -i enables the units (start at boot)" \
	test -L /etc/systemd/system/multi-user.target.wants/ticketd.service
check "man ticketd finds the installed page" sh -c "man -w ticketd | grep -q /usr/share/man/man8/ticketd.8.gz"

if services_up; then
	PAYMENTD_PORT=$OPS_PAYMENTD_PORT /usr/sbin/paymentd 2>"$tmp/paymentd.log" &
	pids+=($!)
	check "installed paymentd answers /healthz" wait_http "http://127.0.0.1:$OPS_PAYMENTD_PORT/healthz" 10
	# The installed config, with the test services' ports over it.
	TICKETD_HTTP_PORT=$OPS_HTTP_PORT TICKETD_UDP_PORT=$OPS_UDP_PORT TICKETD_DB_PORT=$MARIADB_PORT \
		TICKETD_REDIS_PORT=$REDIS_PORT TICKETD_KAFKA_BOOTSTRAP=127.0.0.1:$KAFKA_PORT \
		TICKETD_PAYMENT_URL=http://127.0.0.1:$OPS_PAYMENTD_PORT TICKETD_PIN_DIR=$OPS_PIN_DIR \
		TICKETD_STATE_DIR=$tmp/state TICKETD_HOLD_PATH=socket \
		/usr/sbin/ticketd --config /etc/ticketd/ticketd.conf 2>"$tmp/ticketd.log" &
	td=$!
	pids+=("$td")
	check "installed ticketd answers /healthz" wait_http "http://127.0.0.1:$OPS_HTTP_PORT/healthz" 60
	if wait_http "http://127.0.0.1:$OPS_HTTP_PORT/readyz" 60; then ok "installed ticketd is ready (/readyz 200)"; else
		fail "installed ticketd is ready (/readyz 200)"; tail -5 "$tmp/ticketd.log"; fi
	page=$(curl -s --max-time 2 "http://127.0.0.1:$OPS_HTTP_PORT/")
	check "installed ticketd serves /usr/share/ticketd/web" cmp -s <(printf '%s\n' "$page") /usr/share/ticketd/web/index.html
	check "installed ticketd stops cleanly" stop_pid "$td"
	pids=("${pids[0]}")
	check "installed paymentd stops cleanly" stop_pid "${pids[0]}"
	pids=()
else
	fail "the test services are not running (tests/ops/run.sh starts them)"
fi

check "dpkg --purge ticketd" dpkg_retry --purge ticketd
left=""
for f in /usr/sbin/ticketd /usr/sbin/paymentd /usr/bin/ticketctl /usr/lib/ticketd /usr/share/ticketd \
	/etc/ticketd /var/lib/ticketd /lib/systemd/system/ticketd.service /usr/share/man/man8/ticketd.8.gz \
	/usr/share/doc/ticketd /etc/systemd/system/multi-user.target.wants/ticketd.service \
	/etc/systemd/system/multi-user.target.wants/paymentd.service \
	/var/lib/systemd/deb-systemd-helper-enabled/ticketd.service.dsh-also \
	/var/lib/systemd/deb-systemd-helper-masked/ticketd.service; do
	[ -e "$f" ] && left+="$f "
done
check "purge leaves nothing behind${left:+ (left: $left)}" test -z "$left"
check "dpkg: ticketd gone" sh -c "! dpkg-query -W -f='\${Status}' ticketd 2>/dev/null | grep -q installed"
rm -f "$marker"
finish
