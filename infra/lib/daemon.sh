# shellcheck shell=bash
# Sourced by infra/<svc>.sh: where a service keeps its files, how we know it is
# ours and alive, bounded waits, and a stop that leaves no process behind.
# The caller sets SVC (service name) before sourcing.

INFRA_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPO_DIR=$(cd "$INFRA_DIR/.." && pwd)
RUN_DIR=${RUN_DIR:-$REPO_DIR/.run}
mkdir -p "$RUN_DIR"
RUN_DIR=$(cd "$RUN_DIR" && pwd) # absolute: daemons chdir, and we grep cmdlines for it
LOG_DIR=$RUN_DIR/logs
PID_DIR=$RUN_DIR/pids
mkdir -p "$LOG_DIR" "$PID_DIR"

say() { printf '%s: %s\n' "$SVC" "$*"; }
warn() { printf '%s: warning: %s\n' "$SVC" "$*" >&2; }
die() { printf '%s: error: %s\n' "$SVC" "$*" >&2; exit 1; }

need_cmd() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || die "'$c' not found; run 'make deps' (infra/install.sh) first"
    done
}

check_port() { # name value
    if ! [[ $2 =~ ^[0-9]+$ ]] || (($2 < 1 || $2 > 65535)); then die "$1='$2' is not a TCP port"; fi
}

# One start/stop at a time per service and RUN_DIR; held until the script exits.
take_lock() {
    exec {LOCK_FD}>"$PID_DIR/$SVC.lock"
    flock -w 120 "$LOCK_FD" || die "another '$SVC' start/stop still holds $PID_DIR/$SVC.lock"
}

# True if pid runs, is not a zombie, has command name $2 and (if given) a
# command line containing $3; guards against a recycled pid in a stale pid file.
pid_is() { # pid comm [cmdline-substring]
    local pid=$1 comm=$2 want=${3:-} state cmd
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ -r /proc/$pid/stat ]] || return 1
    state=$(sed -E 's/^.*\) (.).*$/\1/' "/proc/$pid/stat" 2>/dev/null) || return 1
    [[ $state != Z && $state != X ]] || return 1
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$comm" ]] || return 1
    if [[ -n $want ]]; then
        cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
        [[ $cmd == *"$want"* ]] || return 1
    fi
    return 0
}

# Prints the pid from pid file $1 if that process is ours and alive.
running_pid() { # pidfile comm [cmdline-substring]
    local pid
    [[ -s $1 ]] || return 1
    pid=$(head -n1 "$1" 2>/dev/null | tr -dc '0-9')
    pid_is "$pid" "$2" "${3:-}" || return 1
    printf '%s\n' "$pid"
}

# Fallback when the pid file is gone: the one live process with command name
# $1 whose command line contains $2 (fixed string).
pid_by_cmdline() { # comm cmdline-substring
    local pid
    for pid in $(pgrep -x "$1" 2>/dev/null); do
        if pid_is "$pid" "$1" "$2"; then
            printf '%s\n' "$pid"
            return 0
        fi
    done
    return 1
}

port_listening() { # port
    [[ -n $(ss -Hltn "sport = :$1" 2>/dev/null) ]]
}

# Fails with a clear message when somebody else already listens on the port.
ensure_port_free() { # port what
    if port_listening "$1"; then
        die "127.0.0.1:$1 ($2) is already in use by another process:
$(ss -Hltnp "sport = :$1" 2>/dev/null)
set a different port (see infra/README.md) or stop that process"
    fi
}

# A process we just launched with `setsid [nohup] daemon ... &`: $! names the
# forked shell, which becomes setsid, then nohup, then the daemon. Until the
# last exec its command name is one of the launchers; on a loaded machine a
# first check can land there, and that is not an exit.
# The name is read once: checking it against each name in turn could miss
# an exec that lands between two reads.
pid_starting() { # pid comm
    local state name
    [[ $1 =~ ^[0-9]+$ && -r /proc/$1/stat ]] || return 1
    state=$(sed -E 's/^.*\) (.).*$/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
    [[ $state != Z && $state != X ]] || return 1
    name=$(cat "/proc/$1/comm" 2>/dev/null) || return 1
    case $name in "$2" | bash | setsid | nohup) return 0 ;; esac
    return 1
}

# Polls "$@" until it succeeds (returns 0), the process $WAIT_PID dies
# (returns 2) or $1 seconds pass (returns 1).
wait_until() { # seconds cmd...
    local limit=$1
    shift
    local deadline=$((SECONDS + limit)) delay=0.05
    while :; do
        if "$@" >/dev/null 2>&1; then return 0; fi
        if [[ -n ${WAIT_PID:-} ]] && ! pid_starting "$WAIT_PID" "$WAIT_COMM"; then return 2; fi
        ((SECONDS < deadline)) || return 1
        sleep "$delay"
        [[ $delay == 0.05 ]] && delay=0.1 || delay=0.2
    done
}

show_log_tail() { # logfile
    if [[ -s $1 ]]; then
        printf -- '--- last lines of %s ---\n' "$1" >&2
        tail -n 40 "$1" >&2
        printf -- '---\n' >&2
    else
        printf 'no log at %s\n' "$1" >&2
    fi
}

# SIGTERM, wait up to $3 seconds, then SIGKILL and wait again; returns once
# the process is gone (or is a zombie not yet reaped, which holds nothing).
# Sets STOP_KILLED=1 when SIGKILL was needed (kafka.sh reads it).
# shellcheck disable=SC2034 # STOP_KILLED is read by the sourcing script
STOP_KILLED=0
# shellcheck disable=SC2034
stop_pid() { # pid comm grace-seconds
    local pid=$1 comm=$2 grace=$3 ticks
    STOP_KILLED=0
    pid_is "$pid" "$comm" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((ticks = grace * 10; ticks > 0; ticks--)); do
        pid_is "$pid" "$comm" || break
        sleep 0.1
    done
    if pid_is "$pid" "$comm"; then
        warn "pid $pid still running ${grace}s after SIGTERM; sending SIGKILL"
        STOP_KILLED=1
        kill -KILL "$pid" 2>/dev/null || true
        for ((ticks = 100; ticks > 0; ticks--)); do
            pid_is "$pid" "$comm" || break
            sleep 0.1
        done
        pid_is "$pid" "$comm" && die "pid $pid survived SIGKILL"
    fi
    [[ ${INFRA_REAP_WAIT:-1} == 0 ]] || await_reaped "$pid"
    return 0
}

# A stopped process may stay a zombie until init reaps it (this VM's init
# takes 1-2 s); wait a little so `pgrep` right after a stop finds nothing.
await_reaped() { # pid...
    local ticks=80 p
    for p in "$@"; do
        while [[ -e /proc/$p ]] && ((ticks-- > 0)); do sleep 0.05; done
    done
    return 0
}

usage_svc() {
    echo "usage: $0 start|stop|status${1:+|$1}" >&2
    exit 2
}
