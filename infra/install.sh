#!/usr/bin/env bash
# Installs what the project needs on Debian 12, as root; idempotent and quick
# when everything is already there (make deps runs it before run/test/bench).
#   1. Debian packages from infra/packages.txt that are missing (one apt run)
#   2. pytest, requests and kubernetes-validate (the offline schema checker
#      of tests/ops/test_k8s.sh) for python3 (pip, only if missing)
#   3. bpffs mounted at /sys/fs/bpf
#   4. Kafka broker jars (version pinned in infra/kafka/pom.xml) in .deps/kafka/libs
# Env: DEPS_DIR (<repo>/.deps), KAFKA_FALLBACK_VERSION (4.1.1).
set -euo pipefail

INFRA_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$INFRA_DIR/.." && pwd)
DEPS_DIR=${DEPS_DIR:-$REPO_DIR/.deps}
PKG_LIST=$INFRA_DIR/packages.txt
KAFKA_POM=$INFRA_DIR/kafka/pom.xml
KAFKA_FALLBACK_VERSION=${KAFKA_FALLBACK_VERSION:-4.1.1}

say() { printf 'install: %s\n' "$*"; }
warn() { printf 'install: warning: %s\n' "$*" >&2; }
die() { printf 'install: error: %s\n' "$*" >&2; exit 1; }

is_root() { [[ $EUID == 0 ]]; }

# --- 1. Debian packages ---------------------------------------------------

wanted_packages() {
    sed -e 's/#.*//' -e 's/[[:space:]]\+/\n/g' "$PKG_LIST" | awk NF
}

missing_packages() {
    local -a want
    mapfile -t want < <(wanted_packages)
    ((${#want[@]})) || die "$PKG_LIST lists no packages"
    # Unknown names make dpkg-query fail and print nothing for them: they count as missing.
    local -A ok=()
    local p
    while read -r p; do ok[$p]=1; done < <(
        dpkg-query -W -f='${Package} ${Status}\n' "${want[@]}" 2>/dev/null |
            awk '$NF == "installed" && $(NF-1) == "ok" {print $1}' || true
    )
    for p in "${want[@]}"; do
        [[ -n ${ok[$p]:-} ]] || printf '%s\n' "$p"
    done
}

# Listeners of a system mariadbd/redis-server on the distribution's default ports.
system_daemon_pids() {
    ss -Hltnp '( sport = :3306 or sport = :6379 )' 2>/dev/null |
        grep -oE '"(mariadbd|mysqld|redis-server)",pid=[0-9]+' | sed 's/.*pid=//' | sort -u || true
}

install_packages() {
    local -a missing
    mapfile -t missing < <(missing_packages)
    ((${#missing[@]})) || return 0
    is_root || die "missing packages (${missing[*]}); run as root to install them"
    say "installing: ${missing[*]}"

    # Without systemd a package's postinst may start its service through
    # invoke-rc.d; a temporary policy-rc.d says no (our scripts run their own).
    local policy=/usr/sbin/policy-rc.d own_policy=0 before after p
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\n# temporary, from infra/install.sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        own_policy=1
        trap 'if [[ $own_policy == 1 ]]; then rm -f /usr/sbin/policy-rc.d; fi' EXIT
    fi
    before=$(system_daemon_pids)

    apt-get update -q || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" ||
        die "apt-get install failed for: ${missing[*]}"

    if ((own_policy)); then rm -f "$policy"; own_policy=0; fi
    # Stop any system mariadbd/redis-server the install started anyway.
    after=$(system_daemon_pids)
    for p in $after; do
        grep -qxF "$p" <<<"$before" && continue
        say "stopping system $(cat "/proc/$p/comm" 2>/dev/null) (pid $p) started by the package install"
        kill -TERM "$p" 2>/dev/null || true
        for _ in $(seq 100); do [[ -e /proc/$p ]] || break; sleep 0.1; done
        if [[ -e /proc/$p ]]; then kill -KILL "$p" 2>/dev/null || true; fi
    done

    mapfile -t missing < <(missing_packages)
    ((${#missing[@]} == 0)) || die "still missing after apt-get install: ${missing[*]}"
}

# --- 2. pytest ----------------------------------------------------------------

has_pytest() {
    python3 -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("pytest") is None)' 2>/dev/null
}

install_pytest() {
    command -v python3 >/dev/null || die "python3 not found"
    has_pytest && return 0
    say "pytest missing for $(command -v python3); installing it with pip"
    if ! python3 -m pip install -q pytest; then
        # Debian's own python3 refuses pip installs (externally managed).
        if [[ $(readlink -f "$(command -v python3)") == /usr/bin/python3* ]] && is_root; then
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-pytest ||
                die "could not install pytest"
        else
            die "could not install pytest for $(command -v python3)"
        fi
    fi
    python3 -m pytest --version >/dev/null 2>&1 || die "python3 -m pytest still does not work"
}

# The integration tests speak HTTP with requests.
install_requests() {
    python3 -c 'import requests' 2>/dev/null && return 0
    say "python requests missing; installing it with pip"
    python3 -m pip install -q requests ||
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-requests ||
        die "could not install python requests"
}

# The Kubernetes manifests' schema checker; optional: without it
# tests/ops/test_k8s.sh checks YAML syntax only and says so.
install_kubernetes_validate() {
    command -v kubernetes-validate >/dev/null && return 0
    say "kubernetes-validate missing; installing it with pip"
    timeout 300 python3 -m pip install -q kubernetes-validate 2>/dev/null ||
        timeout 300 python3 -m pip install -q --break-system-packages kubernetes-validate ||
        say "could not install kubernetes-validate; the manifests get a YAML syntax check only"
}

# --- 3. bpffs -----------------------------------------------------------------

mount_bpffs() {
    mountpoint -q /sys/fs/bpf && return 0
    is_root || die "/sys/fs/bpf is not mounted; run as root to mount bpffs"
    mkdir -p /sys/fs/bpf
    mount -t bpf bpf /sys/fs/bpf || die "cannot mount bpffs at /sys/fs/bpf"
    say "mounted bpffs at /sys/fs/bpf"
}

# --- 4. Kafka jars ------------------------------------------------------------

fetch_kafka_version() { # version outdir log
    mvn -B -q -Dstyle.color=never -f "$KAFKA_POM" \
        dependency:copy-dependencies -DincludeScope=runtime \
        -Dkafka.version="$1" -DoutputDirectory="$2" >>"$3" 2>&1 &&
        compgen -G "$2/kafka_2.13-$1.jar" >/dev/null
}

fetch_kafka() {
    local version kdir stamp tmp log used
    version=$(sed -n 's:.*<kafka.version>\([^<]*\)</kafka.version>.*:\1:p' "$KAFKA_POM" | head -n1)
    [[ -n $version ]] || die "no <kafka.version> in $KAFKA_POM"
    kdir=$DEPS_DIR/kafka
    stamp=$kdir/.stamp-$version
    [[ -e $stamp && -d $kdir/libs ]] && return 0

    command -v mvn >/dev/null || die "mvn not found (package maven)"
    command -v java >/dev/null || die "java not found (package openjdk-17-jre-headless)"
    local jv
    jv=$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
    if ! [[ ${jv%%.*} =~ ^[0-9]+$ ]] || ((${jv%%.*} < 17)); then
        die "Kafka 4.x needs Java 17 or newer; 'java' is version '${jv:-unknown}'"
    fi

    mkdir -p "$kdir"
    tmp=$kdir/libs.new.$$
    log=$kdir/mvn.log
    : >"$log"
    rm -rf "$tmp"
    say "fetching Kafka $version broker jars into $kdir/libs"
    used=$version
    if ! fetch_kafka_version "$version" "$tmp" "$log"; then
        warn "Kafka $version did not resolve (see $log); falling back to $KAFKA_FALLBACK_VERSION"
        rm -rf "$tmp"
        used=$KAFKA_FALLBACK_VERSION
        if ! fetch_kafka_version "$used" "$tmp" "$log"; then
            tail -n 30 "$log" >&2
            rm -rf "$tmp"
            die "could not fetch the Kafka jars (log: $log)"
        fi
    fi
    # Swap in the complete set in one step; a half-copied libs/ never has the name.
    rm -rf "$kdir/libs.old"
    [[ -d $kdir/libs ]] && mv "$kdir/libs" "$kdir/libs.old"
    mv "$tmp" "$kdir/libs"
    rm -rf "$kdir/libs.old"
    rm -f "$kdir"/.stamp-*
    # The stamp is named for the pinned version and records the one in use.
    printf '%s\n' "$used" >"$stamp"
    if [[ $used != "$version" ]]; then
        warn "using Kafka $used instead of the pinned $version"
    fi
    say "Kafka $used: $(find "$kdir/libs" -name '*.jar' | wc -l) jars"
}

# Node.js comes with the machine image (Debian 12's nodejs 18 is too old for
# Vite 8, which needs 20.19 or newer); say so clearly instead of failing later.
check_node() {
    local v
    command -v node >/dev/null 2>&1 || die "node (>= 20.19) is required to build web/; install Node.js 20 or newer"
    v=$(node -p 'process.versions.node')
    node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a==20&&b>=19)?0:1)' ||
        die "node $v is too old: web/ needs Node.js 20.19 or newer"
}

[[ -r $PKG_LIST ]] || die "cannot read $PKG_LIST"
check_node
install_packages
install_pytest
install_requests
install_kubernetes_validate
mount_bpffs
fetch_kafka
