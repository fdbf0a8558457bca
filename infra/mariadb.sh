#!/usr/bin/env bash
# Local MariaDB for ticketd: own datadir, socket, pid file and log under
# $RUN_DIR, 127.0.0.1 only, never the system config or /var/lib/mysql.
# The first start initialises the datadir and creates the application
# database and user; later starts keep the data. Started by root, mariadbd
# runs as the OS user `mysql` (MARIADB_OS_USER), which owns $RUN_DIR/mariadb;
# if that user cannot reach $RUN_DIR (a checkout under /root, say), the data
# lives in /var/lib/ticket-mariadb/<hash of RUN_DIR> and $RUN_DIR/mariadb
# links to it. The application user gets only the privileges ticketd needs,
# on its database only (APP_GRANTS below).
#   infra/mariadb.sh start|stop|status|sql [mariadb client args...]
# Env: RUN_DIR (<repo>/.run), MARIADB_PORT (3307), MARIADB_DATABASE (ticketing),
#      MARIADB_USER (ticket), MARIADB_PASSWORD (ticket), MARIADB_OS_USER (mysql).
set -euo pipefail
SVC=mariadb
# shellcheck source=lib/daemon.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/daemon.sh"

MARIADB_PORT=${MARIADB_PORT:-3307}
MARIADB_DATABASE=${MARIADB_DATABASE:-ticketing}
MARIADB_USER=${MARIADB_USER:-ticket}
MARIADB_PASSWORD=${MARIADB_PASSWORD:-ticket}
check_port MARIADB_PORT "$MARIADB_PORT"
[[ $MARIADB_DATABASE =~ ^[A-Za-z0-9_]+$ ]] || die "MARIADB_DATABASE='$MARIADB_DATABASE': use letters, digits, _"
[[ $MARIADB_USER =~ ^[A-Za-z0-9_]+$ ]] || die "MARIADB_USER='$MARIADB_USER': use letters, digits, _"

# What ticketd does: reads and writes rows, and its migrations create and
# alter tables, sequences and their keys. Nothing global, no DROP, no GRANT.
APP_GRANTS="SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, REFERENCES"

# Root does not run the server: the OS user that will.
if ((EUID == 0)); then
    OS_USER=${MARIADB_OS_USER:-mysql}
    id -u "$OS_USER" >/dev/null 2>&1 || die "OS user '$OS_USER' does not exist (the mariadb-server package creates 'mysql'); set MARIADB_OS_USER"
else
    OS_USER=$(id -un)
fi
as_os_user() { if ((EUID == 0)); then setpriv --reuid="$OS_USER" --regid="$OS_USER" --clear-groups -- "$@"; else "$@"; fi; }
USER_ARGS=() # --user is for root only (mariadbd warns otherwise)
((EUID == 0)) && USER_ARGS=(--user="$OS_USER")

DIR=$RUN_DIR/mariadb
if ((EUID == 0)) && ! as_os_user test -x "$RUN_DIR"; then
    # A parent of the checkout is closed to $OS_USER: keep the data where it
    # can go, and leave a link where people look for it.
    DIR=/var/lib/ticket-mariadb/$(printf '%s' "$RUN_DIR" | sha1sum | cut -c1-12)
fi
DATADIR=$DIR/data
SOCK=$DIR/mariadb.sock
PIDFILE=$DIR/mariadb.pid # written by mariadbd itself, as $OS_USER
PIDCOPY=$PID_DIR/mariadb.pid # where the other services' pid files are (bench reads it)
LOG=$LOG_DIR/mariadb.log
START_TIMEOUT=${MARIADB_START_TIMEOUT:-30}
((${#SOCK} < 108)) || die "socket path $SOCK is too long for a unix socket; use a shorter RUN_DIR"

our_pid() { running_pid "$PIDFILE" mariadbd "$DATADIR" || pid_by_cmdline mariadbd "--datadir=$DATADIR "; }

# Root over our socket (unix_socket auth: we run as OS root).
root_sql() { mariadb --no-defaults --protocol=socket -S "$SOCK" -u root; }
server_up() { mariadb-admin --no-defaults --protocol=socket -S "$SOCK" -u root ping; }
app_answers() {
    MYSQL_PWD=$MARIADB_PASSWORD mariadb --no-defaults -h 127.0.0.1 -P "$MARIADB_PORT" \
        -u "$MARIADB_USER" -N -B -e 'select 1' "$MARIADB_DATABASE"
}

sql_quote() { # single-quoted SQL string literal
    local s=${1//\\/\\\\}
    printf "'%s'" "${s//\'/\\\'}"
}

provision() {
    local pw host
    pw=$(sql_quote "$MARIADB_PASSWORD")
    {
        # shellcheck disable=SC2016 # the backticks are SQL quoting
        printf 'CREATE DATABASE IF NOT EXISTS `%s` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;\n' "$MARIADB_DATABASE"
        for host in 127.0.0.1 localhost; do
            printf "CREATE USER IF NOT EXISTS '%s'@'%s' IDENTIFIED BY %s;\n" "$MARIADB_USER" "$host" "$pw"
            printf "ALTER USER '%s'@'%s' IDENTIFIED BY %s;\n" "$MARIADB_USER" "$host" "$pw"
            # Start from nothing (older runs granted ALL), then what ticketd needs.
            printf "REVOKE ALL PRIVILEGES, GRANT OPTION FROM '%s'@'%s';\n" "$MARIADB_USER" "$host"
            printf "GRANT %s ON \`%s\`.* TO '%s'@'%s';\n" "$APP_GRANTS" "$MARIADB_DATABASE" "$MARIADB_USER" "$host"
        done
    } | root_sql
}

init_datadir() {
    say "initialising $DATADIR (first start)"
    rm -rf "$DATADIR.init"
    mkdir -p "$DATADIR.init"
    ((EUID == 0)) && chown "$OS_USER:" "$DATADIR.init"
    if ! mariadb-install-db --no-defaults --datadir="$DATADIR.init" "${USER_ARGS[@]}" \
        --auth-root-authentication-method=socket --skip-test-db --skip-name-resolve \
        >>"$LOG" 2>&1 {LOCK_FD}>&-; then
        show_log_tail "$LOG"
        die "mariadb-install-db failed"
    fi
    mv "$DATADIR.init" "$DATADIR" # only a complete datadir gets the real name
}

# $DIR and everything in it belong to $OS_USER (older runs made them as
# root); the log file too, since mariadbd opens it after dropping root.
prepare_dir() {
    if [[ $DIR != "$RUN_DIR/mariadb" ]]; then
        mkdir -p "$DIR"
        chmod 0755 "$(dirname "$DIR")"
        if [[ -d $RUN_DIR/mariadb && ! -L $RUN_DIR/mariadb ]]; then
            [[ -e $DATADIR ]] && die "both $RUN_DIR/mariadb and $DIR hold data; keep one"
            mv "$RUN_DIR/mariadb"/* "$DIR"/ 2>/dev/null || true
            rmdir "$RUN_DIR/mariadb"
        fi
        ln -sfn "$DIR" "$RUN_DIR/mariadb"
    fi
    mkdir -p "$DIR" "$DIR/tmp"
    chmod 0750 "$DIR"
    touch "$LOG"
    if ((EUID == 0)); then
        find "$DIR" ! -user "$OS_USER" -exec chown -h "$OS_USER:" {} +
        chown "$OS_USER:" "$LOG"
    fi
    as_os_user test -w "$DIR" || die "$OS_USER cannot write $DIR"
}

start() {
    need_cmd mariadbd mariadb mariadb-admin mariadb-install-db ss flock setsid setpriv
    take_lock
    local pid
    if pid=$(our_pid); then
        if WAIT_PID=$pid WAIT_COMM=mariadbd wait_until "$START_TIMEOUT" server_up; then
            app_answers >/dev/null 2>&1 || provision
            printf '%s\n' "$pid" >"$PIDCOPY"
            say "already running (pid $pid, 127.0.0.1:$MARIADB_PORT)"
            return 0
        fi
        die "pid $pid runs but does not answer on $SOCK; try '$0 stop'"
    fi
    rm -f "$PIDFILE" "$PID_DIR/mariadb.pid"
    ensure_port_free "$MARIADB_PORT" MARIADB_PORT
    prepare_dir
    [[ -d $DATADIR/mysql ]] || init_datadir
    rm -f "$SOCK"
    # --no-defaults first: no /etc/mysql config, no ~/.my.cnf.
    setsid mariadbd --no-defaults \
        --datadir="$DATADIR" --socket="$SOCK" --pid-file="$PIDFILE" \
        --port="$MARIADB_PORT" --bind-address=127.0.0.1 --skip-name-resolve \
        "${USER_ARGS[@]}" --tmpdir="$DIR/tmp" --log-error="$LOG" \
        --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
        --innodb-buffer-pool-size=128M --max-connections=500 \
        </dev/null >>"$LOG" 2>&1 {LOCK_FD}>&- &
    local launched=$! rc=0
    WAIT_PID=$launched WAIT_COMM=mariadbd wait_until "$START_TIMEOUT" server_up || rc=$?
    if ((rc != 0)); then
        show_log_tail "$LOG"
        ((rc == 2)) && die "mariadbd exited during start"
        stop_pid "$launched" mariadbd 10
        die "mariadb did not answer on $SOCK within ${START_TIMEOUT}s (stopped it again)"
    fi
    pid=$(our_pid) || pid=$launched
    printf '%s\n' "$pid" >"$PIDCOPY"
    provision || { show_log_tail "$LOG"; die "could not create database/user"; }
    app_answers >/dev/null || die "user $MARIADB_USER cannot log in to 127.0.0.1:$MARIADB_PORT/$MARIADB_DATABASE"
    say "started (pid $pid, 127.0.0.1:$MARIADB_PORT, socket $SOCK, db $MARIADB_DATABASE, user $MARIADB_USER)"
}

stop() {
    need_cmd flock
    take_lock
    local pid
    if ! pid=$(our_pid); then
        rm -f "$PIDFILE" "$PIDCOPY"
        say "not running"
        return 0
    fi
    # SIGTERM is a clean InnoDB shutdown; give it time to flush.
    stop_pid "$pid" mariadbd "${MARIADB_STOP_TIMEOUT:-30}"
    rm -f "$PIDFILE" "$PIDCOPY" "$SOCK"
    say "stopped (pid $pid)"
}

status() {
    local pid
    if pid=$(our_pid); then
        if app_answers >/dev/null 2>&1; then
            say "running (pid $pid, 127.0.0.1:$MARIADB_PORT)"
            return 0
        fi
        say "pid $pid runs but $MARIADB_USER cannot query 127.0.0.1:$MARIADB_PORT/$MARIADB_DATABASE"
        return 1
    fi
    say "stopped"
    return 3
}

case ${1:-} in
start) start ;;
stop) stop ;;
status) status ;;
sql)
    shift
    export MYSQL_PWD=$MARIADB_PASSWORD
    exec mariadb --no-defaults -h 127.0.0.1 -P "$MARIADB_PORT" -u "$MARIADB_USER" "$MARIADB_DATABASE" "$@"
    ;;
*) usage_svc sql ;;
esac
