#!/usr/bin/env bash
# A private nginx in front of ticketd (Debian's nginx binary, not the system
# service): its config rendered from infra/nginx/*.conf into $RUN_DIR/nginx/,
# its pid file in $RUN_DIR/pids, its logs in $RUN_DIR/logs.
#   infra/nginx.sh start|stop|status|check|reload|render
#     start   render, check (nginx -t), start, wait until it answers
#     stop    stop it (SIGTERM, SIGKILL after NGINX_STOP_TIMEOUT s)
#     status  0 running and answering, 1 running but not answering, 3 stopped
#     check   render and run nginx -t (nothing started)
#     reload  render, check, and make the running nginx load it (SIGHUP)
#     render  only write the config, print its folder
# Env (defaults match `make run`): RUN_DIR (<repo>/.run), NGINX_ADDR
# (127.0.0.1), NGINX_PORT (8088), TICKETD_UPSTREAM (127.0.0.1:$HTTP_PORT,
# HTTP_PORT 8080), NGINX_UPSTREAMS (several ticketd nodes, host:port each,
# blanks or commas between; default TICKETD_UPSTREAM alone), the limits
# below; docs/ops/nginx.md describes them.
set -euo pipefail
shopt -u patsub_replacement 2>/dev/null || true # "&" in a value stays "&"
SVC=nginx
# shellcheck source=lib/daemon.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/daemon.sh"

NGINX_ADDR=${NGINX_ADDR:-127.0.0.1}
NGINX_PORT=${NGINX_PORT:-8088}
check_port NGINX_PORT "$NGINX_PORT"
HTTP_PORT=${HTTP_PORT:-8080}
TICKETD_UPSTREAM=${TICKETD_UPSTREAM:-127.0.0.1:$HTTP_PORT}
# Several nodes: nginx follows a node's 307 WRONG_NODE to the owner itself.
NGINX_UPSTREAMS=${NGINX_UPSTREAMS:-$TICKETD_UPSTREAM}
NGINX_BIN=${NGINX_BIN:-$(command -v nginx || echo /usr/sbin/nginx)}
TEMPLATES=$INFRA_DIR/nginx
PREFIX=$RUN_DIR/nginx
CONF=$PREFIX/conf/nginx.conf
PIDFILE=$PID_DIR/nginx.pid
LOG=$LOG_DIR/nginx-error.log
URL=http://$NGINX_ADDR:$NGINX_PORT

# Settings of the rendered config (ticketing.conf, nginx.conf).
export NGINX_LISTEN=${NGINX_LISTEN:-$NGINX_ADDR:$NGINX_PORT}
export TICKETD_UPSTREAM
export NGINX_HOLD_RATE=${NGINX_HOLD_RATE:-10} NGINX_HOLD_BURST=${NGINX_HOLD_BURST:-40}
export NGINX_ORDER_RATE=${NGINX_ORDER_RATE:-2} NGINX_ORDER_BURST=${NGINX_ORDER_BURST:-10}
export NGINX_SESSION_RATE=${NGINX_SESSION_RATE:-2} NGINX_SESSION_BURST=${NGINX_SESSION_BURST:-20}
export NGINX_CONNS_PER_ADDR=${NGINX_CONNS_PER_ADDR:-64}
export NGINX_STREAMS_PER_ADDR=${NGINX_STREAMS_PER_ADDR:-32}
export NGINX_STREAM_TIMEOUT=${NGINX_STREAM_TIMEOUT:-1h}
export NGINX_MAX_BODY=${NGINX_MAX_BODY:-64k}
export NGINX_UPSTREAM_KEEPALIVE=${NGINX_UPSTREAM_KEEPALIVE:-32}
export NGINX_WORKERS=${NGINX_WORKERS:-auto}
export NGINX_WORKER_CONNECTIONS=${NGINX_WORKER_CONNECTIONS:-8192}
export NGINX_RLIMIT_NOFILE=${NGINX_RLIMIT_NOFILE:-$((NGINX_WORKER_CONNECTIONS * 2))}
NGINX_LIMIT_EXEMPT=${NGINX_LIMIT_EXEMPT:-}   # addresses/blocks the limits skip
NGINX_REAL_IP_FROM=${NGINX_REAL_IP_FROM:-}   # load balancers in front of nginx
export NGINX_PREFIX=$PREFIX NGINX_LOG_DIR=$LOG_DIR NGINX_PID_FILE=$PIDFILE

PLACEHOLDERS=(NGINX_LISTEN TICKETD_UPSTREAM NGINX_HOLD_RATE NGINX_HOLD_BURST
	NGINX_ORDER_RATE NGINX_ORDER_BURST NGINX_SESSION_RATE NGINX_SESSION_BURST
	NGINX_CONNS_PER_ADDR NGINX_STREAMS_PER_ADDR NGINX_STREAM_TIMEOUT
	NGINX_MAX_BODY NGINX_UPSTREAM_KEEPALIVE NGINX_WORKERS
	NGINX_WORKER_CONNECTIONS NGINX_RLIMIT_NOFILE NGINX_PREFIX NGINX_LOG_DIR
	NGINX_PID_FILE NGINX_LIMIT_EXEMPT_GEO NGINX_REAL_IP_CONF
	NGINX_FRONT_SERVERS NGINX_NODE_SERVERS NGINX_NODE_HOSTS)

# A value goes into the config as it is: refuse what could end a directive.
check_value() { # name value
	[[ $2 != *[\;\{\}\'\"\$\\]* ]] || die "$1='$2' contains ; { } quotes, \$ or \\"
}

# Lines for a list of addresses/blocks (blanks or commas between them).
list_lines() { # format list
	local a
	for a in ${2//,/ }; do
		check_value "address" "$a"
		# shellcheck disable=SC2059 # the format is ours
		printf "$1" "$a"
	done
}

# envsubst-style: replaces ${NAME} for the names above only (nginx's own
# $variables stay) and fails on a placeholder left unfilled.
render_file() { # template output
	local text name left
	text=$(<"$1")
	for name in "${PLACEHOLDERS[@]}"; do
		text=${text//"\${$name}"/${!name}}
	done
	left=$(grep -o '\${[A-Z_]*}' <<<"$text" | sort -u | tr '\n' ' ' || true)
	[[ -z $left ]] || die "$1: unknown placeholders: $left"
	printf '%s\n' "$text" >"$2.tmp"
	mv -f "$2.tmp" "$2"
}

render() {
	local name
	for name in "${PLACEHOLDERS[@]}"; do
		case $name in NGINX_LIMIT_EXEMPT_GEO | NGINX_REAL_IP_CONF | NGINX_FRONT_SERVERS | \
			NGINX_NODE_SERVERS | NGINX_NODE_HOSTS) continue ;; esac
		check_value "$name" "${!name}"
	done
	NGINX_LIMIT_EXEMPT_GEO=$(list_lines '    %s 1;\n' "$NGINX_LIMIT_EXEMPT")
	NGINX_REAL_IP_CONF="    # NGINX_REAL_IP_FROM is empty: \$remote_addr is the TCP peer."
	if [[ -n $NGINX_REAL_IP_FROM ]]; then
		NGINX_REAL_IP_CONF="$(list_lines '    set_real_ip_from %s;\n' "$NGINX_REAL_IP_FROM")
    real_ip_header X-Forwarded-For;
    real_ip_recursive on;"
	fi
	# the nodes: host:port each (the 307's Location names them so)
	local a nodes=()
	for a in ${NGINX_UPSTREAMS//,/ }; do
		[[ $a =~ ^[A-Za-z0-9.-]+:[0-9]+$|^\[[0-9A-Fa-f:.]+\]:[0-9]+$ ]] ||
			die "NGINX_UPSTREAMS: '$a' is not host:port"
		nodes+=("$a")
	done
	((${#nodes[@]} >= 1)) || die "NGINX_UPSTREAMS is empty"
	NGINX_NODE_SERVERS=$(list_lines '    server %s max_fails=0;\n' "${nodes[*]}")
	NGINX_NODE_HOSTS=$(list_lines '    "%s" 1;\n' "${nodes[*]}")
	if ((${#nodes[@]} == 1)); then # one node: straight to it, as before
		NGINX_FRONT_SERVERS="    server ${nodes[0]} max_fails=0;"
	else
		NGINX_FRONT_SERVERS="    server unix:$PREFIX/tmp/follow.sock max_fails=0;"
	fi
	export NGINX_LIMIT_EXEMPT_GEO NGINX_REAL_IP_CONF NGINX_FRONT_SERVERS NGINX_NODE_SERVERS NGINX_NODE_HOSTS
	mkdir -p "$PREFIX/conf" "$PREFIX/tmp"
	render_file "$TEMPLATES/nginx.conf" "$PREFIX/conf/nginx.conf"
	render_file "$TEMPLATES/ticketing.conf" "$PREFIX/conf/ticketing.conf"
	render_file "$TEMPLATES/error_headers.conf" "$PREFIX/conf/error_headers.conf"
}

nginx_cmd() { "$NGINX_BIN" -p "$PREFIX/" -e "$LOG" -c "$CONF" "$@"; }

check() {
	[[ -x $NGINX_BIN ]] || die "'$NGINX_BIN' not found; run 'make deps' (infra/install.sh) first"
	render
	nginx_cmd -t -q 2>&1 || { show_log_tail "$LOG"; die "nginx -t refused $CONF"; }
}

# The master of our instance: its command line names our config.
our_pid() {
	running_pid "$PIDFILE" nginx "$CONF" && return 0
	pid_by_cmdline nginx "$CONF"
}

# Any HTTP answer (even a 503 while ticketd is down) means nginx serves.
answers() {
	local code
	code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$URL/healthz" 2>/dev/null) || true
	[[ $code =~ ^[1-5][0-9][0-9]$ ]]
}

start() {
	need_cmd curl ss flock
	take_lock
	local pid
	if pid=$(our_pid); then
		if answers; then
			say "already running (pid $pid, $URL -> $NGINX_UPSTREAMS)"
			return 0
		fi
		die "pid $pid runs but does not answer on $URL; try '$0 stop'"
	fi
	# a killed nginx leaves its unix socket behind (bind would fail)
	rm -f "$PIDFILE" "$PREFIX/tmp/follow.sock"
	check
	ensure_port_free "$NGINX_PORT" NGINX_PORT
	# nginx forks its master into the background and writes the pid file.
	nginx_cmd {LOCK_FD}>&- || { show_log_tail "$LOG"; die "nginx failed to start"; }
	if ! wait_until 5 our_pid; then
		show_log_tail "$LOG"
		die "nginx did not write $PIDFILE"
	fi
	pid=$(our_pid)
	if ! WAIT_PID=$pid WAIT_COMM=nginx wait_until "${NGINX_START_TIMEOUT:-10}" answers; then
		show_log_tail "$LOG"
		die "nginx does not answer on $URL"
	fi
	say "started (pid $pid, $URL -> ticketd $NGINX_UPSTREAMS; config $PREFIX/conf, logs $LOG_DIR/nginx-*.log)"
}

stop() {
	need_cmd flock
	take_lock
	local pid
	if ! pid=$(our_pid); then
		rm -f "$PIDFILE"
		say "not running"
		return 0
	fi
	# SIGTERM: fast shutdown, open streams are cut (clients reconnect).
	stop_pid "$pid" nginx "${NGINX_STOP_TIMEOUT:-10}"
	rm -f "$PIDFILE"
	say "stopped (pid $pid)"
}

status() {
	local pid
	if pid=$(our_pid); then
		if answers; then
			say "running (pid $pid, $URL -> ticketd $NGINX_UPSTREAMS)"
			return 0
		fi
		say "pid $pid runs but does not answer on $URL"
		return 1
	fi
	say "stopped"
	return 3
}

reload() {
	local pid
	pid=$(our_pid) || die "not running; use '$0 start'"
	check
	kill -HUP "$pid"
	say "reloaded (pid $pid)"
}

case ${1:-} in
start) start ;;
stop) stop ;;
status) status ;;
check) check && say "config OK ($CONF)" ;;
reload) reload ;;
render) render && printf '%s\n' "$PREFIX/conf" ;;
*) usage_svc "check|reload|render" ;;
esac
