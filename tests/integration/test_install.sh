#!/bin/sh
# Installs cmhook into a temporary DESTDIR the way `make install` does (cmake --install
# --prefix) and checks what lands there: the files and their modes, the unit's ExecStart=
# for two prefixes, that the installed binary runs, that the man page is clean roff and
# documents every command, option and setting, that .env.example lists every setting with
# its default, and that the unit carries the required settings (and passes
# `systemd-analyze verify` where that works). Parts whose tools are missing are skipped
# with a note. Registered in CTest by the top-level CMakeLists.txt.
#
#   test_install.sh CMAKE BUILD_DIR SOURCE_DIR
#   test_install.sh --man-config CMHOOK   print the CONFIGURATION entries of docs/cmhook.1
#                                         (paste them between the config-table markers)
set -u

# `cmhook config --keys` (a Markdown table) -> man(7) entries: KEY, meaning, default.
# Code spans become bold with escaped hyphens; a default of "—" reads "none".
MAN_CONFIG_AWK='
function esc(s) {
	gsub(/\\/, "\\e", s)
	return s
}
function inline(s,    n, parts, i, out, seg) {
	n = split(s, parts, "`")
	out = ""
	for (i = 1; i <= n; i++) {
		seg = esc(parts[i])
		if (i % 2 == 0) {
			gsub(/-/, "\\-", seg)
			out = out "\\fB" seg "\\fR"
		} else {
			gsub(/—/, "\\(em", seg)
			out = out seg
		}
	}
	if (out ~ /^[.\047]/)
		out = "\\&" out
	return out
}
NR <= 2 { next }
{
	row = $0
	sub(/^\| /, "", row)
	sub(/ \|$/, "", row)
	if (split(row, f, / \| /) != 3) {
		print "test_install: cannot read table row: " $0 > "/dev/stderr"
		exit 1
	}
	key = f[1]
	gsub(/`/, "", key)
	print ".TP"
	print ".B " key
	print inline(f[3])
	print ".br"
	print "Default: " (f[2] == "—" ? "none" : inline(f[2]))
}'

man_config() {
	"$1" config --keys >"$2.keys" || return 1
	LC_ALL=C awk "$MAN_CONFIG_AWK" "$2.keys"
}

if [ "${1:-}" = "--man-config" ]; then
	[ $# -eq 2 ] || { echo "usage: $0 --man-config CMHOOK" >&2; exit 2; }
	t=$(mktemp) || exit 1
	man_config "$2" "$t"
	rc=$?
	rm -f "$t" "$t.keys"
	exit $rc
fi

[ $# -eq 3 ] || { echo "usage: $0 CMAKE BUILD_DIR SOURCE_DIR" >&2; exit 2; }
CMAKE=$1
BUILD=$2
SRC=$3

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cmhook-install.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
failures=0

fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

skip() {
	echo "SKIP: $*" >&2
}

# The installed binary with a clean environment (sanitizer options kept), in $tmp so no
# stray ./.env is read.
run_cmhook() {
	(cd "$tmp" && env -i PATH="$PATH" HOME="$tmp" \
		${ASAN_OPTIONS+"ASAN_OPTIONS=$ASAN_OPTIONS"} \
		${UBSAN_OPTIONS+"UBSAN_OPTIONS=$UBSAN_OPTIONS"} \
		${LSAN_OPTIONS+"LSAN_OPTIONS=$LSAN_OPTIONS"} \
		"$bin" "$@")
}

# install PREFIX DESTDIR: what `make install PREFIX=... DESTDIR=...` runs.
install_to() {
	if ! DESTDIR=$2 "$CMAKE" --install "$BUILD" --prefix "$1" >"$tmp/install.log" 2>&1; then
		cat "$tmp/install.log" >&2
		fail "cmake --install --prefix $1 with DESTDIR=$2 failed"
		return 1
	fi
	# The manifest lists the files by their final path (without DESTDIR); each must have
	# landed below DESTDIR.
	while IFS= read -r f; do
		[ -e "$2$f" ] || fail "$f was not installed below DESTDIR"
	done <"$BUILD/install_manifest.txt"
	return 0
}

# expect_file PATH MODE
expect_file() {
	if [ ! -f "$1" ] || [ -L "$1" ]; then
		fail "$1 is not installed as a regular file"
		return
	fi
	mode=$(stat -c %a "$1")
	[ "$mode" = "$2" ] || fail "$1 has mode $mode, expected $2"
}

# --- PREFIX=/usr --------------------------------------------------------------------------
root=$tmp/root
if install_to /usr "$root"; then
	bin=$root/usr/bin/cmhook
	man=$root/usr/share/man/man1/cmhook.1
	unit=$root/usr/lib/systemd/system/cmhook.service
	example=$root/usr/share/doc/cmhook/.env.example
	expect_file "$bin" 755
	expect_file "$man" 644
	expect_file "$unit" 644
	expect_file "$example" 644
	(cd "$root" && find . ! -type d | sort) >"$tmp/files"
	printf '%s\n' ./usr/bin/cmhook ./usr/lib/systemd/system/cmhook.service \
		./usr/share/doc/cmhook/.env.example ./usr/share/man/man1/cmhook.1 >"$tmp/want"
	cmp -s "$tmp/files" "$tmp/want" || fail "unexpected installed files: $(cat "$tmp/files")"
	cmp -s "$man" "$SRC/docs/cmhook.1" || fail "installed man page differs from docs/cmhook.1"
	cmp -s "$example" "$SRC/.env.example" || fail "installed .env.example differs"
	cmp -s "$unit" "$SRC/packaging/systemd/cmhook.service" ||
		fail "with PREFIX=/usr the installed unit must equal packaging/systemd/cmhook.service"
else
	echo "cannot continue without an installation" >&2
	exit 1
fi

# --- PREFIX=/opt/cmhook: the unit names the binary where it was installed ------------------
if install_to /opt/cmhook "$tmp/opt"; then
	expect_file "$tmp/opt/opt/cmhook/bin/cmhook" 755
	expect_file "$tmp/opt/opt/cmhook/share/man/man1/cmhook.1" 644
	expect_file "$tmp/opt/opt/cmhook/share/doc/cmhook/.env.example" 644
	u=$tmp/opt/opt/cmhook/lib/systemd/system/cmhook.service
	expect_file "$u" 644
	sed 's|^ExecStart=/usr/bin/cmhook |ExecStart=/opt/cmhook/bin/cmhook |' \
		"$SRC/packaging/systemd/cmhook.service" >"$tmp/unit.want"
	cmp -s "$u" "$tmp/unit.want" ||
		fail "with PREFIX=/opt/cmhook the unit must differ only in ExecStart=/opt/cmhook/bin/cmhook"
	grep -qx 'ExecStart=/opt/cmhook/bin/cmhook serve' "$u" || fail "ExecStart not rewritten"
fi

# --- the installed binary runs ----------------------------------------------------------------
out=$(run_cmhook --version 2>"$tmp/err")
rc=$?
want=$(sed -n 's/^project(cmhook VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt")
[ $rc -eq 0 ] || fail "installed cmhook --version exited $rc: $(cat "$tmp/err")"
[ "$out" = "cmhook $want" ] || fail "installed cmhook --version printed '$out', expected 'cmhook $want'"

# --- man page: clean roff ---------------------------------------------------------------------
if LC_ALL=C grep -n '[^	 -~]' "$man" >"$tmp/nonascii"; then
	fail "man page has non-ASCII bytes (use roff escapes): $(head -3 "$tmp/nonascii")"
fi
head -5 "$man" | grep -q '^\.TH CMHOOK 1 ' || fail "man page lacks .TH CMHOOK 1"
for section in NAME SYNOPSIS DESCRIPTION OPTIONS COMMANDS CONFIGURATION ENDPOINTS \
	"EXIT STATUS" FILES SECURITY EXAMPLES "SEE ALSO"; do
	grep -qx "\.SH \"\{0,1\}$section\"\{0,1\}" "$man" || fail "man page lacks section $section"
done
if command -v groff >/dev/null 2>&1; then
	LC_ALL=C groff -man -ww -b -z "$man" >"$tmp/groff" 2>&1 || fail "groff failed on the man page"
	[ -s "$tmp/groff" ] && fail "groff warns about the man page: $(head -5 "$tmp/groff")"
elif command -v man >/dev/null 2>&1; then
	MANWIDTH=80 man --warnings -l "$man" 2>"$tmp/groff" >/dev/null || fail "man -l failed"
	[ -s "$tmp/groff" ] && fail "man -l warns about the man page: $(head -5 "$tmp/groff")"
else
	skip "neither groff nor man: the man page's roff is not checked"
fi

# --- man page: every command and option of --help, the whole settings table ------------------
if run_cmhook --help >"$tmp/help" 2>"$tmp/err"; then
	commands=$(sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z]*\) .*/\1/p' "$tmp/help")
	[ -n "$commands" ] || fail "no commands found in cmhook --help"
	for c in $commands; do
		grep -q "^\.SS \"cmhook $c[\" ]" "$man" || fail "man page COMMANDS lacks 'cmhook $c'"
		run_cmhook "$c" --help >"$tmp/chelp" 2>&1 || fail "cmhook $c --help failed"
		for opt in $(grep -o -- '--[a-z][a-z-]*' "$tmp/chelp" | sort -u); do
			roff=$(printf '%s' "$opt" | sed 's/-/\\-/g')
			grep -qF -- "$roff" "$man" || fail "man page lacks option $opt of cmhook $c"
		done
	done
	for opt in $(grep -o -- '--[a-z][a-z-]*' "$tmp/help" | sort -u); do
		roff=$(printf '%s' "$opt" | sed 's/-/\\-/g')
		grep -qF -- "$roff" "$man" || fail "man page lacks global option $opt"
	done
else
	fail "installed cmhook --help failed: $(cat "$tmp/err")"
fi
if man_config "$bin" "$tmp/cfg" >"$tmp/cfg.want"; then
	sed -n '/^\.\\" config-table:begin/,/^\.\\" config-table:end/p' "$man" |
		sed '1d;$d' >"$tmp/cfg.have"
	if ! cmp -s "$tmp/cfg.have" "$tmp/cfg.want"; then
		diff "$tmp/cfg.have" "$tmp/cfg.want" >&2
		fail "docs/cmhook.1 CONFIGURATION differs from cmhook config --keys;" \
			"regenerate: sh tests/integration/test_install.sh --man-config build/cmhook"
	fi
else
	fail "cmhook config --keys failed"
fi

# --- .env.example: every key with its default; credentials blank -------------------------------
keys=$(sed -n '3,$s/^| `\([A-Z_]*\)` |.*/\1/p' "$tmp/cfg.keys")
[ -n "$keys" ] || fail "no keys in cmhook config --keys"
for k in $keys; do
	grep -Eq "^(# )?$k=" "$example" || fail ".env.example lacks $k"
	def=$(sed -n "s/^| \`$k\` | \`\([^\`]*\)\` |.*/\1/p" "$tmp/cfg.keys")
	# A default naming another key (API_KEY defaults to CLIENT_ID) is not a literal.
	case $def in *[!A-Z_]*) ;; *) def= ;; esac
	if [ -n "$def" ] && ! grep -qxF "# $k=$def" "$example"; then
		fail ".env.example should show the default of $k as '# $k=$def'"
	fi
done
# Uncommented lines are blanks to fill in: no value is shipped, no trailing comment (which
# systemd's EnvironmentFile= would take as part of the value).
if grep -Ev '^(#.*|[A-Z_]+=|)$' "$example" >"$tmp/bad"; then
	fail ".env.example has lines other than comments and empty KEY=: $(head -3 "$tmp/bad")"
fi
cp "$example" "$tmp/example.env" && chmod 600 "$tmp/example.env"
if run_cmhook --env "$tmp/example.env" config >"$tmp/config" 2>"$tmp/err"; then
	grep -qx 'PORT=4000' "$tmp/config" || fail "cmhook config with .env.example: no PORT=4000"
else
	fail "cmhook --env .env.example config failed: $(cat "$tmp/err")"
fi

# --- systemd unit -------------------------------------------------------------------------------
for line in 'Type=notify' 'ExecStart=/usr/bin/cmhook serve' 'Restart=on-failure' \
	'DynamicUser=yes' 'StateDirectory=cmhook' 'Environment=DATA_DIR=/var/lib/cmhook' \
	'EnvironmentFile=-/etc/cmhook/cmhook.env' \
	'LoadCredential=client-secret:/etc/cmhook/client-secret' \
	'Environment=CLIENT_SECRET_FILE=%d/client-secret' 'Documentation=man:cmhook(1)' \
	'ProtectSystem=strict' 'ProtectHome=yes' 'PrivateTmp=yes' 'NoNewPrivileges=yes' \
	'PrivateDevices=yes' 'ProtectKernelTunables=yes' 'ProtectKernelModules=yes' \
	'ProtectKernelLogs=yes' 'ProtectControlGroups=yes' \
	'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' 'RestrictNamespaces=yes' \
	'LockPersonality=yes' 'MemoryDenyWriteExecute=yes' 'SystemCallFilter=@system-service' \
	'SystemCallArchitectures=native' 'CapabilityBoundingSet=' 'WantedBy=multi-user.target'; do
	grep -qxF -- "$line" "$unit" || fail "unit lacks the line '$line'"
done
# `make install` rewrites the one ExecStart= line; a second would escape the rewrite.
[ "$(grep -c '^ExecStart=' "$unit")" -eq 1 ] || fail "unit must have exactly one ExecStart="

if command -v systemd-analyze >/dev/null 2>&1; then
	mkdir -p "$tmp/probe" "$tmp/verify"
	printf '[Service]\nType=oneshot\nExecStart=/bin/true\n' >"$tmp/probe/probe.service"
	if systemd-analyze verify --man=no "$tmp/probe/probe.service" >/dev/null 2>&1; then
		sed "s|^ExecStart=/usr/bin/cmhook |ExecStart=$bin |" "$unit" \
			>"$tmp/verify/cmhook.service"
		if ! systemd-analyze verify --man=no "$tmp/verify/cmhook.service" \
			>"$tmp/verify.out" 2>&1 || [ -s "$tmp/verify.out" ]; then
			fail "systemd-analyze verify: $(cat "$tmp/verify.out")"
		fi
		# Offline scoring: "OK" is below 4.0 on systemd's 0-10 exposure scale.
		if systemd-analyze security --offline=yes "$tmp/verify/cmhook.service" \
			>"$tmp/security" 2>&1; then
			level=$(sed -n 's/.*Overall exposure level for cmhook.service: \([0-9.]*\).*/\1/p' \
				"$tmp/security")
			case $level in
			[0-3].*) ;;
			*) fail "systemd-analyze security exposure '$level', expected below 4.0" ;;
			esac
		else
			skip "systemd-analyze security --offline is not available here"
		fi
	else
		skip "systemd-analyze verify does not work here"
	fi
else
	skip "no systemd-analyze: the unit is checked by its lines only"
fi

# --- the Makefile hands PREFIX and DESTDIR to cmake --install ------------------------------------
if command -v make >/dev/null 2>&1; then
	# -n: print, do not run (no bootstrap, no build from inside a test).
	make -n -C "$SRC" install BUILD="$BUILD" PREFIX=/opt/p DESTDIR="$tmp/d" >"$tmp/make" 2>&1
	grep -qxF "DESTDIR=\"$tmp/d\" cmake --install $BUILD --prefix \"/opt/p\"" "$tmp/make" ||
		fail "make install does not pass PREFIX and DESTDIR on: $(cat "$tmp/make")"
else
	skip "no make: the Makefile's install target is not checked"
fi

if [ $failures -ne 0 ]; then
	echo "test_install: $failures failure(s)" >&2
	exit 1
fi
echo "test_install: ok"
