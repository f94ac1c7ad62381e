# rcptwatch: `make run` and `make test` set up a fresh Debian 12 machine, build, and run.
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: all deps build run test test-asan fuzz fuzz-smoke bench clean

all: build

deps:
	./scripts/install-deps

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD) -j$(JOBS)

run: build
	./$(BUILD)/rcptwatch -r pcaps/demo.pcap --rules rules/default.rules

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)

# ASan + UBSan build of everything, then the whole ctest suite; the first error aborts.
ASAN_BUILD ?= build-asan
SANITIZE_FLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
test-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_FLAGS="$(SANITIZE_FLAGS)" -DCMAKE_C_FLAGS="$(SANITIZE_FLAGS)" \
	  -DCMAKE_EXE_LINKER_FLAGS="$(SANITIZE_FLAGS)"
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j$(JOBS)

# libFuzzer targets (clang, see fuzz/): builds them, then runs each for FUZZ_SECONDS.
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
fuzz: fuzz-build
	FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) ./fuzz/run-all

# CI's share of it: the clang build (GCC alone let a clang-only -Werror break `make fuzz`
# unnoticed), then every committed seed through its target once, deterministic.
fuzz-smoke: fuzz-build
	FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=0 ./fuzz/run-all

.PHONY: fuzz-build
fuzz-build: deps
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DRCPTWATCH_FUZZ=ON -DBUILD_TESTING=OFF
	cmake --build $(FUZZ_BUILD) -j$(JOBS)

# Benchmarks (bench/): Release build, generated captures (cached in build-bench/captures),
# floor vs rcptwatch vs tshark, SYN flood, micro-benchmarks; rewrites docs/PERFORMANCE.md.
# -O2 as shipped (RelWithDebInfo is -O2 too); GCC 12's -O3 also raises false -Wrestrict errors.
BENCH_BUILD ?= build-bench
bench: deps
	cmake -S . -B $(BENCH_BUILD) -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -g -DNDEBUG" \
	  -DBUILD_TESTING=OFF
	cmake --build $(BENCH_BUILD) -j$(JOBS) --target rcptwatch pcap_floor source_floor flow_memory micro_bench detect_bench
	./bench/run-bench.sh $(BENCH_BUILD)

clean:
	rm -rf $(BUILD)
