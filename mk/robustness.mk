# Robustness (issue 4): the GoogleTest suite under ASan+UBSan, libFuzzer targets, soak runs.
# Included by the Makefile; `make test` runs test-sanitize and fuzz-smoke after pytest.
#   make test-sanitize          GoogleTest (engine + fault injection) with ASan+UBSan, clang
#   make fuzz-smoke             each fuzz target for FUZZ_SMOKE_SECONDS (CI, 3 x 25 s)
#   make fuzz FUZZ_SECONDS=600  each fuzz target for FUZZ_SECONDS
#   make soak                   contention (SOAK_SECONDS, 8 processes), more crash rounds
#                               and state-machine examples than `make test` runs
SANITIZE_BUILD := build/sanitize
FUZZ_BUILD := build/fuzz
FUZZ_TARGETS := fuzz_token_parse fuzz_verify fuzz_networks
FUZZ_SECONDS ?= 300
FUZZ_SMOKE_SECONDS ?= 25
SOAK_SECONDS ?= 20
CLANG := CC=clang CXX=clang++

APT_PACKAGES += clang libclang-rt-14-dev
EXTRA_TESTS += test-sanitize fuzz-smoke

.PHONY: test-sanitize fuzz-build fuzz fuzz-smoke soak

test-sanitize: apt
	@$(CLANG) cmake -S . -B $(SANITIZE_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DTOKENKEEP_BUILD_TESTS=ON \
	  -DTOKENKEEP_BUILD_PYTHON=OFF -DTOKENKEEP_SANITIZE=ON -Wno-dev >/dev/null
	@cmake --build $(SANITIZE_BUILD)
	# CoreDump.* runs in cpp-test only: ASan reserves terabytes of shadow memory, which gcore
	# walks for minutes, and its quarantine keeps freed memory on purpose.
	ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir $(SANITIZE_BUILD) --output-on-failure -j2 -E '^CoreDump\.'

fuzz-build: apt
	@$(CLANG) cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTOKENKEEP_BUILD_TESTS=OFF \
	  -DTOKENKEEP_BUILD_PYTHON=OFF -DTOKENKEEP_BUILD_FUZZERS=ON -Wno-dev >/dev/null
	@cmake --build $(FUZZ_BUILD)

fuzz-smoke: fuzz-build
	tests/fuzz/run_fuzzers.sh $(FUZZ_BUILD) $(FUZZ_SMOKE_SECONDS) $(FUZZ_TARGETS)

fuzz: fuzz-build
	tests/fuzz/run_fuzzers.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

soak: setup
	TOKENKEEP_SOAK=1 TOKENKEEP_CONTENTION_SECONDS=$(SOAK_SECONDS) \
	  $(PY) -m pytest -q -p no:cacheprovider -s tests/python/test_robust_contention.py \
	  tests/python/test_robust_crash.py tests/python/test_robust_state_machine.py
