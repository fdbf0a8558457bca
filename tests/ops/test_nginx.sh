#!/usr/bin/env bash
# nginx in front of ticketd (infra/nginx.sh, docs/ops/nginx.md), against the
# real programs: the config passes `nginx -t` (defaults and every optional
# part), bad values are refused before nginx sees them, then a real nginx
# runs in front of the test ticketd and paymentd, and a part of the
# integration suite runs through it (TICKETD_TEST_BASE_URL): REST holds,
# orders and payments, the catalogue, and tests/integration/test_proxy.py
# (streams through the proxy, forwarded client addresses, admin refused,
# the proxy's limits, the /ticketing/* mapping).
# Uses the test services when they run, else starts them (and stops them
# again). Ends with "N passed, N failed"; exits non-zero on any failure.
# Env (as tests/run_all.sh): TEST_RUN_DIR, TEST_{REDIS,MARIADB,KAFKA}_PORT,
# TICKETD_TEST_HTTP_PORT, NGINX_TEST_PORT (ticketd's + 500), BUILD.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
BUILD=${BUILD:-build}
export RUN_DIR=${TEST_RUN_DIR:-$ROOT/.run-test}
export REDIS_PORT=${TEST_REDIS_PORT:-${REDIS_PORT:-6390}}
export MARIADB_PORT=${TEST_MARIADB_PORT:-${MARIADB_PORT:-3317}}
export KAFKA_PORT=${TEST_KAFKA_PORT:-${KAFKA_PORT:-9102}}
export KAFKA_CONTROLLER_PORT=${TEST_KAFKA_CONTROLLER_PORT:-${KAFKA_CONTROLLER_PORT:-9103}}
export TICKETD_TEST_HTTP_PORT=${TICKETD_TEST_HTTP_PORT:-18080}
export NGINX_TEST_PORT=${NGINX_TEST_PORT:-$((TICKETD_TEST_HTTP_PORT + 500))}
# infra/nginx.sh's settings for the test proxy (test_proxy.py uses the same)
export NGINX_PORT=$NGINX_TEST_PORT HTTP_PORT=$TICKETD_TEST_HTTP_PORT NGINX_WORKERS=1
export NGINX_LIMIT_EXEMPT=127.0.0.1 # the suite's own client; limits are tested from others

passed=0 failed=0
started_services=0 started_nginx=0
t0=$SECONDS

ok() { passed=$((passed + 1)); printf 'ok   %s\n' "$*"; }
fail() { failed=$((failed + 1)); printf 'FAIL %s\n' "$*"; }
step() { printf '\n=== %s (%ds)\n' "$*" $((SECONDS - t0)); }

finish() {
	step "cleaning up"
	if ((started_nginx)); then bash infra/nginx.sh stop || fail "nginx stop"; fi
	if ((started_services)); then bash infra/services.sh stop >/dev/null || fail "services stop"; fi
	printf '\ntest_nginx: %ds\n%d passed, %d failed\n' $((SECONDS - t0)) "$passed" "$failed"
	((failed == 0))
	exit
}
trap finish EXIT

step "the config: nginx -t"
if ! command -v nginx >/dev/null && [[ ! -x /usr/sbin/nginx ]]; then
	fail "nginx is not installed (make deps installs it from infra/packages.txt)"
	exit
fi
for bin in "$BUILD/ticketd" "$BUILD/paymentd"; do
	[[ -x $bin ]] || { fail "$bin not built (make build-all)"; exit; }
done
check_dir=$(mktemp -d)
out=$(RUN_DIR=$check_dir bash infra/nginx.sh check 2>&1) &&
	ok "defaults pass nginx -t" || fail "defaults refused by nginx -t: $out"
out=$(RUN_DIR=$check_dir NGINX_REAL_IP_FROM="10.0.0.0/8, fd00::/8" \
	NGINX_LIMIT_EXEMPT="127.0.0.1 192.0.2.7" NGINX_WORKERS=auto \
	bash infra/nginx.sh check 2>&1) &&
	grep -q 'set_real_ip_from fd00::/8;' "$check_dir/nginx/conf/ticketing.conf" &&
	grep -q '192.0.2.7 1;' "$check_dir/nginx/conf/ticketing.conf" &&
	ok "load balancers in front and exempt addresses pass nginx -t" ||
	fail "NGINX_REAL_IP_FROM / NGINX_LIMIT_EXEMPT: $out"
out=$(RUN_DIR=$check_dir NGINX_HOLD_RATE='10r/s; deny all' bash infra/nginx.sh check 2>&1) &&
	fail "a value with ';' was accepted" || {
	grep -q "NGINX_HOLD_RATE" <<<"$out" && ok "a value that would end a directive is refused" ||
		fail "refusal does not name the setting: $out"
}
rm -rf "$check_dir"

step "services (Redis, MariaDB, Kafka) on the test ports"
if bash infra/services.sh status >/dev/null 2>&1; then
	echo "already running"
else
	bash infra/services.sh start 9>&- || { fail "services did not start"; exit; }
	started_services=1
fi

step "nginx on 127.0.0.1:$NGINX_PORT in front of ticketd 127.0.0.1:$HTTP_PORT"
if bash infra/nginx.sh status >/dev/null 2>&1; then
	bash infra/nginx.sh stop >/dev/null # a leftover with other settings
fi
if bash infra/nginx.sh start 9>&-; then
	started_nginx=1
	ok "nginx starts"
else
	fail "nginx did not start"
	exit
fi

step "integration tests through the proxy"
before=$(wc -l <"$RUN_DIR/logs/nginx-access.log" 2>/dev/null || echo 0)
# Holds, orders + payments and the catalogue, as the suite has them (the
# slow deadline, Kafka-outage and kill -9 cases add nothing through a
# proxy), then the proxy's own tests.
out=$(TICKETD_TEST_BASE_URL="http://127.0.0.1:$NGINX_PORT" timeout 300 \
	python3 -m pytest -p no:cacheprovider -q -rfE \
	tests/integration/test_reservations.py tests/integration/test_orders.py \
	tests/integration/test_catalog_api.py tests/integration/test_proxy.py \
	-k "not deadline and not kafka_down and not kill_9" 2>&1)
rc=$?
printf '%s\n' "$out" | tail -25
summary=$(printf '%s\n' "$out" | grep -E '[0-9]+ (passed|failed|error)' | tail -1)
p=$(grep -oE '[0-9]+ passed' <<<"$summary" | grep -oE '[0-9]+')
f=$(grep -oE '[0-9]+ (failed|error)' <<<"$summary" | awk '{s += $1} END {print s + 0}')
s=$(grep -oE '[0-9]+ skipped' <<<"$summary" | grep -oE '[0-9]+')
passed=$((passed + ${p:-0}))
failed=$((failed + ${f:-0}))
((rc == 0 || ${f:-0} > 0)) || fail "pytest exited $rc"
[[ -z $s ]] || fail "$s tests skipped (test_proxy.py needs nginx)"
lines=$(($(wc -l <"$RUN_DIR/logs/nginx-access.log" 2>/dev/null || echo 0) - before))
((lines > 1000)) && ok "the suite went through nginx ($lines requests in its access log)" ||
	fail "only $lines requests in nginx's access log"

step "nginx's error log"
bad=$(grep -E '\[(emerg|alert|crit)\]' "$RUN_DIR/logs/nginx-error.log" 2>/dev/null | tail -5)
[[ -z $bad ]] && ok "no emerg, alert or crit lines" || fail "nginx-error.log: $bad"
