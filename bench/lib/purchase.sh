# shellcheck shell=bash
# bench/lib/purchase.sh: what the purchase benchmarks share
# (bench/orders_bench.sh, bench/room_bench.sh): paymentd and ticketd
# started for a run, their metrics, waiting until ticketd settled, audit
# queries. Sourced after bench/lib/common.sh; the functions read the
# caller's settings when called: PAYMENTD, PAY_PORT, PAY_BASE, PAY_LOG,
# TICKETD, HTTP_PORT, UDP_PORT, BASE, TD_LOG, TD_THREADS, DB_POOL,
# PIN_DIR, RUN_DIR, REDIS_PORT, MARIADB_PORT, KAFKA_PORT; they set
# PAYMENTD_PID and TICKETD_PID.

start_paymentd() {
	port_busy "$PAY_PORT" && die "port $PAY_PORT is in use (ORD_PAY_PORT)"
	"${BENCH_CLEAN_ENV[@]}" "$PAYMENTD" --port "$PAY_PORT" >>"$PAY_LOG" 2>&1 &
	PAYMENTD_PID=$!
	wait_http "$PAY_BASE/healthz" 20 "$PAYMENTD_PID" paymentd ||
		die "paymentd not ready in 20 s (log: $PAY_LOG)"
	log "paymentd ready (pid $PAYMENTD_PID, $PAY_BASE, its defaults: $(grep -m1 -o '"delayMinMs".*"approveRatio":[0-9.]*' "$PAY_LOG" || echo '?'))"
}

start_ticketd() {
	port_busy "$HTTP_PORT" && die "port $HTTP_PORT is in use (ORD_HTTP_PORT)"
	"${BENCH_CLEAN_ENV[@]}" "$TICKETD" --http-port "$HTTP_PORT" --db-port "$MARIADB_PORT" \
		--redis-port "$REDIS_PORT" --kafka-bootstrap "127.0.0.1:$KAFKA_PORT" \
		--udp-port "$UDP_PORT" --state-dir "$RUN_DIR/ticketd" \
		--pin-dir "$PIN_DIR" --hold-path socket --demo-data "${BENCH_NO_CLIENT_LIMITS[@]}" \
		--payment-url "$PAY_BASE" --http-threads "$TD_THREADS" \
		--http-max-connections 4096 --db-pool "$DB_POOL" \
		>>"$TD_LOG" 2>&1 &
	TICKETD_PID=$!
	wait_http "$BASE/readyz" 90 "$TICKETD_PID" ticketd ||
		{ tail -n 20 "$TD_LOG" >&2; die "ticketd not ready in 90 s (log: $TD_LOG)"; }
	log "ticketd ready (pid $TICKETD_PID, $BASE, $TD_THREADS HTTP threads, db pool $DB_POOL)"
}

metric() { # url name -> value of an unlabelled metric
	curl -sf --max-time 5 "$1/metrics" | awk -v n="$2" '$1 == n {print $2; exit}'
}

# After an orders run: until ticketd has nothing left of it in flight (no
# authorization pending at paymentd, the outbox relayed, the saga's Kafka
# copies of the decisions consumed), at most 60 s. Returns the seconds.
settle() {
	local t0 p b d d0=-1 i
	t0=$(date +%s.%N)
	for i in $(seq 1 240); do
		p=$(metric "$PAY_BASE" paymentd_pending_authorizations)
		b=$(metric "$BASE" ticketd_outbox_backlog_rows)
		d=$(metric "$BASE" ticketd_saga_duplicates_total)
		if [ "${p:-1}" = 0 ] && [ "${b:-1}" = 0 ] && [ "$d" = "$d0" ]; then
			break
		fi
		d0=$d
		sleep 0.25
	done
	[ "$i" -lt 240 ] || log "ticketd did not settle in 60 s (paymentd pending $p, outbox backlog $b)"
	awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.2f", b - a}'
}

audit_q() { # name sql -> {"name": value}
	local v
	v=$(mariadb_q "SET time_zone = '+00:00'; $2" | tail -n 1)
	[[ $v =~ ^[0-9]+$ ]] || v=-1
	jq -n --arg k "$1" --argjson v "$v" '{($k): $v}'
}
