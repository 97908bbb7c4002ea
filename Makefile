# cmhook: the two commands a newcomer needs are `make run` and `make test`.
# Both install missing Debian packages (scripts/bootstrap.sh), configure and build.

BUILD       ?= build
ASAN_BUILD  ?= build-asan
PREFIX      ?= /usr/local
DESTDIR     ?=
JOBS        ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all bootstrap build run test test-unit test-asan fuzz-smoke install clean bench robustness

all: build

bootstrap:
	@sh scripts/bootstrap.sh

$(BUILD)/CMakeCache.txt:
	@cmake -S . -B $(BUILD) -DCMH_WERROR=ON $(CMAKE_FLAGS) >/dev/null

build: bootstrap $(BUILD)/CMakeCache.txt
	@cmake --build $(BUILD) -j$(JOBS) -- --no-print-directory

# With credentials in ./.env (or the environment): the daemon in the foreground
# (Ctrl-C stops it). Without: `cmhook demo`, which needs none and shows what the
# channels would receive, then how to configure the real thing.
run: build
	@if ./$(BUILD)/cmhook check --config-only >/dev/null 2>&1; then \
		exec ./$(BUILD)/cmhook serve; \
	fi; \
	echo "make run: no complete configuration (CLIENT_ID, CLIENT_SECRET, SCOPES," \
		"ORGANIZATION_ID in ./.env), so here is \`cmhook demo\` instead." >&2; \
	./$(BUILD)/cmhook demo || exit $$?; \
	echo; \
	echo "Once ./.env has your credentials, \`make run\` starts \`cmhook serve\` instead" \
		"(\`./$(BUILD)/cmhook check --config-only\` says what is missing)."

# The whole suite, then again under AddressSanitizer + UndefinedBehaviorSanitizer.
test: build
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)
	@$(MAKE) --no-print-directory test-asan

test-unit: build
	ctest --test-dir $(BUILD) --output-on-failure -L unit

test-asan: bootstrap
	@cmake -S . -B $(ASAN_BUILD) -DCMH_WERROR=ON -DCMH_SANITIZE=ON \
		-DCMAKE_BUILD_TYPE=Debug $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --test-dir $(ASAN_BUILD) --output-on-failure -j$(JOBS)

# Build the libFuzzer targets with clang and run each for FUZZ_SECONDS (CI runs this).
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 20
FUZZERS      ?= $(notdir $(basename $(wildcard tests/fuzz/fuzz_*.c)))
fuzz-smoke:
	@sh scripts/bootstrap.sh clang libclang-rt-14-dev
	@CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMH_FUZZ=ON -DCMH_SANITIZE=ON -DCMH_TESTS=OFF \
		-DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build $(FUZZ_BUILD) -j$(JOBS) --target $(FUZZERS)
	@for f in $(FUZZERS); do \
		corpus=$(FUZZ_BUILD)/corpus-$$f; mkdir -p $$corpus; \
		seeds=$$(cat tests/fuzz/$$f.seeds 2>/dev/null); \
		echo "fuzz: $$f for $(FUZZ_SECONDS)s"; \
		./$(FUZZ_BUILD)/tests/fuzz/$$f -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
			-print_final_stats=0 $$corpus $$seeds 2>$(FUZZ_BUILD)/$$f.log \
			|| { tail -50 $(FUZZ_BUILD)/$$f.log; exit 1; }; \
	done

# $(PREFIX)/bin/cmhook, share/man/man1/cmhook.1, lib/systemd/system/cmhook.service (its
# ExecStart= names $(PREFIX)/bin/cmhook), share/doc/cmhook/.env.example; all below $(DESTDIR).
# Throughput, latency, memory and start-up of `cmhook serve` against fake
# upstreams, with nginx as the ceiling (bench/RESULTS.md). Not part of `test`.
bench:
	@sh scripts/bench.sh

# SIGKILL bursts, a channel outage, slow connections, hostile bodies (full
# form, several minutes). CI: ROBUST_MODE=short sh scripts/robustness.sh
robustness:
	@ROBUST_BUILD=$(BUILD) sh scripts/robustness.sh

install: build
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)"

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
