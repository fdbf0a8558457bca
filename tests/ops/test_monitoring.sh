#!/usr/bin/env bash
# Checks the monitoring files offline (issue #15, docs/ops/monitoring.md):
#   - promtool (Debian package prometheus): the scrape configs, the alert
#     rules and their unit tests (infra/prometheus/alerts_test.yml), and the
#     PromQL of every dashboard query (wrapped as recording rules);
#   - every alert has a for:, a severity label, a summary and a description
#     that links an existing runbook section of docs/ops/monitoring.md;
#   - the dashboard is valid JSON with the data source as a variable, unique
#     panel ids and every query on that variable;
#   - every ticketd_/paymentd_ metric the rules and the dashboard name is
#     written by the C sources (the live check against a running ticketd is
#     tests/integration/test_metric_names.py).
# No service needed; a few seconds. Prints "N passed, N failed"; exit 1 on
# any failure. Without promtool the promtool steps are skipped (reported).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PROM=$ROOT/infra/prometheus
DASH=$ROOT/infra/grafana/ticketing-dashboard.json
DOC=$ROOT/docs/ops/monitoring.md
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

passed=0 failed=0 skipped=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }
skip() { skipped=$((skipped + 1)); echo "skip $*"; }
# run NAME CMD...: one check, its output shown only when it fails
run() {
	local name=$1
	shift
	if "$@" >"$TMP/out" 2>&1; then ok "$name"; else bad "$name"; sed 's/^/     /' "$TMP/out"; fi
}

echo "== test_monitoring: promtool"
if command -v promtool >/dev/null; then
	run "promtool check config prometheus.yml" promtool check config "$PROM/prometheus.yml"
	run "promtool check config prometheus-k8s.yml" promtool check config "$PROM/prometheus-k8s.yml"
	run "promtool check rules alerts.yml" promtool check rules "$PROM/alerts.yml"
	run "promtool test rules alerts_test.yml" bash -c "cd '$PROM' && promtool test rules alerts_test.yml"
	# The dashboard's queries as recording rules: promtool parses their
	# PromQL. Grafana's variables become what they stand for.
	{
		echo "groups:"
		echo "  - name: dashboard"
		echo "    rules:"
		n=0
		jq -r '.panels[].targets[]?.expr' "$DASH" |
			sed -e 's/\$__rate_interval/1m/g' -e 's/\$instance/.+/g' |
			while IFS= read -r q; do
				n=$((n + 1))
				printf '      - record: dashboard:query%d\n        expr: %s\n' "$n" \
					"$(jq -Rn --arg q "$q" '$q')"
			done
	} >"$TMP/dash-rules.yml"
	run "promtool parses every dashboard query" promtool check rules "$TMP/dash-rules.yml"
else
	skip "promtool not installed (apt-get install prometheus, or make deps): config, rules and PromQL not parsed"
fi

echo "== test_monitoring: alert rules"
# Splits alerts.yml into one block per alert and checks each.
awk -v dir="$TMP" '
	/^ *- alert:/ { n++; f = dir "/alert." n; sub(/^ *- alert: */, ""); print > f; next }
	n { print >> f }' "$PROM/alerts.yml"
n_alerts=0
for f in "$TMP"/alert.*; do
	n_alerts=$((n_alerts + 1))
	name=$(head -1 "$f")
	missing=""
	grep -Eq '^ +for: [0-9]+[smh]' "$f" || missing+=" for"
	grep -Eq '^ +severity: (critical|warning|info)$' "$f" || missing+=" severity"
	grep -Eq '^ +summary: ' "$f" || missing+=" summary"
	grep -Eq '^ +description: ' "$f" || missing+=" description"
	anchor=$(grep -o 'docs/ops/monitoring.md#[a-z0-9-]*' "$f" | head -1 | cut -d'#' -f2)
	if [[ -z $anchor ]]; then
		missing+=" runbook-link"
	elif ! grep -Eiq "^#+ +$anchor\$" "$DOC" 2>/dev/null; then
		missing+=" runbook-section(#$anchor)"
	fi
	if [[ -z $missing ]]; then ok "alert $name: for, severity, summary, description, runbook"; else bad "alert $name lacks:$missing"; fi
done
((n_alerts >= 10)) && ok "alerts.yml has $n_alerts alerts" || bad "alerts.yml has only $n_alerts alerts"
for want in TicketdNotReady TicketdRingbufDrops TicketdBpfMapFilling TicketdJournalLag \
	TicketdOutboxLag TicketdOrderDeadlineMisses TicketdHigh5xxRate TicketdHoldLatencyP99High \
	TicketdWaitingRoomStalled; do
	grep -q "alert: $want\$" "$PROM/alerts.yml" && ok "alert $want exists" || bad "alert $want missing"
done

echo "== test_monitoring: dashboard"
if ! command -v jq >/dev/null; then
	bad "jq not installed (make deps)"
else
	run "dashboard is valid JSON" jq -e . "$DASH"
	run "data source is a variable" jq -e \
		'[.templating.list[] | select(.type == "datasource" and .name == "datasource" and .query == "prometheus")] | length == 1' "$DASH"
	run "every panel and query uses \${datasource}" jq -e \
		'[.panels[] | select(.type != "row") | (.datasource.uid, (.targets[]?.datasource.uid))] | all(. == "${datasource}")' "$DASH"
	run "panel ids are unique" jq -e '[.panels[].id] | length == (unique | length)' "$DASH"
	run "panels fit the 24-column grid" jq -e '[.panels[].gridPos | .x + .w <= 24] | all' "$DASH"
	run "every panel but rows has a query and a description" jq -e \
		'[.panels[] | select(.type != "row") | (.targets | length > 0) and (.description | length > 0)] | all' "$DASH"
	run "schemaVersion is a recent Grafana's (>= 36)" jq -e '.schemaVersion >= 36' "$DASH"
	for title in "Holds/s by door and outcome (UDP)" "Hold latency (REST) quantiles" "Orders/s by status" \
		"Saga and outbox backlog" "Payment outcomes (gateway)" "Overload refusals by door and reason" \
		"5xx/s by route and status" "Admitted/s by event" "BPF map fill" "Change ring buffer" \
		"Redis seat journal" "MariaDB" "Kafka producer (outbox)"; do
		jq -e --arg t "$title" '[.panels[].title] | index($t) != null' "$DASH" >/dev/null &&
			ok "panel \"$title\"" || bad "panel \"$title\" missing"
	done
fi

echo "== test_monitoring: metric names are in the sources"
# The names the rules and the dashboard use; a histogram's series carry
# _bucket/_sum/_count, which the sources write after the base name.
{ grep -v '^ *#' "$PROM/alerts.yml"; cat "$DASH"; } |
	grep -oE '\b(ticketd|paymentd)_[a-z0-9_]+' | sort -u >"$TMP/names"
while read -r name; do
	base=${name%_bucket}
	# a literal that starts with the name and ends it: {labels}, " value" or "
	if grep -rqE --include="*.c" -- "(\"|\\\\n)$base(_bucket)?([{ \"])" "$ROOT/userspace"; then
		ok "metric $name is written by userspace/"
	else
		bad "metric $name is not written anywhere under userspace/"
	fi
done <"$TMP/names"

echo "$passed passed, $failed failed, $skipped skipped"
((failed == 0))
