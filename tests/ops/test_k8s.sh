#!/usr/bin/env bash
# Checks the Kubernetes manifests of infra/k8s/ offline (issue #15,
# docs/ops/kubernetes.md):
#   - every manifest against the Kubernetes API schemas with
#     kubernetes-validate --strict (PyPI; schemas ship inside the package, no
#     cluster needed). Missing, it is installed with pip once; if that is not
#     possible the schema step is skipped (said so) and only the YAML syntax
#     is checked;
#   - the edge DaemonSet's contract: hostNetwork, not privileged, every
#     capability dropped but BPF, NET_ADMIN, PERFMON, the bpffs host mount,
#     /readyz and /healthz probes, config from the ConfigMap and the Secret;
#   - kustomization.yaml lists every manifest; each Service selects a
#     workload; `kubectl kustomize` renders both trees where kubectl exists.
# Prints "N passed, N failed"; exit 1 on any failure. A few seconds (plus a
# one-time pip install).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
K8S=$ROOT/infra/k8s/base
XDP=$ROOT/infra/k8s/xdp
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

passed=0 failed=0 skipped=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }
skip() { skipped=$((skipped + 1)); echo "skip $*"; }
# check NAME CMD...: one check, its output shown only when it fails
check() {
	local name=$1
	shift
	if "$@" >"$TMP/out" 2>&1; then ok "$name"; else bad "$name"; sed 's/^/     /' "$TMP/out"; fi
}

# The resource files: everything but the kustomizations and the overlay's
# patch (a partial DaemonSet, not a whole resource).
mapfile -t MANIFESTS < <(cd "$K8S" && ls -1 ./*.yaml | sed 's|^\./||' | grep -v '^kustomization.yaml$')
((${#MANIFESTS[@]} >= 7)) && ok "${#MANIFESTS[@]} manifests in infra/k8s/base" ||
	bad "only ${#MANIFESTS[@]} manifests in infra/k8s/base"

echo "== test_k8s: schema"
# K8S_VALIDATE_SKIP=1: behave as if no schema checker were installable
# (exercises the fallback)
have_validator() { [[ ${K8S_VALIDATE_SKIP:-0} != 1 ]] && command -v kubernetes-validate >/dev/null 2>&1; }
if ! have_validator && [[ ${K8S_VALIDATE_SKIP:-0} != 1 ]]; then
	echo "kubernetes-validate missing; installing it with pip (once)"
	timeout 300 python3 -m pip install -q kubernetes-validate >"$TMP/pip" 2>&1 ||
		timeout 300 python3 -m pip install -q --break-system-packages kubernetes-validate >>"$TMP/pip" 2>&1 ||
		sed 's/^/     /' "$TMP/pip" | tail -3
	hash -r
fi
if have_validator; then
	echo "kubernetes-validate $(kubernetes-validate --version 2>&1), Kubernetes schemas of that version"
	for f in "${MANIFESTS[@]}"; do
		check "schema: $f" kubernetes-validate --strict --quiet "$K8S/$f"
	done
	# the validator itself rejects a broken manifest (the check can fail)
	sed 's/hostNetwork: true/hostNetwork: "yes"/' "$K8S/ticketd-daemonset.yaml" >"$TMP/broken.yaml"
	if kubernetes-validate --strict --quiet "$TMP/broken.yaml" >/dev/null 2>&1; then
		bad "kubernetes-validate accepted a DaemonSet with hostNetwork: \"yes\""
	else
		ok "kubernetes-validate rejects a broken DaemonSet"
	fi
else
	skip "no schema checker (kubernetes-validate not installed and pip could not install it, or K8S_VALIDATE_SKIP=1): YAML syntax only"
	if python3 -c 'import yaml' 2>/dev/null; then
		for f in "$K8S"/*.yaml "$XDP"/*.yaml; do
			check "YAML syntax: ${f#$ROOT/}" python3 -c 'import sys, yaml; list(yaml.safe_load_all(open(sys.argv[1])))' "$f"
		done
	else
		skip "no YAML parser either (python3 yaml): syntax not checked"
	fi
fi

echo "== test_k8s: the edge DaemonSet"
DS=$K8S/ticketd-daemonset.yaml
has() { grep -Eq -- "$2" "$1"; }
check "kind DaemonSet" has "$DS" '^kind: DaemonSet$'
check "hostNetwork: true" has "$DS" '^ +hostNetwork: true$'
check "dnsPolicy ClusterFirstWithHostNet" has "$DS" '^ +dnsPolicy: ClusterFirstWithHostNet$'
check "privileged: false" has "$DS" '^ +privileged: false$'
check "allowPrivilegeEscalation: false" has "$DS" '^ +allowPrivilegeEscalation: false$'
check "capabilities: drop ALL" has "$DS" '^ +drop: \["ALL"\]$'
check "capabilities: add exactly BPF, NET_ADMIN, PERFMON" has "$DS" '^ +add: \["BPF", "NET_ADMIN", "PERFMON"\]$'
check "no other capability list" test "$(grep -c '^ *add: ' "$DS")" = 1
check "bpffs host mount /sys/fs/bpf" bash -c "grep -Eq '^ +mountPath: /sys/fs/bpf$' '$DS' && grep -Eq '^ +path: /sys/fs/bpf$' '$DS'"
check "readiness probe on /readyz" bash -c "grep -A3 'readinessProbe:' '$DS' | grep -q 'path: /readyz'"
check "liveness probe on /healthz" bash -c "grep -A3 'livenessProbe:' '$DS' | grep -q 'path: /healthz'"
check "resources requests and limits" bash -c "grep -q '^ *requests:' '$DS' && grep -q '^ *limits:' '$DS'"
check "config from ConfigMap ticketd-config" bash -c "grep -q 'name: ticketd-config' '$DS' && grep -q '^  name: ticketd-config$' '$K8S/ticketd-config.yaml'"
check "password from Secret ticketing-db" bash -c "grep -A3 'secretKeyRef:' '$DS' | grep -q 'name: ticketing-db' && grep -q '^  name: ticketing-db$' '$K8S/secrets.yaml'"
check "TICKETD_CONFIG names the mounted file" bash -c "grep -A1 'name: TICKETD_CONFIG' '$DS' | grep -q 'value: /etc/ticketd/ticketd.conf' && grep -q 'mountPath: /etc/ticketd$' '$DS' && grep -q '^  ticketd.conf: |' '$K8S/ticketd-config.yaml'"
# every key of the config file is a ticketd setting (ticketd --help lists them)
if [[ -x $ROOT/build/ticketd ]]; then
	"$ROOT/build/ticketd" --help >"$TMP/help" 2>&1
	unknown=""
	for key in $(sed -n '/ticketd.conf: |/,$p' "$K8S/ticketd-config.yaml" | grep -E '^ +[a-z_]+ = ' | awk '{print $1}'); do
		grep -q -- "--${key//_/-}\b\|\b$key\b" "$TMP/help" || unknown+=" $key"
	done
	[[ -z $unknown ]] && ok "every ticketd.conf key is a ticketd setting" || bad "unknown ticketd.conf keys:$unknown"
else
	skip "build/ticketd not built: ticketd.conf keys not checked against ticketd --help"
fi

echo "== test_k8s: ticketd with the DaemonSet's config and capabilities"
# The ConfigMap's ticketd.conf and exactly the capabilities the DaemonSet
# adds (setpriv bounding set), against the test services: ticketd must get
# ready on the BPF seat table. The Services' names are replaced by the local
# ports (environment settings win over the file, as in the pod).
REDIS_PORT=${REDIS_PORT:-6390} MARIADB_PORT=${MARIADB_PORT:-3317} KAFKA_PORT=${KAFKA_PORT:-9102}
HTTP_PORT=$((${TICKETD_TEST_HTTP_PORT:-18080} + 1)) UDP_PORT=$((${TICKETD_TEST_UDP_PORT:-17000} + 1))
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
caps=$(grep -E '^ +add: \[' "$DS" | head -1 | tr -d '[]",' | sed 's/^ *add: *//' |
	tr 'A-Z' 'a-z' | sed 's/\([a-z_]*\)/+\1/g; s/ /,/g')
if ((EUID != 0)) || ! command -v setpriv >/dev/null || [[ ! -x $ROOT/build/ticketd ]]; then
	skip "needs root, setpriv and build/ticketd: DaemonSet config and capabilities not run"
elif ! port_open "$REDIS_PORT" || ! port_open "$MARIADB_PORT" || ! port_open "$KAFKA_PORT"; then
	skip "test services not running on 127.0.0.1:$REDIS_PORT/$MARIADB_PORT/$KAFKA_PORT (infra/services.sh start): DaemonSet config and capabilities not run"
elif port_open "$HTTP_PORT"; then
	bad "port $HTTP_PORT is taken: cannot start ticketd with the DaemonSet's settings"
else
	sed -n '/^  ticketd.conf: |$/,$p' "$K8S/ticketd-config.yaml" | tail -n +2 | sed 's/^    //' >"$TMP/ticketd.conf"
	chmod 600 "$TMP/ticketd.conf"
	pin=/sys/fs/bpf/ticket-k8s-test-$$
	echo "starting ticketd with $TMP/ticketd.conf, bounding set $caps, HTTP port $HTTP_PORT"
	TICKETD_CONFIG=$TMP/ticketd.conf TICKETD_REDIS_HOST=127.0.0.1 TICKETD_REDIS_PORT=$REDIS_PORT \
		TICKETD_DB_HOST=127.0.0.1 TICKETD_DB_PORT=$MARIADB_PORT TICKETD_DB_PASSWORD=${MARIADB_PASSWORD:-ticket} \
		TICKETD_KAFKA_BOOTSTRAP=127.0.0.1:$KAFKA_PORT TICKETD_PAYMENT_URL=http://127.0.0.1:9 \
		TICKETD_HTTP_ADDR=127.0.0.1 TICKETD_HTTP_PORT=$HTTP_PORT TICKETD_UDP_ADDR=127.0.0.1 \
		TICKETD_UDP_PORT=$UDP_PORT TICKETD_PIN_DIR=$pin TICKETD_STATE_DIR=$TMP/state \
		setpriv --bounding-set="-all,$caps" --inh-caps=-all -- "$ROOT/build/ticketd" \
		>"$TMP/ticketd.log" 2>&1 9>&- &
	tpid=$!
	ready=""
	for _ in $(seq 1 150); do # 30 s at most
		ready=$(curl -s -m 1 "http://127.0.0.1:$HTTP_PORT/readyz" || true)
		[[ $ready == *'"status":"UP"'* ]] && break
		kill -0 "$tpid" 2>/dev/null || break
		sleep 0.2
	done
	metrics=$(curl -s -m 2 "http://127.0.0.1:$HTTP_PORT/metrics" || true)
	kill -TERM "$tpid" 2>/dev/null
	for _ in $(seq 1 100); do kill -0 "$tpid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$tpid" 2>/dev/null
	wait "$tpid" 2>/dev/null
	rm -rf "$pin"
	if [[ $ready == *'"status":"UP"'* && $ready == *'"holdPath":"socket"'* ]]; then
		ok "ticketd is ready with the ConfigMap's settings under $caps only"
	else
		bad "ticketd not ready with the ConfigMap's settings under $caps: ${ready:-no answer}"
		tail -5 "$TMP/ticketd.log" | sed 's/^/     /'
	fi
	grep -q 'ticketd_edge_backend{backend="bpf"} 1' <<<"$metrics" &&
		ok "the seat table is the BPF backend (maps pinned on bpffs)" ||
		bad "ticketd fell back to the shm seat table under $caps"
	grep -q '"privileges: keeping capabilities' "$TMP/ticketd.log" &&
		ok "ticketd logged the capabilities it kept" || bad "no privileges line in ticketd's log"
fi

echo "== test_k8s: the set"
for f in "${MANIFESTS[@]}"; do
	grep -q "^  - $f\$" "$K8S/kustomization.yaml" && ok "kustomization.yaml lists $f" ||
		bad "kustomization.yaml does not list $f"
done
check "StatefulSets for Redis, MariaDB, Kafka" bash -c "cd '$K8S' && grep -l '^kind: StatefulSet' redis.yaml mariadb.yaml kafka.yaml | wc -l | grep -qx 3"
check "Kafka runs KRaft (broker,controller), no ZooKeeper" bash -c "grep -A1 'KAFKA_PROCESS_ROLES' '$K8S/kafka.yaml' | grep -q 'broker,controller' && ! grep -qi zookeeper '$K8S/kafka.yaml'"
check "Deployment for paymentd" has "$K8S/paymentd.yaml" '^kind: Deployment$'
check "xdp overlay adds the XDP door" bash -c "grep -q 'TICKETD_XDP_IFACE' '$XDP/daemonset-xdp.yaml' && grep -q '^  - path: daemonset-xdp.yaml' '$XDP/kustomization.yaml' && grep -q '^  - ../base$' '$XDP/kustomization.yaml'"
# each Service's selector names a workload's pod template label
for f in "${MANIFESTS[@]}"; do
	awk '/^---/ {svc = 0; sel = 0} /^kind: Service$/ {svc = 1}
		svc && sel && /app.kubernetes.io\/name:/ {print $2}
		svc && /^  selector:/ {sel = 1}' "$K8S/$f" | sort -u >"$TMP/sel"
	while read -r app; do
		grep -qE "^ {8}app.kubernetes.io/name: $app\$" "$K8S"/*.yaml &&
			ok "Service selector $app ($f) matches a pod template" ||
			bad "Service selector $app ($f) matches no pod template"
	done <"$TMP/sel"
done
if command -v kubectl >/dev/null; then
	check "kubectl kustomize infra/k8s/base renders" kubectl kustomize "$K8S"
	kubectl kustomize "$XDP" >"$TMP/xdp.yaml" 2>&1
	check "kubectl kustomize infra/k8s/xdp adds the iface and no SYS_ADMIN" \
		bash -c "grep -q TICKETD_XDP_IFACE '$TMP/xdp.yaml' && ! grep -q SYS_ADMIN '$TMP/xdp.yaml'"
	if have_validator; then
		check "schema: the rendered xdp overlay" kubernetes-validate --strict --quiet "$TMP/xdp.yaml"
	fi
else
	skip "kubectl not installed: kustomizations not rendered"
fi

echo "$passed passed, $failed failed, $skipped skipped"
((failed == 0))
