# The README's two commands, and a few more.  CMake does the building; this
# file only installs what is missing, configures and runs.
#
#   make run           install deps, build, start vcpd (sandbox, demo channel)
#   make test          install deps, build, run the whole test suite
#   make test-sanitize the same suite built with ASan + UBSan
#   make build         just build (./build)
#   make install       install vcpd, vcp, libvcp, headers, man pages, the example
#                      into PREFIX (default /usr/local; PREFIX=... always wins,
#                      whatever prefix build/ was configured with)
#   make fuzz          build the libFuzzer targets (clang) and run each FUZZ_SECONDS
#   make bench         benchmarks against nginx and Prism (bench/run; not a test)

BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
PREFIX ?= /usr/local
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CTEST_ARGS ?=

.PHONY: all build run test test-sanitize install deps deps-test clean fuzz bench

all: build

deps:
	@scripts/deps.sh build

deps-test:
	@scripts/deps.sh test

$(BUILD)/Makefile:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX)

build: deps $(BUILD)/Makefile
	cmake --build $(BUILD) -j $(JOBS)

run: build
	@scripts/run.sh $(BUILD)/src/server/vcpd

test: deps-test $(BUILD)/Makefile
	cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

test-sanitize: deps-test
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DVCP_SANITIZE=ON
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

# The prefix is given at install time: build/ is configured once (by make run,
# make test, ...) and a PREFIX given later must still take effect.
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

fuzz: deps-test
	FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run

bench:
	bench/run

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) build-bench
