# The two commands of the README: `make run` and `make test`.
# Everything else here is a building block for them.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
LISTEN     ?= 127.0.0.1:8080
DB         ?= ./latchkey.db

.PHONY: all deps build build-asan run test test-release test-asan clean

all: build

deps:
	@./scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DLATCHKEY_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)

run: build
	@./scripts/run-demo.sh $(BUILD) $(DB) $(LISTEN)

test-release: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

test-asan: build-asan
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS)

# The whole suite, once as shipped and once under ASan + UBSan.
test: test-release test-asan

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
