# shellcheck shell=bash
# bench/lib/purchase.sh: what the purchase benchmarks share
# (bench/orders_bench.sh, bench/room_bench.sh): paymentd and ticketd
# started for a run, their metrics, waiting until ticketd settled, audit
# queries. Sourced after bench/lib/common.sh; the functions read the
# caller's settings when called: PAYMENTD, PAY_PORT, PAY_BASE, PAY_LOG,
# TICKETD, HTTP_PORT, UDP_PORT, BASE, TD_LOG, TD_THREADS, DB_POOL, TD_MAX_CONNS (4096),
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
		--http-max-connections "${TD_MAX_CONNS:-4096}" --db-pool "$DB_POOL" \
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

# The events of a run, one per tag in EVENT_TAGS, named by the caller's
# event_name TAG, ROWS x COLS seats each, labelled LABEL<n> and priced by
# the SQL expression PRICE (of seq, the seat id, and COLS).
purchase_add_events() { # label price_sql
	local tag sql=""
	for tag in "${EVENT_TAGS[@]}"; do
		sql="$sql INSERT INTO events (name, venue, starts_at, seat_rows, seat_cols)
			VALUES ('$(event_name "$tag")', 'Bench Hall', '2030-01-01 20:00:00', $ROWS, $COLS);
			INSERT INTO seats (event_id, seat_id, r, c, label, price)
			SELECT LAST_INSERT_ID(), seq, seq DIV $COLS, seq MOD $COLS,
			       CONCAT('$1', seq), $2
			FROM seq_0_to_$((SEATS_PER_EVENT - 1));"
	done
	mariadb_q "$sql" || die "cannot add the events"
}

# EVENT_ID[tag]: the catalogue's id of every event of EVENT_TAGS.
declare -A EVENT_ID
purchase_load_event_ids() {
	local events tag id
	events=$(curl -sf --max-time 10 "$BASE/api/events") || die "GET /api/events failed"
	for tag in "${EVENT_TAGS[@]}"; do
		id=$(jq -r --arg n "$(event_name "$tag")" '[.[] | select(.name == $n)][0].id // empty' <<<"$events")
		[ -n "$id" ] || die "event '$(event_name "$tag")' is not in the catalogue"
		EVENT_ID[$tag]=$id
	done
}

# The EXIT trap of a purchase benchmark: stops what it started, then
# removes RUN_DIR (only if this run started the services and left its
# marker file there) and WORK, unless KEEP=1 (keep_var names that setting
# in the message). Exits with the status the script was ending with.
purchase_cleanup() { # marker keep_var
	local rc=$?
	set +e
	trap - EXIT INT TERM
	release_lock
	stop_ticketd
	stop_pid "$PAYMENTD_PID" paymentd
	PAYMENTD_PID=
	bench_services_down
	[ -d "$PIN_DIR" ] && rm -rf "$PIN_DIR"
	if [ "$KEEP" = 1 ]; then
		log "kept $RUN_DIR and $WORK ($2=1)"
	else
		[ -n "$SERVICES_STARTED" ] && [ -f "$RUN_DIR/$1" ] && rm -rf "$RUN_DIR"
		rm -rf "$WORK"
	fi
	exit "$rc"
}
