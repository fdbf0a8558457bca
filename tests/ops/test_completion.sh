#!/usr/bin/env bash
# infra/bash-completion/ticketctl: sourced into a fresh bash, it registers
# a completion function for ticketctl, which completes the commands, each
# command's options and --pin-dir's directories, and names only options
# that `ticketctl COMMAND --help` lists (when build/ticketctl exists).
# Self-contained (a step of `make test-ops`); prints "N passed, N failed"
# and exits non-zero on a failure.
set -u
cd "$(dirname "$0")/../.."
comp=infra/bash-completion/ticketctl
ctl=${BUILD:-build}/ticketctl
passed=0
failed=0

check() { # NAME EXPECTED ACTUAL
	if [ "$2" = "$3" ]; then
		passed=$((passed + 1))
		echo "ok - $1"
	else
		failed=$((failed + 1))
		echo "not ok - $1"
		echo "     expected: $2"
		echo "     got:      $3"
	fi
}

# COMPREPLY for a command line; the cursor is at its end ("" as the last
# word: completing an empty word).
complete_line() {
	bash --norc --noprofile -c '
		source "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
		_ticketctl ticketctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " " | sed "s/ $//"
	' _ "$comp" "$@"
}

check "it registers _ticketctl for ticketctl" "complete -F _ticketctl ticketctl" \
	"$(bash --norc --noprofile -c "source $comp && complete -p ticketctl")"
check "bash -n accepts it" "0" "$(bash -n "$comp"; echo $?)"
check "the commands" "checkin drain events extend help hold pins query raw release room seat shards stats status" \
	"$(complete_line ticketctl "")"
check "commands by prefix" "seat shards stats status" "$(complete_line ticketctl s)"
check "checkin's options" "--scanner --scanner-key-file" "$(complete_line ticketctl checkin --sc)"
check "drain's options" "--wait --wait-timeout" "$(complete_line ticketctl drain --wa)"
check "status's options after an earlier one" "--json" \
	"$(complete_line ticketctl status --admin http://127.0.0.1:8080 --j)"
check "global options before the command" "--req-id" "$(complete_line ticketctl --r)"
check "a UDP option's value is skipped when finding the command" "--pin-dir" \
	"$(complete_line ticketctl --timeout-ms 500 pins --pin)"
check "no options for the UDP ops" "" "$(complete_line ticketctl hold --)"
check "--rate offers auto" "auto" "$(complete_line ticketctl room 1 --rate a)"
tmp=$(mktemp -d)
mkdir "$tmp/pindir-a" "$tmp/pindir-b"
check "--pin-dir completes directories" "$tmp/pindir-a $tmp/pindir-b" \
	"$(complete_line ticketctl stats --pin-dir "$tmp/pin")"
rm -rf "$tmp"

# Every completed option exists in the command's --help.
if [ -x "$ctl" ]; then
	for cmd in status events drain room seat stats pins checkin shards; do
		missing=
		for opt in $(bash --norc --noprofile -c "source $comp && _ticketctl_opts $cmd"); do
			[ "$opt" = --help ] && continue # every command takes it
			"$ctl" "$cmd" --help | grep -q -- "$opt" || missing="$missing $opt"
		done
		check "$cmd: every completed option is in its --help" "" "${missing# }"
	done
else
	echo "# $ctl not built: the --help cross-check is skipped"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
