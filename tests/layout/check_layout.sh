#!/usr/bin/env bash
# The house rules of the source tree, checked on every `make test`:
#   1. includes between folders point one way: bpf <- userspace/lib <- api
#      <- programs; bench, tests and fuzz may use anything below the
#      programs (fuzz also the daemon's pure parsers and the bench tools'
#      reply parsers);
#   2. no include cycle between files;
#   3. main.c of ticketd defines nothing but main (nothing calls up into it);
#   4. each folder's .mk builds only that folder's sources (and tests/);
#   5. the shared library's unit tests link no MariaDB, Kafka or
#      libmicrohttpd;
#   6. HTTP handlers (userspace/ticketd/rest/) translate only: no database
#      connection or SQL in them.
# Prints one line per broken rule and ends with "N passed, N failed".
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
BUILD=${BUILD:-build}
passed=0 failed=0
check() { # name, then the command's output: empty means pass
	local name=$1 out=$2
	if [ -z "$out" ]; then
		passed=$((passed + 1))
		echo "ok   $name"
	else
		failed=$((failed + 1))
		echo "FAIL $name"
		printf '%s\n' "$out" | sed 's/^/     /' | head -20
	fi
}

folder_of() {
	case $1 in
	bpf/*) echo bpf ;;
	userspace/lib/*) echo lib ;;
	api/*) echo api ;;
	userspace/ticketd/*) echo ticketd ;;
	userspace/paymentd/*) echo paymentd ;;
	userspace/ticketctl/*) echo ticketctl ;;
	bench/*) echo bench ;;
	tests/*) echo tests ;;
	fuzz/*) echo fuzz ;;
	build/*|"$BUILD"/*) echo generated ;;
	*) echo other ;;
	esac
}

# What each folder may include (besides itself).
allowed() {
	case $1 in
	bpf) echo "" ;;
	lib) echo "bpf generated" ;;
	api) echo "lib" ;;
	ticketd) echo "bpf lib api generated" ;;
	paymentd) echo "lib" ;;
	ticketctl) echo "bpf lib" ;;
	bench) echo "bpf lib generated" ;;
	tests) echo "bpf lib api ticketd paymentd ticketctl bench generated" ;;
	fuzz) echo "bpf lib api ticketd bench generated" ;;
	*) echo "" ;;
	esac
}

sources=$(git ls-files -co --exclude-standard -- 'bpf/*.[ch]' 'userspace/*.[ch]' 'api/*.[ch]' 'bench/*.[ch]' 'tests/*.[ch]' 'fuzz/*.[ch]')
edges=$(for f in $sources; do
	sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f" | while read -r inc; do
		# bpf/ headers include siblings by bare name
		[ -f "$inc" ] || { [ -f "$(dirname "$f")/$inc" ] && inc="$(dirname "$f")/$inc"; }
		echo "$f $inc"
	done
done)

bad=$(printf '%s\n' "$edges" | while read -r from to; do
	[ -n "$from" ] || continue
	a=$(folder_of "$from") b=$(folder_of "$to")
	[ "$a" = "$b" ] && continue
	case " $(allowed "$a") " in *" $b "*) continue ;; esac
	echo "$from includes $to ($a -> $b)"
done)
check "includes between folders point one way" "$bad"

loops=$(printf '%s\n' "$edges" | awk 'NF == 2 && $1 != $2' | tsort 2>&1 >/dev/null | grep -v '^tsort: -: input contains a loop:$' || true)
check "no include cycle between files" "$loops"

main_syms=""
if [ -f "$BUILD/obj/userspace/ticketd/main.o" ]; then
	main_syms=$(nm --defined-only -g "$BUILD/obj/userspace/ticketd/main.o" | awk '$3 != "main" {print "main.c defines " $3}')
else
	main_syms="$BUILD/obj/userspace/ticketd/main.o not built (make all)"
fi
check "ticketd's main.c defines only main" "$main_syms"

cross=$(for mk in $(git ls-files '*.mk'); do
	dir=$(dirname "$mk")
	grep -oE '(^|[ :=(])[a-z_]+(/[a-z_.-]+)+\.c\b' "$mk" | sed 's/^[ :=(]//' | while read -r src; do
		case $src in "$dir"/*|tests/*) ;; *) echo "$mk builds $src" ;; esac
	done
done)
check "each .mk builds only its own folder" "$cross"

links=""
for t in test_udp_door test_wire_codec test_lib_text test_settings test_worker test_change_queue; do
	bin="$BUILD/tests/unit/$t"
	[ -x "$bin" ] || continue
	need=$(readelf -d "$bin" | grep NEEDED | grep -E 'mariadb|mysql|rdkafka|microhttpd' || true)
	[ -z "$need" ] || links+="$t links: $need"$'\n'
done
check "shared library tests link no MariaDB, Kafka or libmicrohttpd" "${links%$'\n'}"

sql=$(grep -nE 'MYSQL|mysql_|db_get\(|SELECT |INSERT |UPDATE ' userspace/ticketd/rest/*.c || true)
check "REST handlers hold no database connection or SQL" "$sql"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
