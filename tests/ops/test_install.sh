#!/usr/bin/env bash
# tests/ops/test_install.sh: `make install` into a DESTDIR (PREFIX
# /usr/local) puts every file where docs/ops/install.md says, with its mode;
# the installed programs run (--help; the config file loads); the man pages
# render with `man -l`, without groff warnings, and list every setting of
# the program's --help; the units point at the installed paths; a second
# install keeps a changed config; `make uninstall` removes the rest. No
# services needed; a few seconds.
# Env: BUILD (build).
set -uo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

dest=$(mktemp -d /tmp/ticketd-ops-install.XXXXXX)
trap 'rm -rf "$dest"' EXIT
P=$dest/usr/local

if make -s --no-print-directory BUILD="$BUILD" install DESTDIR="$dest" >"$dest.log" 2>&1; then
	ok "make install DESTDIR=$dest"
else
	fail "make install DESTDIR=$dest"; tail -20 "$dest.log"
fi
rm -f "$dest.log"

# path mode: what install.md lists
while read -r path mode; do
	if [ -e "$P/$path" ]; then
		got=$(stat -c %a "$P/$path")
		if [ "$got" = "$mode" ]; then ok "installed $path ($mode)"; else fail "$path: mode $got, want $mode"; fi
	else
		fail "missing $path"
	fi
done <<'LIST'
sbin/ticketd 755
sbin/paymentd 755
bin/ticketctl 755
lib/ticketd/seat_hold.bpf.o 644
share/ticketd/web/index.html 644
share/man/man8/ticketd.8 644
share/man/man8/paymentd.8 644
share/man/man8/ticketctl.8 644
lib/systemd/system/ticketd.service 644
lib/systemd/system/paymentd.service 644
etc/ticketd/ticketd.conf 600
etc/ticketd/paymentd.env 644
LIST
check "the BPF object is an eBPF ELF" sh -c "readelf -h '$P/lib/ticketd/seat_hold.bpf.o' | grep -q 'Linux BPF'"
check "web assets installed with the page" sh -c "ls '$P/share/ticketd/web/assets/'*.js >/dev/null"

# The installed programs run.
for prog in sbin/ticketd sbin/paymentd bin/ticketctl; do
	if out=$("$P/$prog" --help 2>&1) && grep -q '^usage: ' <<<"$out"; then
		ok "$prog --help"
	else
		fail "$prog --help"
	fi
done
if "$P/sbin/ticketd" --version >/dev/null 2>&1; then ok "ticketd --version"; else skip "ticketd has no --version"; fi

# The installed config loads: a bad value after it is the only complaint.
conf=$P/etc/ticketd/ticketd.conf
err=$("$P/sbin/ticketd" --config "$conf" --log-level bogus 2>&1)
rc=$?
if [ "$rc" = 2 ] && grep -q 'log_level' <<<"$err" && ! grep -q 'config file' <<<"$err"; then
	ok "installed ticketd.conf loads"
else
	fail "installed ticketd.conf loads (rc $rc: $err)"
fi
check "ticketd.conf serves the installed web page" grep -qx "web_root = /usr/local/share/ticketd/web" "$conf"
check "ticketd.conf keeps state in /var/lib/ticketd" grep -qx "state_dir = /var/lib/ticketd" "$conf"

# Units point at the installed programs and config.
unit=$P/lib/systemd/system/ticketd.service
check "ticketd.service runs /usr/local/sbin/ticketd with the installed config" \
	grep -qx "ExecStart=/usr/local/sbin/ticketd --config /usr/local/etc/ticketd/ticketd.conf" "$unit"
check "paymentd.service runs /usr/local/sbin/paymentd" \
	grep -qx "ExecStart=/usr/local/sbin/paymentd" "$P/lib/systemd/system/paymentd.service"
check "paymentd.service reads the installed env file" \
	grep -qx "EnvironmentFile=-/usr/local/etc/ticketd/paymentd.env" "$P/lib/systemd/system/paymentd.service"

# Man pages: render, no warnings, every --flag of --help documented.
for page in ticketd paymentd ticketctl; do
	f=$P/share/man/man8/$page.8
	[ -f "$f" ] || { fail "man page $page.8 missing"; continue; }
	if text=$(MANWIDTH=80 MAN_KEEP_FORMATTING=0 man -l "$f" 2>/dev/null | col -b) && grep -q "^NAME" <<<"$text"; then
		ok "man -l $page.8 renders"
	else
		fail "man -l $page.8 renders"
	fi
	warn=$(groff -man -ww -z "$f" 2>&1)
	if [ -z "$warn" ]; then ok "$page.8: no groff warnings"; else fail "$page.8: groff: $warn"; fi
	bin=$P/sbin/$page
	[ -x "$bin" ] || bin=$P/bin/$page
	missing=$("$bin" --help | sed -n 's/^  \(--[a-z0-9-]*\) .*/\1/p' | while read -r flag; do
		grep -qF -e "$flag" <<<"$text" || printf '%s ' "$flag"
	done)
	if [ -z "$missing" ]; then ok "$page.8 documents every flag of $page --help"; else fail "$page.8 lacks: $missing"; fi
done

# A changed config survives a reinstall and the uninstall.
echo "# changed by the operator" >>"$conf"
make -s --no-print-directory BUILD="$BUILD" install DESTDIR="$dest" >/dev/null 2>&1
check "a second install keeps a changed ticketd.conf" grep -q "changed by the operator" "$conf"
if make -s --no-print-directory BUILD="$BUILD" uninstall DESTDIR="$dest" >/dev/null 2>&1; then
	ok "make uninstall DESTDIR=$dest"
else
	fail "make uninstall DESTDIR=$dest"
fi
left=$(cd "$dest" && find . -type f | sort | tr '\n' ' ')
if [ "$left" = "./usr/local/etc/ticketd/ticketd.conf " ]; then
	ok "uninstall leaves only the changed config"
else
	fail "uninstall left: $left"
fi
finish
