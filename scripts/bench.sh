#!/bin/sh
# `make bench`: builds cmhook (Release) and the benchmark driver bench/cmh_bench.c
# against the test harness library, then runs it: cmhook serve with fake
# upstreams on 127.0.0.1 under wrk, the nginx `return 200` ceiling with the
# same load, and the event-to-channel latency run. Prints a Markdown table
# (also written to $BENCH_BUILD/bench-latest.md).
# Parameters (environment): BENCH_THREADS (2), BENCH_CONNECTIONS (32),
# BENCH_DURATION (10 s, the bound of each wrk run), BENCH_EVENTS (4000 unique
# signed deliveries), BENCH_LATENCY_EVENTS (40), BENCH_LATENCY_RATE (10/s),
# BENCH_BUILD (build-bench).
set -eu
cd "$(dirname "$0")/.."
BUILD=${BENCH_BUILD:-build-bench}
JOBS=${JOBS:-2}

sh scripts/bootstrap.sh wrk nginx
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCMH_WERROR=ON >/dev/null
cmake --build "$BUILD" -j"$JOBS" --target cmhook cmhook_testlib >/dev/null
# shellcheck disable=SC2046
cc -std=c17 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -I tests/integration/lib -I src/core \
	-DCMH_BINARY="\"$PWD/$BUILD/cmhook\"" -DCMH_SOURCE_DIR="\"$PWD\"" \
	-o "$BUILD/cmh_bench" bench/cmh_bench.c \
	"$BUILD/tests/libcmhook_testlib.a" "$BUILD/libcmhook_core.a" \
	$(pkg-config --libs cmocka libcurl jansson libmicrohttpd sqlite3 libssl libcrypto) \
	$(pkg-config --libs libsystemd 2>/dev/null || true) -lpthread -lm
"$BUILD/cmh_bench" | tee "$BUILD/bench-latest.md"
