# shellcheck shell=bash
# bench/lib/purchase.sh: what the purchase benchmarks share
# (bench/orders_bench.sh, bench/room_bench.sh, bench/vu_bench.sh): their
# --render entry, the checks before a run, the work folder and the clean-up
# trap, a fresh RUN_DIR, paymentd and ticketd started for a run with the
# run's events, their metrics, waiting until ticketd settled, audit
# queries. Sourced after bench/lib/common.sh; the functions read the
# caller's settings when called: PAYMENTD, PAY_PORT, PAY_BASE, PAY_LOG,
# TICKETD, HTTP_PORT, UDP_PORT, BASE, TD_LOG, TD_THREADS, DB_POOL, TD_MAX_CONNS (4096),
# PIN_DIR, RUN_DIR, REDIS_PORT, MARIADB_PORT, KAFKA_PORT; they set
# PAYMENTD_PID and TICKETD_PID.

# `NAME.sh --render [JSON]`: the markdown again from the JSON (default
# OUT) with the jq program render, then exit.
purchase_render() { # name render json
	[ -s "${3:-$OUT}" ] || {
		echo "$1: ${3:-$OUT} missing: raw results are not kept in git (bash bench/$1.sh writes it); $MD keeps the last rendered section" >&2
		exit 1
	}
	jq -r -f "$2" "${3:-$OUT}"
	exit 0
}

# Before a run: RUN_DIR under /tmp, the tools, the binaries of BUILD, and
# the open-file limit raised to the hard one and at least fds.
purchase_preflight() { # fds binary...
	local fds=$1 tool b
	shift
	case $RUN_DIR in
	/tmp/?*) ;;
	*) die "RUN_DIR must be a folder under /tmp (it is wiped at the start): $RUN_DIR" ;;
	esac
	for tool in jq curl mariadb timeout flock awk; do
		command -v "$tool" >/dev/null || die "$tool is not installed"
	done
	for b in "$@"; do
		[ -x "$BUILD/$b" ] && [ -s "$BUILD/$b" ] || die "$BUILD/$b missing: make $BUILD/$b"
	done
	ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
	[ "$(ulimit -n)" -ge "$fds" ] || die "open-file limit $(ulimit -n) is below $fds"
}

# The run's work folder WORK (/tmp/NAME-work.*), where TICKETD and PAYMENTD
# are copied (a rebuild of the tree during the run cannot touch them), the
# logs TD_LOG and PAY_LOG, and the EXIT trap purchase_cleanup (marker
# .NAME-bench in RUN_DIR; keep_var names the KEEP setting).
purchase_work() { # name keep_var
	WORK=$(mktemp -d "/tmp/$1bench-work.XXXXXX")
	TICKETD=$WORK/ticketd
	PAYMENTD=$WORK/paymentd
	TD_LOG=$RUN_DIR/logs/ticketd-$1bench.log
	PAY_LOG=$RUN_DIR/logs/paymentd-$1bench.log
	PURCHASE_MARKER=.$1-bench
	PURCHASE_SCRIPT=bench/$1_bench.sh
	PURCHASE_KEEP_VAR=$2
	TICKETD_PID=
	PAYMENTD_PID=
	SERVICES_STARTED=
	LOCKED=
	trap 'purchase_cleanup "$PURCHASE_MARKER" "$PURCHASE_KEEP_VAR"' EXIT
	trap 'log "interrupted"; exit 130' INT TERM
}

# Copies ticketd and paymentd into WORK and makes a fresh RUN_DIR (one
# instance per RUN_DIR: it is wiped and its ports reused, so a second one
# fails at once instead of stopping the first one's services; what an
# interrupted run left there is stopped first), marked PURCHASE_MARKER.
purchase_fresh_run_dir() {
	cp "$BUILD/ticketd" "$TICKETD"
	cp "$BUILD/paymentd" "$PAYMENTD"
	exec 7>"$RUN_DIR.instance.lock"
	flock -n 7 || die "another $PURCHASE_SCRIPT uses $RUN_DIR (holds $RUN_DIR.instance.lock)"
	if [ -d "$RUN_DIR" ]; then
		[ -f "$RUN_DIR/$PURCHASE_MARKER" ] || [ -z "$(find "$RUN_DIR" -type f -not -path "$RUN_DIR/logs/*" -not -path "$RUN_DIR/pids/*.lock" | head -n 1)" ] ||
			die "$RUN_DIR exists and is not this benchmark's (no $PURCHASE_MARKER marker)"
		timeout 180 bash infra/services.sh stop >&2 || true
		rm -rf "$RUN_DIR"
	fi
	[ -d "$PIN_DIR" ] && rm -rf "$PIN_DIR"
	mkdir -p "$RUN_DIR/logs"
	touch "$RUN_DIR/$PURCHASE_MARKER"
}

# purchase_fresh_run_dir, then the services, paymentd, and ticketd with the
# events of EVENT_TAGS (purchase_add_events label price_sql) loaded in its
# catalogue (EVENT_ID).
purchase_stack_up() { # label price_sql
	purchase_fresh_run_dir
	bench_services_up
	start_paymentd
	start_ticketd # creates the schema
	purchase_add_events "$1" "$2"
	stop_ticketd
	start_ticketd # loads the new events
	purchase_load_event_ids
}

# paymentd's delay and approve ratio from its log: "MIN MAX RATIO", or "".
purchase_pay_defaults() {
	grep -m1 -o '"delayMinMs".*"approveRatio":[0-9.]*' "$PAY_LOG" |
		sed -E 's/"delayMinMs":([0-9]+),"delayMaxMs":([0-9]+),"approveRatio":([0-9.]+)/\1 \2 \3/' || true
}

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
