# tokenkeep: `make run` and `make test` do everything on a fresh Debian machine (root or sudo).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CPP_BUILD := build/cpp
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian packages the build, the tests and the benchmarks need.
APT_PACKAGES := build-essential cmake ninja-build pkg-config libsodium-dev libsqlite3-dev \
	libgtest-dev libbenchmark-dev python3-dev python3-venv chromium wrk gdb clang-format
PIP_EXTRAS := test,web,jupyter,lint
# Every Python package of the test environment, pinned (the package's requirements are ranges).
PIP_CONSTRAINTS := -c constraints.txt
# Extra test and bench steps; mk/*.mk files append to these (and to APT_PACKAGES).
EXTRA_TESTS :=
EXTRA_BENCHES :=

-include mk/*.mk

.PHONY: setup apt venv install constraints cpp-build cpp-test py-test test run demo bench clean

setup: apt venv install

apt:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:" $$missing; \
	  $(SUDO) apt-get -o DPkg::Lock::Timeout=900 update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get -o DPkg::Lock::Timeout=900 install -y -qq $$missing; \
	fi

venv:
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	@$(PY) -m pip install -q --disable-pip-version-check $(PIP_CONSTRAINTS) "scikit-build-core>=0.10" "pybind11>=2.12" "build>=1.2"

# Incremental: scikit-build-core keeps its build tree in build/<wheel tag>.
install:
	@$(PY) -m pip install -q --disable-pip-version-check --no-build-isolation $(PIP_CONSTRAINTS) \
	  -C cmake.define.TOKENKEEP_SODIUM_STATIC=OFF -e ".[$(PIP_EXTRAS)]"

# Rewrites constraints.txt from what .venv holds now (after make setup), tokenkeep left out.
constraints:
	@{ sed -n '/^#/p' constraints.txt; $(PY) -m pip freeze --exclude-editable --disable-pip-version-check; } > constraints.txt.new
	@mv constraints.txt.new constraints.txt

cpp-build:
	@cmake -S . -B $(CPP_BUILD) -G Ninja -DTOKENKEEP_BUILD_TESTS=ON -DTOKENKEEP_BUILD_PYTHON=OFF >/dev/null
	@cmake --build $(CPP_BUILD)

cpp-test: cpp-build
	ctest --test-dir $(CPP_BUILD) --output-on-failure -j2

py-test:
	$(PY) -m pytest -q --durations=15

# Every test runs against a throwaway PostgreSQL cluster (tests/pg/cluster.sh), started here and
# stopped whatever the outcome; the PostgreSQL tests fail, never skip, without it. The style
# checks (make lint, mk/check.mk) run first.
test: setup
	$(MAKE) --no-print-directory lint
	tests/pg/cluster.sh run $(MAKE) --no-print-directory cpp-test py-test $(EXTRA_TESTS)

# The admin page (Access Token tab) on the embedded SQLite database, for the current user;
# elsewhere with `make run PORT=8001` or `HOST=0.0.0.0`.
TOKENKEEP_DB ?= ./tokenkeep.db
HOST ?= 127.0.0.1
PORT ?= 8000
run: setup
	@echo "Serving the Access Token page on http://$(HOST):$(PORT)/ (database $(TOKENKEEP_DB)); Ctrl-C stops."
	$(PY) -m tokenkeep --db $(TOKENKEEP_DB) serve --host $(HOST) --port $(PORT) --user "$${USER:-$$(id -un)}"

# The demo of issue 2: create, list, verify, edit, revoke on the command line.
demo: setup
	$(PY) -m tokenkeep.demo $(TOKENKEEP_DB)

# Engine (Google Benchmark), then tokenkeep vs the stdlib-only store side by side, then the
# web guard under wrk. Writes benchmarks/results.json and benchmarks/results_guard.json.
BENCH_BUILD := build/bench
bench: setup $(EXTRA_BENCHES)
	@cmake -S . -B $(BENCH_BUILD) -G Ninja -DTOKENKEEP_BUILD_BENCHMARKS=ON -DTOKENKEEP_BUILD_PYTHON=OFF >/dev/null
	@cmake --build $(BENCH_BUILD) --target tokenkeep_bench
	$(BENCH_BUILD)/benchmarks/tokenkeep_bench --benchmark_min_time=0.5 \
	  --benchmark_out=$(BENCH_BUILD)/engine.json --benchmark_out_format=json
	$(PY) benchmarks/bench_python.py --engine-json $(BENCH_BUILD)/engine.json
	$(PY) benchmarks/bench_client.py
	-$(PY) benchmarks/guard_bench.py

clean:
	rm -rf build dist $(VENV)
