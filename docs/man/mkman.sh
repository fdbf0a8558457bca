#!/bin/sh
# Fills a man page template from the program's own --help, so the page
# never disagrees with the binary it documents (make install and make deb
# run it on the freshly built programs).
#   docs/man/mkman.sh TEMPLATE PROGRAM VERSION > page.8
# In TEMPLATE:
#   @VERSION@  the version
#   @OPTIONS@  (a line of its own) one .TP entry per "  --flag  help" line
#              of `PROGRAM --help` (the settings table of ticketd, paymentd)
#   @HELP@     (a line of its own) all of `PROGRAM --help`, verbatim (.nf)
set -eu
[ $# -eq 3 ] || { echo "usage: $0 TEMPLATE PROGRAM VERSION" >&2; exit 2; }
tmpl=$1 prog=$2 version=$3
help=$("$prog" --help) || { echo "mkman: $prog --help failed" >&2; exit 1; }

# roff-safe text: backslashes, and a leading . or ' that would be a request
esc() { sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/"; }

options() {
	printf '%s\n' "$help" | grep -E '^  --[a-z0-9-]+ ' | while IFS= read -r line; do
		set -- $line
		flag=${1#--}
		text=$(printf '%s\n' "$line" | sed -e 's/^ *--[a-z0-9-]* *//' | esc)
		roff_flag=$(printf '%s' "$flag" | sed 's/-/\\-/g')
		case $text in
		*"(default: true)" | *"(default: false)") arg= ;;
		*) arg=' \fIVALUE\fR' ;;
		esac
		printf '.TP\n\\fB\\-\\-%s\\fR%s\n%s\n' "$roff_flag" "$arg" "$text"
	done
}

while IFS= read -r line || [ -n "$line" ]; do
	case $line in
	@OPTIONS@) options ;;
	@HELP@)
		printf '.PP\n.nf\n'
		printf '%s\n' "$help" | sed "s#^usage: [^ ]*/#usage: #" | esc
		printf '.fi\n'
		;;
	*) printf '%s\n' "$line" | sed "s/@VERSION@/$version/g" ;;
	esac
done <"$tmpl"
