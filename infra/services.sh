#!/usr/bin/env bash
# Starts, stops or reports the local backing services, all or the named ones.
#   infra/services.sh start|stop|status [redis] [mariadb] [kafka]
# Starts in the order redis, mariadb, kafka and stops in the reverse order.
# Env: whatever infra/redis.sh, infra/mariadb.sh and infra/kafka.sh read.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SVC=services
# shellcheck source=lib/daemon.sh
source "$here/lib/daemon.sh" # RUN_DIR, PID_DIR, await_reaped
ALL=(redis mariadb kafka)

usage() {
    echo "usage: $0 start|stop|status [redis] [mariadb] [kafka]" >&2
    exit 2
}

(($# >= 1)) || usage
action=$1
shift
case $action in start | stop | status) ;; *) usage ;; esac

picked=()
if (($# == 0)); then
    picked=("${ALL[@]}")
else
    for s in "${ALL[@]}"; do # keep the canonical order whatever the argument order
        for a in "$@"; do [[ $a == "$s" ]] && { picked+=("$s"); break; }; done
    done
    for a in "$@"; do
        [[ " ${ALL[*]} " == *" $a "* ]] || { echo "services: unknown service '$a' (know: ${ALL[*]})" >&2; exit 2; }
    done
fi

rc=0
case $action in
start)
    for s in "${picked[@]}"; do "$here/$s.sh" start; done
    ;;
stop)
    # Remember the pids, stop without waiting for init to reap each one, then
    # wait for all of them together (see await_reaped in lib/daemon.sh).
    pids=()
    for s in "${picked[@]}"; do
        [[ -s $PID_DIR/$s.pid ]] && pids+=("$(tr -dc '0-9' <"$PID_DIR/$s.pid")")
    done
    # Try every service even if one fails, so nothing is left behind.
    for ((i = ${#picked[@]} - 1; i >= 0; i--)); do
        INFRA_REAP_WAIT=0 "$here/${picked[$i]}.sh" stop || rc=1
    done
    ((${#pids[@]} == 0)) || await_reaped "${pids[@]}"
    ;;
status)
    for s in "${picked[@]}"; do "$here/$s.sh" status || rc=1; done
    ;;
esac
exit "$rc"
