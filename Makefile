# cmhook: the two commands a newcomer needs are `make run` and `make test`.
# Both install missing Debian packages (scripts/bootstrap.sh), configure and build.

BUILD       ?= build
ASAN_BUILD  ?= build-asan
PREFIX      ?= /usr/local
DESTDIR     ?=
JOBS        ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all bootstrap build run test test-unit test-asan fuzz-smoke install clean

all: build

bootstrap:
	@sh scripts/bootstrap.sh

$(BUILD)/CMakeCache.txt:
	@cmake -S . -B $(BUILD) -DCMH_WERROR=ON $(CMAKE_FLAGS) >/dev/null

build: bootstrap $(BUILD)/CMakeCache.txt
	@cmake --build $(BUILD) -j$(JOBS)

# Runs the daemon in the foreground with ./.env (Ctrl-C stops it).
run: build
	./$(BUILD)/cmhook serve

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

install: build
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)"

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
