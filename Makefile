# Thin wrapper around CMake: installs missing Debian packages, configures, builds.
#   make run    build and start the gateway on examples/quickstart (with its demo backend)
#   make test   build (ASan+UBSan) and run every test suite
#   make bench  compare Portico with nginx and haproxy on this machine

BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)

PKGS_BUILD = cmake gcc make pkg-config libuv1-dev node-llhttp libyaml-dev liblua5.4-dev lua-cjson lua-expat libmbedtls-dev ca-certificates openssl
PKGS_TEST  = lua5.4 lua-busted lua-socket lua-cjson lua-expat chromium fonts-liberation openssl nginx-light
PKGS_BENCH = wrk nginx-light libnginx-mod-http-lua haproxy lua5.4 lua-socket curl iproute2 util-linux procps

.PHONY: all run test bench deps deps-test deps-bench build build-asan clean

all: build

deps:
	@tools/ensure-packages $(PKGS_BUILD)

deps-test: deps
	@tools/ensure-packages $(PKGS_TEST)

deps-bench: deps
	@tools/ensure-packages $(PKGS_BENCH)

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS) -- --no-print-directory

build-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DPORTICO_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS) -- --no-print-directory

run: build
	@examples/quickstart/run $(BUILD)

# The release build is there for the memory specs: ASan inflates RSS.
test: deps-test build build-asan
	@cd $(ASAN_BUILD) && ctest --output-on-failure
	@busted --lua=lua5.4 -o utfTerminal tests/lua
	@PORTICO_BUILD=$(ASAN_BUILD) PORTICO_RELEASE_BUILD=$(BUILD) busted --lua=lua5.4 -o utfTerminal tests/integration

bench: deps-bench build
	@bench/run $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
