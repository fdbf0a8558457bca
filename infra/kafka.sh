#!/usr/bin/env bash
# Local single-node Kafka (KRaft, broker + controller in one JVM) from the jars
# infra/install.sh put in .deps/kafka/libs. 127.0.0.1 only; data under $RUN_DIR.
# After the broker answers, creates the ticketing topics that are missing.
#   infra/kafka.sh start|stop|status|topics
# Env: RUN_DIR (<repo>/.run), KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093),
#      KAFKA_LIBS ($DEPS_DIR/kafka/libs, DEPS_DIR=<repo>/.deps), KAFKA_HEAP (512m), JAVA (java),
#      KAFKA_TOPICS ("ticketing.seats ticketing.orders ticketing.payments"),
#      KAFKA_TOPIC_PARTITIONS (3), KAFKA_START_TIMEOUT (60 s),
#      KAFKA_JIT (c1: the JVM compiles with C1 only, the fastest start;
#      full: C1 then C2, ~1.3 s longer to answer, about a third less broker
#      CPU per message once warm -- for long runs such as benchmarks),
#      KAFKA_JVM_OPTS (extra broker JVM options, after and so overriding ours),
#      KAFKA_CDS (1: keep a class-data-sharing archive of the broker's classes,
#      written when a broker started without one stops; halves the start time).
set -euo pipefail
SVC=kafka
# shellcheck source=lib/daemon.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/daemon.sh"

KAFKA_PORT=${KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093}
check_port KAFKA_PORT "$KAFKA_PORT"
check_port KAFKA_CONTROLLER_PORT "$KAFKA_CONTROLLER_PORT"
[[ $KAFKA_PORT != "$KAFKA_CONTROLLER_PORT" ]] || die "KAFKA_PORT and KAFKA_CONTROLLER_PORT must differ"
KAFKA_LIBS=${KAFKA_LIBS:-${DEPS_DIR:-$REPO_DIR/.deps}/kafka/libs}
KAFKA_HEAP=${KAFKA_HEAP:-512m}
KAFKA_TOPICS=${KAFKA_TOPICS:-ticketing.seats ticketing.orders ticketing.payments}
KAFKA_TOPIC_PARTITIONS=${KAFKA_TOPIC_PARTITIONS:-3}
JAVA=${JAVA:-java}
START_TIMEOUT=${KAFKA_START_TIMEOUT:-60}
BOOTSTRAP=127.0.0.1:$KAFKA_PORT

DIR=$RUN_DIR/kafka
DATADIR=$DIR/data
PROPS=$DIR/server.properties
LOG4J=$DIR/log4j2.properties
TOOLS_LOG4J=$DIR/tools-log4j2.properties
CLUSTER_ID_FILE=$DIR/cluster.id
PIDFILE=$PID_DIR/kafka.pid
LOG=$LOG_DIR/kafka.log       # broker log (log4j)
OUT=$LOG_DIR/kafka.out       # JVM stdout/stderr (crashes, JVM warnings)
TOOLS_LOG=$LOG_DIR/kafka-tools.log
KAFKA_CDS=${KAFKA_CDS:-1}
KAFKA_JIT=${KAFKA_JIT:-c1}
case $KAFKA_JIT in
c1) JIT_OPTS=(-XX:TieredStopAtLevel=1) ;;
full) JIT_OPTS=() ;;
*) die "KAFKA_JIT must be c1 or full, not '$KAFKA_JIT'" ;;
esac
CDS_DIR=$(dirname "$KAFKA_LIBS")/cds
CDS_PENDING=$DIR/cds.pending # archive the running broker writes when it exits

# Small heap, serial GC and (KAFKA_JIT=c1) C1 only: the broker carries a few
# thousand messages a second at most here, and on 2 cores these cut its start
# time (~3.1 s -> ~2.6 s; the CDS archive below takes it to ~1.3 s). C1-only
# code costs more CPU per request once warm: the orders benchmark measured
# the broker at 1.75 -> 1.12 CPU ms per order at 100/s and 0.43 -> 0.39 at
# 500/s with C2 (KAFKA_JIT=full), which answered ~1.3 s later (1.3-3.3 s ->
# 2.6-7.2 s, three starts each on a loaded machine); tests start the broker
# often, so they keep C1.
JVM_OPTS=(-Xmx"$KAFKA_HEAP" -Xms256m -XX:+UseSerialGC "${JIT_OPTS[@]}"
    -Xshare:auto -Djava.awt.headless=true -Dfile.encoding=UTF-8 -Djava.net.preferIPv4Stack=true)
read -r -a EXTRA_JVM_OPTS <<<"${KAFKA_JVM_OPTS:-}"
JVM_OPTS+=("${EXTRA_JVM_OPTS[@]}")
TOOL_JVM_OPTS=(-Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto
    -Djava.awt.headless=true -Dlog4j2.configurationFile="$TOOLS_LOG4J")

our_pid() { running_pid "$PIDFILE" java "$PROPS" || pid_by_cmdline java "kafka.Kafka $PROPS"; }

# The archive is only valid for this JVM build and these exact jars, so its
# name hashes both; a stale one is simply not used.
cds_archive() {
    local java_bin
    java_bin=$(readlink -f "$(command -v "$JAVA")")
    printf '%s/kafka-%s.jsa\n' "$CDS_DIR" "$({
        stat -c '%n %s %Y' "$java_bin"
        ls -l --time-style=+%s "$KAFKA_LIBS"
    } | cksum | cut -d' ' -f1)"
}

# Options for the broker JVM: use the archive, or have this run write it.
cds_opts() {
    [[ $KAFKA_CDS == 1 ]] || return 0
    local archive
    archive=$(cds_archive) || return 0
    if [[ -s $archive ]]; then
        printf '%s\n' "-XX:SharedArchiveFile=$archive"
    elif mkdir -p "$CDS_DIR" 2>/dev/null; then
        printf '%s\n%s\n' "$archive" "$archive.tmp.$$" >"$CDS_PENDING"
        printf '%s\n' "-XX:ArchiveClassesAtExit=$archive.tmp.$$"
    fi
}

# After the broker is gone: keep the archive it wrote on a clean exit.
cds_collect() { # clean-exit(0|1)
    [[ -s $CDS_PENDING ]] || return 0
    local -a pending
    mapfile -t pending <"$CDS_PENDING"
    rm -f "$CDS_PENDING"
    local archive=${pending[0]:-} tmp=${pending[1]:-}
    [[ -n $archive && -n $tmp && -e $tmp ]] || return 0
    if [[ $1 == 1 && -s $tmp && ! -e $archive ]]; then
        mv -f "$tmp" "$archive"
        # Archives for older jars or JVMs are dead weight (a broker still
        # using one has it mapped; removing the name does not disturb it).
        find "$CDS_DIR" -maxdepth 1 -name 'kafka-*.jsa' ! -path "$archive" -delete 2>/dev/null || true
    else
        rm -f "$tmp"
    fi
}

port_answers() { (exec 3<>"/dev/tcp/127.0.0.1/$KAFKA_PORT") 2>/dev/null; }
# A metadata request for a topic that does not exist: succeeds only when the
# broker has joined the (one-node) cluster and serves metadata.
metadata_ok() { kcat -b "$BOOTSTRAP" -L -t __probe -m 3 >/dev/null 2>&1; }
answers() { port_answers && metadata_ok; }

need_libs() {
    compgen -G "$KAFKA_LIBS/kafka_2.13-*.jar" >/dev/null ||
        die "no Kafka jars in $KAFKA_LIBS; run 'make deps' (infra/install.sh) first"
}

kafka_tool() { # main-class args...
    "$JAVA" "${TOOL_JVM_OPTS[@]}" -cp "$KAFKA_LIBS/*" "$@" {LOCK_FD}>&-
}

write_config() {
    mkdir -p "$DATADIR"
    cat >"$PROPS.tmp" <<CONF
# Generated by infra/kafka.sh on every start; edit that script, not this file.
process.roles=broker,controller
node.id=1
# Static voter set (formatted with a cluster id, not --standalone): nothing
# about the controller address is stored, so the ports may change between runs.
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$DATADIR
metadata.log.dir=$DATADIR
auto.create.topics.enable=false
num.partitions=$KAFKA_TOPIC_PARTITIONS
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=3
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# ticketd's shard group (issue #16) uses a 3 s session timeout so a dead
# node's events move within seconds; the default floor is 6 s.
group.min.session.timeout.ms=1000
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
log.retention.hours=168
CONF
    mv -f "$PROPS.tmp" "$PROPS"
    local f pattern
    for f in "$LOG4J" "$TOOLS_LOG4J"; do
        [[ $f == "$LOG4J" ]] && pattern=$LOG || pattern=$TOOLS_LOG
        cat >"$f.tmp" <<CONF
# Generated by infra/kafka.sh.
status = warn
appender.file.type = RollingFile
appender.file.name = file
appender.file.fileName = $pattern
appender.file.filePattern = $pattern.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 20MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = $([[ $f == "$LOG4J" ]] && echo INFO || echo WARN)
rootLogger.appenderRef.file.ref = file
CONF
        mv -f "$f.tmp" "$f"
    done
}

format_storage() {
    [[ -s $DATADIR/meta.properties ]] && return 0
    local id
    if [[ -s $CLUSTER_ID_FILE ]]; then
        id=$(<"$CLUSTER_ID_FILE")
    else
        # A Kafka cluster id is 16 random bytes in URL-safe base64 without padding.
        id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
        printf '%s\n' "$id" >"$CLUSTER_ID_FILE"
    fi
    say "formatting storage in $DATADIR (cluster id $id)"
    # --cluster-id=ID: a random id may start with '-', which the tool's
    # argument parser would take for an option after a separate -t
    if ! kafka_tool kafka.tools.StorageTool format --cluster-id="$id" -c "$PROPS" --ignore-formatted \
        >>"$TOOLS_LOG" 2>&1; then
        show_log_tail "$TOOLS_LOG"
        die "formatting Kafka storage failed"
    fi
}

existing_topics() {
    kcat -b "$BOOTSTRAP" -L -m 5 2>/dev/null | sed -nE 's/^  topic "([^"]+)".*/\1/p'
}

ensure_topics() {
    local have t missing=() pids=() rc=0 i
    have=$'\n'$(existing_topics)$'\n' || die "cannot list topics on $BOOTSTRAP"
    for t in $KAFKA_TOPICS; do
        [[ $have == *$'\n'"$t"$'\n'* ]] || missing+=("$t")
    done
    ((${#missing[@]})) || return 0
    say "creating topics: ${missing[*]}"
    # One JVM per topic (TopicCommand takes one); run them side by side.
    for t in "${missing[@]}"; do
        kafka_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" \
            --create --if-not-exists --topic "$t" \
            --partitions "$KAFKA_TOPIC_PARTITIONS" --replication-factor 1 \
            >>"$TOOLS_LOG" 2>&1 &
        pids+=($!)
    done
    for i in "${!pids[@]}"; do
        wait "${pids[$i]}" || { rc=1; warn "creating topic ${missing[$i]} failed"; }
    done
    if ((rc)); then
        show_log_tail "$TOOLS_LOG"
        die "could not create topics"
    fi
}

start() {
    need_cmd "$JAVA" kcat ss flock setsid
    need_libs
    take_lock
    local pid
    if pid=$(our_pid); then
        if WAIT_PID=$pid WAIT_COMM=java wait_until "$START_TIMEOUT" answers; then
            ensure_topics
            say "already running (pid $pid, $BOOTSTRAP)"
            return 0
        fi
        die "pid $pid runs but $BOOTSTRAP does not answer metadata requests; try '$0 stop'"
    fi
    rm -f "$PIDFILE"
    ensure_port_free "$KAFKA_PORT" KAFKA_PORT
    ensure_port_free "$KAFKA_CONTROLLER_PORT" KAFKA_CONTROLLER_PORT
    write_config
    format_storage
    local t0=${EPOCHREALTIME/[.,]/}
    printf '\n=== %s start\n' "$(date -Is)" >>"$OUT"
    rm -f "$CDS_PENDING"
    local cds
    cds=$(cds_opts)
    # setsid + nohup: the broker outlives this script and its terminal.
    setsid nohup "$JAVA" "${JVM_OPTS[@]}" ${cds:+"$cds"} \
        -Dlog4j2.configurationFile="$LOG4J" -Dkafka.logs.dir="$LOG_DIR" \
        -cp "$KAFKA_LIBS/*" kafka.Kafka "$PROPS" \
        </dev/null >>"$OUT" 2>&1 {LOCK_FD}>&- &
    pid=$!
    printf '%s\n' "$pid" >"$PIDFILE"
    local rc=0
    WAIT_PID=$pid WAIT_COMM=java wait_until "$START_TIMEOUT" answers || rc=$?
    if ((rc != 0)); then
        show_log_tail "$OUT"
        show_log_tail "$LOG"
        if ((rc == 2)); then
            rm -f "$PIDFILE"
            cds_collect 0
            die "the broker exited during start"
        fi
        stop_pid "$pid" java 20
        rm -f "$PIDFILE"
        cds_collect 0
        die "the broker did not answer on $BOOTSTRAP within ${START_TIMEOUT}s (stopped it again)"
    fi
    local ms=$(((${EPOCHREALTIME/[.,]/} - t0) / 1000))
    say "broker answers after $((ms / 1000)).$(printf '%03d' $((ms % 1000)))s"
    ensure_topics
    say "started (pid $pid, $BOOTSTRAP, controller 127.0.0.1:$KAFKA_CONTROLLER_PORT, data $DATADIR)"
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
    stop_pid "$pid" java "${KAFKA_STOP_TIMEOUT:-30}"
    rm -f "$PIDFILE"
    cds_collect "$((STOP_KILLED ? 0 : 1))"
    say "stopped (pid $pid)"
}

status() {
    local pid
    if pid=$(our_pid); then
        if answers; then
            say "running (pid $pid, $BOOTSTRAP)"
            return 0
        fi
        say "pid $pid runs but $BOOTSTRAP does not answer"
        return 1
    fi
    say "stopped"
    return 3
}

case ${1:-} in
start) start ;;
stop) stop ;;
status) status ;;
topics)
    need_cmd kcat
    existing_topics
    ;;
*) usage_svc topics ;;
esac
