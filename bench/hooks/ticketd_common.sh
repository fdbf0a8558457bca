# shellcheck shell=bash
# Shared by bench/hooks/xdp_full.sh and bench/hooks/socket_door.sh, which
# bench/run_bench.sh sources (once per round; state kept in TKD_* variables
# survives re-sourcing). Runs the real daemon for the UDP benchmark:
#
#   - its back ends once per benchmark run: Redis, MariaDB and Kafka of
#     infra/services.sh under TKD_RUN_DIR on private ports, started by the
#     first tkd_start and stopped by tkd_services_down (run_bench.sh calls it
#     when the daemon paths and the benchmarks that reuse these services are
#     done, and from its EXIT trap);
#   - one big event in MariaDB (TKD_ROWS x TKD_COLS seats, seat id =
#     r * cols + c, added once: the catalogue is read at start);
#   - build/ticketd for one hold path, from a fresh state every time (state
#     dir, pinned maps and ticketd's Redis journal wiped, so the seat table
#     starts empty), TKD_SESSIONS sessions minted through POST /api/sessions,
#     stopped by pid (SIGTERM, bounded wait, SIGKILL as a last resort).
#
# Settings (environment): TKD_RUN_DIR (/tmp/tkbench-svc), TKD_REDIS_PORT
# (6396), TKD_MARIADB_PORT (3322), TKD_KAFKA_PORT (9123),
# TKD_KAFKA_CONTROLLER_PORT (9124), TKD_HTTP_PORT (18300), TKD_SOCKET_ADDR
# (127.0.0.1), TKD_SOCKET_PORT (17300), TKD_PIN_DIR (/sys/fs/bpf/ticket-bench).
# Uses from run_bench.sh when present: BUILD, WORK, SEATS, MAX_T, WINDOW,
# TKB_NS, TKB_NS_IF, TKB_HOST_IF, TKB_NS_IP, tkb_peer_accepts_xdp_tx; its
# log() and the helpers of bench/lib/common.sh (port_busy, svc_pid,
# stop_pid, BENCH_NO_CLIENT_LIMITS).

TKD_RUN_DIR=${TKD_RUN_DIR:-/tmp/tkbench-svc}
TKD_REDIS_PORT=${TKD_REDIS_PORT:-6396}
TKD_MARIADB_PORT=${TKD_MARIADB_PORT:-3322}
TKD_KAFKA_PORT=${TKD_KAFKA_PORT:-9123}
TKD_KAFKA_CONTROLLER_PORT=${TKD_KAFKA_CONTROLLER_PORT:-9124}
TKD_HTTP_PORT=${TKD_HTTP_PORT:-18300}
TKD_SOCKET_ADDR=${TKD_SOCKET_ADDR:-127.0.0.1}
TKD_SOCKET_PORT=${TKD_SOCKET_PORT:-17300}
TKD_PIN_DIR=${TKD_PIN_DIR:-/sys/fs/bpf/ticket-bench}
TKD_STATE_DIR=$TKD_RUN_DIR/ticketd
TKD_LOG=$TKD_RUN_DIR/logs/ticketd-bench.log
TKD_BASE=http://127.0.0.1:$TKD_HTTP_PORT
TKD_COLS=128
# enough rows for the benchmark's seat range (BENCH_SEATS, default 0-16383)
TKD_SEAT_HI=${SEATS:-0-16383}
TKD_SEAT_HI=${TKD_SEAT_HI#*-}
TKD_ROWS=$(((TKD_SEAT_HI + TKD_COLS) / TKD_COLS))
if [ "$TKD_ROWS" -lt 128 ]; then TKD_ROWS=128; fi
TKD_EVENT_NAME="UDP Bench Arena ${TKD_ROWS}x${TKD_COLS}"
# one session per slot of the load generator (threads x window)
TKD_SESSIONS=$((${MAX_T:-2} * ${WINDOW:-64}))

# state kept across re-sourcing
TKD_PID=${TKD_PID:-}
TKD_SERVICES_STARTED=${TKD_SERVICES_STARTED:-}
TKD_EVENT_ID=${TKD_EVENT_ID:-}
TKD_TICKETD=${TKD_TICKETD:-}
TKD_PATH=${TKD_PATH:-}

tkd_log() { printf '[ticketd-hook] %s\n' "$*" >&2; }

tkd_env() { # the services' environment, for infra/services.sh and others
	env RUN_DIR="$TKD_RUN_DIR" REDIS_PORT="$TKD_REDIS_PORT" \
		MARIADB_PORT="$TKD_MARIADB_PORT" KAFKA_PORT="$TKD_KAFKA_PORT" \
		KAFKA_CONTROLLER_PORT="$TKD_KAFKA_CONTROLLER_PORT" "$@"
}

tkd_services_up() {
	[ -n "$TKD_SERVICES_STARTED" ] && return 0
	mkdir -p "$TKD_RUN_DIR/logs"
	tkd_log "starting Redis :$TKD_REDIS_PORT, MariaDB :$TKD_MARIADB_PORT, Kafka :$TKD_KAFKA_PORT under $TKD_RUN_DIR"
	TKD_SERVICES_STARTED=1 # from here on the stop is due, whatever happens
	if ! tkd_env timeout 300 bash infra/services.sh start >>"$TKD_RUN_DIR/logs/services-bench.log" 2>&1; then
		tkd_log "infra/services.sh start failed; one retry after a stop (log: $TKD_RUN_DIR/logs/services-bench.log)"
		tkd_env timeout 180 bash infra/services.sh stop >>"$TKD_RUN_DIR/logs/services-bench.log" 2>&1 || true
		if ! tkd_env timeout 300 bash infra/services.sh start >>"$TKD_RUN_DIR/logs/services-bench.log" 2>&1; then
			tkd_log "infra/services.sh start failed twice: $(tail -n 3 "$TKD_RUN_DIR/logs/services-bench.log" | tr '\n' ' ')"
			return 1
		fi
	fi
	return 0
}

tkd_services_down() {
	tkd_stop
	rm -rf "$TKD_PIN_DIR" 2>/dev/null || true
	[ -n "$TKD_SERVICES_STARTED" ] || return 0
	tkd_log "stopping the services under $TKD_RUN_DIR"
	tkd_env timeout 180 bash infra/services.sh stop >>"$TKD_RUN_DIR/logs/services-bench.log" 2>&1 ||
		tkd_log "infra/services.sh stop failed (log: $TKD_RUN_DIR/logs/services-bench.log)"
	TKD_SERVICES_STARTED=
}

tkd_redis_pid() { RUN_DIR=$TKD_RUN_DIR svc_pid redis; }

# Waits up to $1 s for GET /readyz 200; prints its body.
tkd_wait_ready() {
	local code body=$TKD_RUN_DIR/readyz.json
	for _ in $(seq 1 $(($1 * 10))); do
		if ! kill -0 "$TKD_PID" 2>/dev/null; then
			tkd_log "ticketd exited while starting; its log: $(tail -n 5 "$TKD_LOG" | tr '\n' ' ')"
			return 1
		fi
		rm -f "$body"
		code=$(curl -s -o "$body" -w '%{http_code}' --max-time 1 "$TKD_BASE/readyz" || true)
		if [ "$code" = 200 ]; then
			cat "$body"
			return 0
		fi
		sleep 0.1
	done
	tkd_log "ticketd not ready in $1 s: $(cat "$body" 2>/dev/null)"
	return 1
}

# Starts ticketd from a fresh state. Args: hold path (xdp|socket), then
# the path's own options.
tkd_launch() {
	local path=$1 ready
	shift
	tkd_stop
	if port_busy "$TKD_HTTP_PORT"; then
		tkd_log "port $TKD_HTTP_PORT is in use by something else (TKD_HTTP_PORT)"
		return 1
	fi
	# fresh: no token key, no seat file, no pinned maps, no journal to
	# rebuild holds from (this Redis is ticketd's own, on a private port)
	rm -rf "$TKD_STATE_DIR" "$TKD_PIN_DIR"
	redis-cli -p "$TKD_REDIS_PORT" flushall >/dev/null 2>&1 || {
		tkd_log "ticketd's Redis on :$TKD_REDIS_PORT does not answer"
		return 1
	}
	mkdir -p "$TKD_RUN_DIR/logs"
	if [ -z "$TKD_TICKETD" ]; then
		# a copy: a rebuild of the tree during the run cannot swap it
		TKD_TICKETD=$TKD_RUN_DIR/ticketd.bin
		cp "${BUILD:-build}/ticketd" "$TKD_TICKETD"
	fi
	TKD_CMD=("$TKD_TICKETD" --http-port "$TKD_HTTP_PORT" --db-port "$TKD_MARIADB_PORT"
		--redis-port "$TKD_REDIS_PORT" --kafka-bootstrap "127.0.0.1:$TKD_KAFKA_PORT"
		--state-dir "$TKD_STATE_DIR" --pin-dir "$TKD_PIN_DIR" --udp-rate-limit 0
		"${BENCH_NO_CLIENT_LIMITS[@]}" --demo-data --payment-url http://127.0.0.1:1
		--hold-path "$path" "$@")
	echo "---- $(date -u +%FT%TZ) ${TKD_CMD[*]}" >>"$TKD_LOG"
	"${TKD_CMD[@]}" >>"$TKD_LOG" 2>&1 &
	TKD_PID=$!
	TKD_PATH=$path
	ready=$(tkd_wait_ready 60) || {
		tkd_stop
		return 1
	}
	if [ "$(jq -r .holdPath <<<"$ready" 2>/dev/null)" != "$path" ]; then
		tkd_log "ticketd serves hold path '$(jq -r .holdPath <<<"$ready" 2>/dev/null)', not '$path'"
		tkd_stop
		return 1
	fi
	return 0
}

# Stops ticketd by pid: SIGTERM, up to 20 s, then SIGKILL.
tkd_stop() {
	stop_pid "$TKD_PID" "ticketd (pid $TKD_PID)" 200
	TKD_PID=
}

tkd_event_id() {
	curl -sf --max-time 5 "$TKD_BASE/api/events" |
		jq -r --arg n "$TKD_EVENT_NAME" '[.[] | select(.name == $n)][0].id // empty'
}

# The big event: added to MariaDB once (then ticketd must restart to load
# it). Args: how to relaunch (the tkd_launch arguments).
tkd_ensure_event() {
	TKD_EVENT_ID=$(tkd_event_id)
	if [ -z "$TKD_EVENT_ID" ]; then
		tkd_log "adding the event '$TKD_EVENT_NAME' ($((TKD_ROWS * TKD_COLS)) seats) to MariaDB"
		MYSQL_PWD=ticket timeout 60 mariadb -h 127.0.0.1 -P "$TKD_MARIADB_PORT" -u ticket ticketing -e "
			INSERT INTO events (name, venue, starts_at, seat_rows, seat_cols)
			VALUES ('$TKD_EVENT_NAME', 'Bench Hall', '2030-01-01 20:00:00', $TKD_ROWS, $TKD_COLS);
			INSERT INTO seats (event_id, seat_id, r, c, label, price)
			SELECT LAST_INSERT_ID(), seq, seq DIV $TKD_COLS, seq MOD $TKD_COLS,
			       CONCAT('U', seq), 1000 + (seq DIV $TKD_COLS) * 10
			FROM seq_0_to_$((TKD_ROWS * TKD_COLS - 1))" || {
			tkd_log "cannot add the event"
			return 1
		}
		tkd_launch "$@" || return 1
		TKD_EVENT_ID=$(tkd_event_id)
	fi
	if [ -z "$TKD_EVENT_ID" ]; then
		tkd_log "the event '$TKD_EVENT_NAME' is not in ticketd's catalogue"
		return 1
	fi
}

# TKD_SESSIONS tokens into $1, one per line (POST /api/sessions, 16 at once).
tkd_mint() {
	local out=$1 cfg=$1.curl n
	: >"$cfg"
	for _ in $(seq 1 "$TKD_SESSIONS"); do
		printf 'url = "%s/api/sessions"\n' "$TKD_BASE" >>"$cfg"
	done
	timeout 120 curl -s --no-progress-meter --parallel --parallel-max 16 -X POST \
		--max-time 10 -w '\n' -K "$cfg" |
		jq -r 'select(.token != null) | .token' >"$out" 2>/dev/null || true
	n=$(grep -cE '^[0-9a-f]{32}$' "$out" || true)
	if [ "$n" -ne "$TKD_SESSIONS" ]; then
		tkd_log "asked for $TKD_SESSIONS sessions, got $n"
		return 1
	fi
}

# What ticketd counted while it ran (UDP outcomes by door, the Redis
# journal's written and dropped entries): one JSON line per round into
# $WORK/daemon/<name>.jsonl, which run_bench.sh puts into the result file.
tkd_record_metrics() { # name
	local m dir=${WORK:-$TKD_RUN_DIR}/daemon
	mkdir -p "$dir"
	m=$(curl -sf --max-time 5 "$TKD_BASE/metrics" 2>/dev/null) || return 0
	jq -nc --arg m "$m" --arg name "$1" '
		[$m | split("\n")[] | select(length > 0 and (startswith("#") | not))
		 | capture("^(?<k>[^ ]+) (?<v>[^ ]+)$")? ] as $kv
		| def sum(re): [$kv[] | select(.k | test(re)) | .v | tonumber] | add // 0;
		{path: $name,
		 udp_answered_xdp: sum("^ticketd_udp_outcomes_total\\{door=\"xdp\",outcome=\"[A-Z_]+\"\\}"),
		 udp_answered_userspace: sum("^ticketd_udp_outcomes_total\\{door=\"userspace\",outcome=\"[A-Z_]+\"\\}"),
		 udp_dropped: sum("^ticketd_udp_outcomes_total\\{.*outcome=\"(dropped|malformed_dropped|ringbuf_full)\"\\}"),
		 journal_written: sum("^ticketd_journal_written_total$"),
		 journal_dropped: sum("^ticketd_journal_dropped_total$")}' \
		>>"$dir/$1.jsonl" 2>/dev/null || true
}

# Common part of a hook's start. Args: hook name, then tkd_launch args.
tkd_hook_start() {
	local name=$1
	shift
	tkd_services_up || return 1
	tkd_launch "$@" || return 1
	tkd_ensure_event "$@" || return 1
	tkd_mint "${WORK:-$TKD_RUN_DIR}/ticketd-$name.tokens" || return 1
	export TKB_TOKENS=${WORK:-$TKD_RUN_DIR}/ticketd-$name.tokens
	export TKB_EVENT=$TKD_EVENT_ID
	export TKB_SEATS=${SEATS:-0-16383}
	export TKB_SERVER_PID=$TKD_PID
	# ticketd's Redis: the journal of every seat change lands there
	TKB_AUX_PIDS="journal_redis:$(tkd_redis_pid)"
	export TKB_AUX_PIDS
	CUR_SERVER_CMD="${TKD_CMD[*]}"
	CUR_SERVER_CMD="${BUILD:-build}/ticketd ${CUR_SERVER_CMD#"$TKD_TICKETD "}"
	tkd_log "$name: ticketd pid $TKD_PID ($TKD_PATH), event $TKD_EVENT_ID, $TKD_SESSIONS sessions"
}

tkd_hook_stop() { # name
	if [ -n "$TKD_PID" ]; then tkd_record_metrics "$1"; fi
	tkd_stop
}
