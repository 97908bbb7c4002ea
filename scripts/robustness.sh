#!/bin/sh
# `make robustness`: builds cmhook and tests/robustness/test_robustness.c
# against the test harness library and runs it (see that file for what it
# does). ROBUST_MODE=full (default here) or short (CI, under ~2 minutes):
#   ROBUST_MODE=short sh scripts/robustness.sh
# With ROBUST_VALGRIND=1 it afterwards runs the integration tests named in
# ROBUST_VALGRIND_TESTS (default: the whole integration suite except the
# ones whose timing bounds valgrind's slowdown cannot meet, test_delivery_crash
# and test_delivery_settle, and test_demo, whose re-exec of /proc/self/exe
# finds valgrind's launcher) with cmhook under
# valgrind (memcheck, leaks included); any valgrind error fails the run.
# ROBUST_BUILD names the build directory (default build).
set -eu
cd "$(dirname "$0")/.."
BUILD=${ROBUST_BUILD:-build}
JOBS=${JOBS:-2}
export ROBUST_MODE=${ROBUST_MODE:-full}

link() { # output, sources..., with CMH_BINARY = $BINARY
	out=$1; shift
	# shellcheck disable=SC2046
	cc -std=c17 -D_GNU_SOURCE -O1 -g -Wall -Wextra -Wno-unused-parameter -Werror -I tests/integration/lib -I src/core \
		-DCMH_BINARY="\"$BINARY\"" -DCMH_SOURCE_DIR="\"$PWD\"" \
		-DCMH_VERSION="\"$VERSION\"" -o "$out" "$@" \
		"$BUILD/libcmhook_core.a" \
		$(pkg-config --libs cmocka libcurl jansson libmicrohttpd sqlite3 libssl libcrypto) \
		$(pkg-config --libs libsystemd 2>/dev/null || true) -lpthread -lm
}

sh scripts/bootstrap.sh
[ "${ROBUST_VALGRIND:-0}" = 1 ] && sh scripts/bootstrap.sh valgrind
cmake -S . -B "$BUILD" -DCMH_WERROR=ON >/dev/null
cmake --build "$BUILD" -j"$JOBS" --target cmhook cmhook_core >/dev/null

BINARY=$PWD/$BUILD/cmhook
VERSION=$("$BINARY" --version | cut -d' ' -f2)
link "$BUILD/test_robustness" tests/robustness/test_robustness.c \
	tests/integration/lib/*.c tests/testlib_stub.c
echo "robustness: $ROBUST_MODE mode"
"$BUILD/test_robustness"

if [ "${ROBUST_VALGRIND:-0}" = 1 ]; then
	wrapper=$PWD/$BUILD/cmhook-valgrind
	cat >"$wrapper" <<EOW
#!/bin/sh
exec valgrind -q --error-exitcode=97 --leak-check=full --errors-for-leak-kinds=definite \
	--log-file="$PWD/$BUILD/valgrind.%p.log" "$BINARY" "\$@"
EOW
	chmod +x "$wrapper"
	rm -f "$BUILD"/valgrind.*.log
	BINARY=$wrapper
	tests=${ROBUST_VALGRIND_TESTS:-"test_cli test_docs test_secrets test_token test_check test_api
		test_serve_webhook test_serve_ops test_delivery_slack test_delivery_channels
		test_delivery_failures"}
	for t in $tests; do
		link "$BUILD/${t}_vg" "tests/integration/$t.c" tests/integration/lib/*.c \
			tests/testlib_stub.c
		echo "robustness: $t with cmhook under valgrind"
		"$BUILD/${t}_vg"
	done
	if cat "$BUILD"/valgrind.*.log 2>/dev/null | grep -q .; then
		cat "$BUILD"/valgrind.*.log
		echo "robustness: valgrind reported errors" >&2
		exit 1
	fi
	echo "robustness: valgrind clean ($(ls "$BUILD"/valgrind.*.log | wc -l) processes)"
fi
