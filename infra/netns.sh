#!/usr/bin/env bash
# Test network: namespace $TKT_NETNS joined to the host by a veth pair.
#   host side $TKT_HOST_IF  10.77.0.1/24  fd77::1/64
#   ns side   $TKT_NS_IF    10.77.0.2/24  fd77::2/64   (lo up inside the ns)
#   infra/netns.sh up|down|status
# Only the plumbing: ticketd attaches its XDP program itself.
# GRO is switched on at both ends: a veth only accepts XDP_TX/redirected frames
# from its peer when its own NAPI runs (an XDP program or GRO on it), so without
# it every XDP_TX reply from the other end is dropped (ethtool -S: xdp_tx_errors).
# Env: TKT_NETNS (ticket), TKT_HOST_IF (tkt0), TKT_NS_IF (tkt1),
#      TKT_HOST_ADDR (10.77.0.1/24), TKT_NS_ADDR (10.77.0.2/24),
#      TKT_HOST_ADDR6 (fd77::1/64), TKT_NS_ADDR6 (fd77::2/64), TKT_MTU (1500).
set -euo pipefail

NS=${TKT_NETNS:-ticket}
HOST_IF=${TKT_HOST_IF:-tkt0}
NS_IF=${TKT_NS_IF:-tkt1}
HOST_ADDR=${TKT_HOST_ADDR:-10.77.0.1/24}
NS_ADDR=${TKT_NS_ADDR:-10.77.0.2/24}
HOST_ADDR6=${TKT_HOST_ADDR6:-fd77::1/64}
NS_ADDR6=${TKT_NS_ADDR6:-fd77::2/64}
MTU=${TKT_MTU:-1500}

say() { printf 'netns: %s\n' "$*"; }
die() { printf 'netns: error: %s\n' "$*" >&2; exit 1; }

for c in ip ethtool; do
    command -v "$c" >/dev/null || die "'$c' not found; run 'make deps' (infra/install.sh) first"
done
for a in "$HOST_ADDR" "$NS_ADDR"; do [[ $a == */* ]] || die "address '$a' needs a prefix length, e.g. 10.77.0.1/24"; done
for a in "$HOST_ADDR6" "$NS_ADDR6"; do [[ $a == */* ]] || die "address '$a' needs a prefix length, e.g. fd77::1/64"; done

ns_exists() { [[ -e /run/netns/$NS ]] && ip netns exec "$NS" true 2>/dev/null; }
host_if_exists() { ip link show dev "$HOST_IF" >/dev/null 2>&1; }
nsip() { ip -n "$NS" "$@"; }

# Adds an address unless the interface already has it (ip addr replace would
# also do, but would reset the IPv6 lifetimes on every run).
ensure_addr() { # netns-or-"" ifname addr [extra...]
    local ns=$1 dev=$2 addr=$3
    shift 3
    local -a ipc=(ip)
    [[ -n $ns ]] && ipc=(ip -n "$ns")
    if ! "${ipc[@]}" -o addr show dev "$dev" | awk '{print $4}' | grep -qxF "$addr"; then
        "${ipc[@]}" addr add "$addr" dev "$dev" "$@"
    fi
}

up() {
    [[ $EUID == 0 ]] || die "needs root (ip netns / ip link)"
    ns_exists || ip netns add "$NS" || die "cannot create network namespace $NS"
    if host_if_exists; then
        # Our host side must be a veth whose peer sits in the namespace.
        ip -d link show dev "$HOST_IF" | grep -q 'veth' ||
            die "$HOST_IF exists and is not a veth; set TKT_HOST_IF or remove it"
        nsip link show dev "$NS_IF" >/dev/null 2>&1 ||
            die "$HOST_IF exists but its peer $NS_IF is not in namespace $NS; run '$0 down' first"
    else
        # The peer may be left over inside the namespace without its partner.
        nsip link del dev "$NS_IF" 2>/dev/null || true
        ip link add "$HOST_IF" mtu "$MTU" type veth peer name "$NS_IF" netns "$NS" mtu "$MTU" ||
            die "cannot create veth pair $HOST_IF/$NS_IF"
    fi
    ip link set dev "$HOST_IF" mtu "$MTU"
    nsip link set dev "$NS_IF" mtu "$MTU"
    ensure_addr "" "$HOST_IF" "$HOST_ADDR"
    ensure_addr "$NS" "$NS_IF" "$NS_ADDR"
    ensure_addr "" "$HOST_IF" "$HOST_ADDR6" nodad
    ensure_addr "$NS" "$NS_IF" "$NS_ADDR6" nodad
    nsip link set dev lo up
    ip link set dev "$HOST_IF" up
    nsip link set dev "$NS_IF" up
    ethtool -K "$HOST_IF" gro on >/dev/null || die "cannot enable GRO on $HOST_IF"
    ip netns exec "$NS" ethtool -K "$NS_IF" gro on >/dev/null || die "cannot enable GRO on $NS_IF"
    say "up: $HOST_IF ${HOST_ADDR%/*} ${HOST_ADDR6%/*} <-> $NS_IF ${NS_ADDR%/*} ${NS_ADDR6%/*} in netns $NS"
}

down() {
    [[ $EUID == 0 ]] || die "needs root (ip netns / ip link)"
    local did=0
    if host_if_exists; then ip link del dev "$HOST_IF" && did=1; fi # takes the peer with it
    if [[ -e /run/netns/$NS ]]; then ip netns del "$NS" && did=1; fi
    if ((did)); then say "down: removed $HOST_IF and netns $NS"; else say "already down"; fi
}

status() {
    local rc=0
    if ns_exists; then
        say "netns $NS present"
        if nsip link show dev "$NS_IF" >/dev/null 2>&1; then
            nsip -br addr show dev "$NS_IF" | sed 's/^/  ns:   /'
            ip netns exec "$NS" ethtool -k "$NS_IF" | grep -q '^generic-receive-offload: on' ||
                { say "GRO is off on $NS_IF (XDP_TX replies would be dropped)"; rc=1; }
        else
            say "$NS_IF missing in $NS"
            rc=1
        fi
    else
        say "netns $NS absent"
        rc=3
    fi
    if host_if_exists; then
        ip -br addr show dev "$HOST_IF" | sed 's/^/  host: /'
        ip link show dev "$HOST_IF" | grep -q 'state UP\|,UP' || rc=1
        ethtool -k "$HOST_IF" | grep -q '^generic-receive-offload: on' ||
            { say "GRO is off on $HOST_IF (XDP_TX replies would be dropped)"; rc=1; }
    else
        say "$HOST_IF absent"
        rc=3
    fi
    return "$rc"
}

case ${1:-} in
up) up ;;
down) down ;;
status) status ;;
*)
    echo "usage: $0 up|down|status" >&2
    exit 2
    ;;
esac
