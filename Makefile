# wsrouter: the two commands of the README, and the ones behind them.
#
#   make run    installs what is missing, builds, starts wsrouterd on 127.0.0.1:8080
#   make test   installs what the tests need, builds (warnings as errors), runs every
#               test, then the whole suite again under gcc's AddressSanitizer+UBSan,
#               under ThreadSanitizer, and under clang's UBSan (which checks more,
#               pointer overflow among it)
#
# Other targets: build, test-fast (no sanitizer pass), test-asan, test-tsan,
# test-ubsan, lint, format, deps, test-deps, clean.

BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
UBSAN_BUILD ?= build-ubsan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
HOST       ?= 127.0.0.1
PORT       ?= 8080
TLS_PORT   ?= 8443
CMAKE_ARGS ?=

# Debian packages: to build and run, and in addition to test.
RUN_PKGS  := build-essential cmake pkg-config libwebsockets-dev libjansson-dev libssl-dev \
             libsqlite3-dev libedit-dev openssl
TEST_PKGS := libcmocka-dev iproute2 clang clang-format tmux chromium locales

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run certs test test-fast test-asan test-tsan test-ubsan build build-asan build-tsan \
	build-ubsan deps test-deps lint format clean bench

run: deps build certs
	@echo "Starting wsrouterd: open http://$(HOST):$(PORT)/, or connect to ws://$(HOST):$(PORT)/"
	@echo "or wss://$(HOST):$(TLS_PORT)/ (trust certs/ca.pem)"
	exec ./$(BUILD)/wsrouterd --host $(HOST) --port $(PORT) --modules examples \
		--tls-port $(TLS_PORT) --tls-cert certs/server.pem --tls-key certs/server.key \
		$(if $(wildcard www/index.html),--www www)

# A local CA and localhost certificates for development (git-ignored).
certs:
	@certs/mkcerts.sh

test: test-fast test-asan test-tsan test-ubsan

test-fast: deps test-deps lint build
	@tests/ctest-summary $(BUILD)

test-asan: deps test-deps build-asan
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
		tests/ctest-summary $(ASAN_BUILD)

test-tsan: deps test-deps build-tsan
	@TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$(CURDIR)/tests/tsan.supp tests/ctest-summary $(TSAN_BUILD)

test-ubsan: deps test-deps build-ubsan
	@UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 tests/ctest-summary $(UBSAN_BUILD)

# The benchmark of issue 8: wsrouterd against minimal lws and Node ws, in alternating
# rounds; prints the table and writes BENCHMARKS.md (tests/bench/run-bench; < 5 min).
bench: deps build
	tests/bench/run-bench

build:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWSR_WERROR=ON $(CMAKE_ARGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

build-asan:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DWSR_WERROR=ON \
		-DWSR_SANITIZE='address;undefined' $(CMAKE_ARGS) >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)

build-tsan:
	cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DWSR_WERROR=ON \
		-DWSR_SANITIZE=thread $(CMAKE_ARGS) >/dev/null
	cmake --build $(TSAN_BUILD) -j $(JOBS)

build-ubsan:
	CC=clang cmake -S . -B $(UBSAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DWSR_WERROR=ON \
		-DWSR_SANITIZE=undefined $(CMAKE_ARGS) >/dev/null
	cmake --build $(UBSAN_BUILD) -j $(JOBS)

# Installs the Debian packages that are missing (as root, or through sudo).
deps:
	@.ci/install-deps $(RUN_PKGS)

test-deps:
	@.ci/install-deps $(TEST_PKGS)
	@command -v node >/dev/null || .ci/install-deps nodejs npm
	@cd tests && { [ -d node_modules/ws ] && [ node_modules/.package-lock.json -nt package-lock.json ] \
		|| npm ci --no-audit --no-fund --loglevel=error; }

# Layout (clang-format) and the banned functions of STYLE.md B6.
lint:
	@clang-format --dry-run --Werror src/*/*.c src/*/*.h include/wsrouter/*.h routes/*.c routes/*.h tests/*.c tests/*.h
	@! grep -nE '\b(gets|strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|scanf|alloca)\s*\(' src/*/*.c routes/*.c \
		|| { echo "banned functions (STYLE.md B6) above"; exit 1; }
	@echo "lint: clang-format clean, no banned functions"

format:
	clang-format -i src/*/*.c src/*/*.h include/wsrouter/*.h routes/*.c routes/*.h tests/*.c tests/*.h

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(UBSAN_BUILD)
