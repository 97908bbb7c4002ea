# cmhook: the two commands a newcomer needs are `make run` and `make test`.
# Both install missing Debian packages (scripts/bootstrap.sh), configure and build.

BUILD       ?= build
ASAN_BUILD  ?= build-asan
PREFIX      ?= /usr/local
DESTDIR     ?=
JOBS        ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all bootstrap build run test test-unit test-asan install clean

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

install: build
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)"

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
