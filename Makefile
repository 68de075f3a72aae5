# wsrouter: the two commands of the README, and the ones behind them.
#
#   make run    installs what is missing (the run dependencies only), builds without
#               the tests and without -Werror, starts wsrouterd on 127.0.0.1:8080
#   make test   installs what the tests need, builds (warnings as errors), runs every
#               test, then the whole suite again under gcc's AddressSanitizer+UBSan,
#               under ThreadSanitizer, and under clang's UBSan (which checks more,
#               pointer overflow among it), then the fuzz targets (tests/fuzz/)
#               for 45 s each in clang's libFuzzer build
#
# Other targets: build, build-run, test-fast (no sanitizer pass), soak (SOAK_SECONDS of
# mixed load, RSS and descriptors into BENCHMARKS.md), test-asan, test-tsan,
# test-ubsan, test-fuzz, fuzz (long fuzzing runs, FUZZ_SECONDS each), test-fresh-root
# (the README's first steps on a fresh Debian root), install and uninstall (PREFIX, default /usr/local), lint, format, deps, test-deps,
# clean.

BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
UBSAN_BUILD ?= build-ubsan
FUZZ_BUILD ?= build-fuzz
# make fuzz: seconds per target (FUZZ_TARGETS, all twelve by default).
FUZZ_SECONDS ?= 600
FUZZ_TARGETS ?= pipeline jsonparse base64 jwt router config ndjson resp tcpy text enginemsg deflate
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
HOST       ?= 127.0.0.1
PORT       ?= 8080
TLS_PORT   ?= 8443
RAW_PORT   ?= 7272
CMAKE_ARGS ?=
PREFIX     ?= /usr/local

# Debian packages: to build and run, and in addition to test.
RUN_PKGS  := build-essential cmake pkg-config libwebsockets-dev libjansson-dev libssl-dev zlib1g-dev \
             libsqlite3-dev libedit-dev libmsgpack-dev libhiredis-dev openssl
TEST_PKGS := libcmocka-dev iproute2 clang clang-format tmux chromium locales \
             netcat-openbsd redis-tools python3 python3-msgpack \
             systemd man-db groff-base nginx sqlite3 prometheus redis-server

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run certs test test-fast test-asan test-tsan test-ubsan test-fuzz fuzz test-fresh-root \
	build build-run build-asan build-tsan build-ubsan build-fuzz deps test-deps lint format clean bench soak install uninstall

# The store is wsrouterd's default (~/.local/state/wsrouter/wsrouter.db), so
# `./build/wsrouterd user add` reaches the same one.
run: deps build-run certs
	@echo "Starting wsrouterd: open http://$(HOST):$(PORT)/, or connect to ws://$(HOST):$(PORT)/"
	@echo "or wss://$(HOST):$(TLS_PORT)/ (trust certs/ca.pem); raw TCP (redis-cli, nc, tcpy) on $(RAW_PORT)"
	exec ./$(BUILD)/wsrouterd --host $(HOST) --port $(PORT) --modules examples \
		--tls-port $(TLS_PORT) --tls-cert certs/server.pem --tls-key certs/server.key \
		--raw-port $(RAW_PORT) --set history_size=100 \
		$(if $(wildcard www/index.html),--www www)

# A local CA and localhost certificates for development (git-ignored).
certs:
	@certs/mkcerts.sh

test: test-fast test-asan test-tsan test-ubsan test-fuzz

test-fast: deps test-deps lint build
	@tests/ctest-summary $(BUILD)

test-asan: deps test-deps build-asan
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
		tests/ctest-summary $(ASAN_BUILD)

test-tsan: deps test-deps build-tsan
	@TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$(CURDIR)/tests/tsan.supp tests/ctest-summary $(TSAN_BUILD)

test-ubsan: deps test-deps build-ubsan
	@UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 tests/ctest-summary $(UBSAN_BUILD)

# The fuzz targets of tests/fuzz/ (README there) in clang's libFuzzer build
# (with ASan+UBSan): the seeds and regressions replayed, then a short run of
# each (45 s; WSR_FUZZ_SECONDS in CMAKE_ARGS changes it).
test-fuzz: deps test-deps build-fuzz
	@cd $(FUZZ_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest -L fuzz --output-on-failure --timeout 900

# Long runs: FUZZ_SECONDS (600) of each of FUZZ_TARGETS, the corpus kept in
# $(FUZZ_BUILD)/tests/fuzz/corpus/ between runs.
fuzz: deps test-deps build-fuzz
	@cd $(FUZZ_BUILD) && ctest -R fuzz_seeds >/dev/null
	@ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		tests/fuzz/run-fuzz $(FUZZ_BUILD)/tests/fuzz tests/fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The README's first steps as root in a fresh Debian 12 root (debootstrap),
# then `make test-fast` there (tests/fresh-root; CI runs it after `make test`).
test-fresh-root:
	tests/fresh-root

# The benchmark of issue 8: wsrouterd against minimal lws and Node ws, in alternating
# rounds; prints the table and writes BENCHMARKS.md (tests/bench/run-bench; < 5 min).
bench: deps build
	tests/bench/run-bench

# A bounded mixed-load soak of wsrouterd (tests/bench/soak.mjs): SOAK_SECONDS
# of WebSocket requests, pub/sub, raw TCP, reconnections and hostile clients;
# prints RSS and open descriptors at the start, peak and end, and writes them
# into BENCHMARKS.md's soak section. Not part of `make test`.
SOAK_SECONDS ?= 600
soak: deps test-deps build
	node tests/bench/soak.mjs --seconds $(SOAK_SECONDS)

# What `make run` and `make install` build: the programs and the library, no tests
# (no cmocka, no Node), warnings not errors.
build-run:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWSR_WERROR=OFF -DBUILD_TESTING=OFF \
		$(CMAKE_ARGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

# What the tests build: everything, warnings as errors.
build:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWSR_WERROR=ON -DBUILD_TESTING=ON \
		$(CMAKE_ARGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

build-asan:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DWSR_WERROR=ON \
		-DWSR_SANITIZE='address;undefined' $(CMAKE_ARGS) >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)

build-tsan:
	cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DWSR_WERROR=ON \
		-DWSR_SANITIZE=thread $(CMAKE_ARGS) >/dev/null
	cmake --build $(TSAN_BUILD) -j $(JOBS)

build-fuzz:
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWSR_WERROR=ON \
		-DWSR_FUZZ=ON -DWSR_SANITIZE='address;undefined' $(CMAKE_ARGS) >/dev/null
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_all

build-ubsan:
	CC=clang cmake -S . -B $(UBSAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DWSR_WERROR=ON \
		-DWSR_SANITIZE=undefined $(CMAKE_ARGS) >/dev/null
	cmake --build $(UBSAN_BUILD) -j $(JOBS)

# Installs into PREFIX (through sudo when PREFIX is not writable); the list of
# what was installed is $(BUILD)/install_manifest.txt, which `make uninstall` reads.
install: deps build-run
	@mkdir -p $(PREFIX) 2>/dev/null || true
	$(if $(shell [ -w $(PREFIX) ] || echo no),$(SUDO)) cmake --install $(BUILD) --prefix $(PREFIX)
	@# The loader's cache learns of the new library (where PREFIX/lib is on its path).
	@[ "$$(id -u)" != 0 ] || ldconfig

uninstall:
	@[ -f $(BUILD)/install_manifest.txt ] || { echo "uninstall: no $(BUILD)/install_manifest.txt (make install writes it)"; exit 1; }
	$(if $(shell [ -w $(PREFIX) ] || echo no),$(SUDO)) cmake -P dist/uninstall.cmake $(BUILD)/install_manifest.txt

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
	@clang-format --dry-run --Werror src/*/*.c src/*/*.h include/wsrouter/*.h routes/*.c routes/*.h tests/*.c tests/*.h \
		tests/fuzz/*.c tests/fuzz/*.h
	@! grep -nE '\b(gets|strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|scanf|alloca)\s*\(' src/*/*.c routes/*.c \
		|| { echo "banned functions (STYLE.md B6) above"; exit 1; }
	@echo "lint: clang-format clean, no banned functions"

format:
	clang-format -i src/*/*.c src/*/*.h include/wsrouter/*.h routes/*.c routes/*.h tests/*.c tests/*.h \
		tests/fuzz/*.c tests/fuzz/*.h

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(UBSAN_BUILD) $(FUZZ_BUILD)
