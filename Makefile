# The two commands of the README: `make run` and `make test`.
# Everything else here is a building block for them.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
LISTEN     ?= 127.0.0.1:8080
DB         ?= ./latchkey.db
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 10

BENCH_BUILD ?= build-bench
INSTALL_BUILD ?= build-install
BENCH_ARGS  ?=

# make install: PREFIX and DESTDIR as usual (docs/install.md).
PREFIX     ?= /usr/local
DESTDIR    ?=
DEB_BUILD  ?= build-deb

.PHONY: all deps test-deps build build-asan run test test-release test-asan test-fuzz bench install deb clean

all: build

deps:
	@./scripts/install-deps.sh

# What only the tests need: chromium, PostgreSQL, haproxy, Apache with
# mod_auth_openidc, authlib and the pinned npm packages.
test-deps: deps
	@./scripts/install-test-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DLATCHKEY_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)

run: build
	@./scripts/run-demo.sh $(BUILD) $(DB) $(LISTEN)

# test-deps first: with CI=true, CMake's configure step fails when the
# test dependencies (PostgreSQL, node) are missing (tests/CMakeLists.txt).
test-release: test-deps build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

test-asan: test-deps build-asan
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS)

# libFuzzer targets (tests/fuzz), FUZZ_SECONDS each, on copies of their
# seed corpora; any crash, leak or sanitizer report fails.
test-fuzz: deps
	FUZZ_BUILD=$(FUZZ_BUILD) JOBS=$(JOBS) ./tests/fuzz/run.sh $(FUZZ_SECONDS)

# The whole suite, once as shipped and once under ASan + UBSan (where the
# browser tests run), then the fuzzers; each phase says how long it took.
test:
	@set -e; for phase in test-release test-asan test-fuzz; do \
	  t0=$$(date +%s); $(MAKE) --no-print-directory $$phase; \
	  echo "latchkey: $$phase took $$(( $$(date +%s) - t0 )) s"; \
	done

# Latchkey and its peers side by side under wrk (docs/performance.md).
# BENCH_ARGS passes options to bench/bench.py, e.g. BENCH_ARGS="--quick".
bench: deps
	@./bench/install-deps.sh
	@cmake -S . -B $(BENCH_BUILD) -DCMAKE_BUILD_TYPE=Release -DLATCHKEY_BENCH=ON -DLATCHKEY_TESTS=OFF >/dev/null
	@cmake --build $(BENCH_BUILD) -j $(JOBS) --target latchkeyd latchkey lk_bench_hash
	@/usr/bin/python3 bench/bench.py --build $(BENCH_BUILD) $(BENCH_ARGS)

# Both binaries, the man pages, the systemd unit, the example configuration
# and the docs, under PREFIX (in DESTDIR when set).
# A build directory of its own: `sudo make install` leaves root-owned files
# only there, never in the $(BUILD) that make build and make test use.
install: deps
	@cmake -S . -B $(INSTALL_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLATCHKEY_TESTS=OFF -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	@cmake --build $(INSTALL_BUILD) -j $(JOBS) --target latchkeyd latchkey latchkey_completion
	DESTDIR=$(DESTDIR) cmake --install $(INSTALL_BUILD)

# latchkey_VERSION_ARCH.deb in $(DEB_BUILD), built for /usr by CPack.
deb: deps
	@./scripts/build-deb.sh $(DEB_BUILD) $(JOBS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(BENCH_BUILD) $(FUZZ_BUILD) $(DEB_BUILD) $(INSTALL_BUILD)
