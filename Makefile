# tokenkeep: `make run` and `make test` do everything on a fresh Debian machine (root or sudo).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CPP_BUILD := build/cpp
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian packages the build, the tests and the benchmarks need.
APT_PACKAGES := build-essential cmake ninja-build pkg-config libsodium-dev libsqlite3-dev \
	libgtest-dev libbenchmark-dev python3-dev python3-venv
PIP_EXTRAS := test,web,jupyter
# Extra test and bench steps; mk/*.mk files append to these (and to APT_PACKAGES).
EXTRA_TESTS :=
EXTRA_BENCHES :=

-include mk/*.mk

.PHONY: setup apt venv install cpp-build cpp-test py-test test run bench clean

setup: apt venv install

apt:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:" $$missing; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

venv:
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check --upgrade pip "scikit-build-core>=0.10" "pybind11>=2.12"

# Incremental: scikit-build-core keeps its build tree in build/<wheel tag>.
install:
	@$(PY) -m pip install -q --disable-pip-version-check --no-build-isolation -e ".[$(PIP_EXTRAS)]"

cpp-build:
	@cmake -S . -B $(CPP_BUILD) -G Ninja -DTOKENKEEP_BUILD_TESTS=ON -DTOKENKEEP_BUILD_PYTHON=OFF >/dev/null
	@cmake --build $(CPP_BUILD)

cpp-test: cpp-build
	ctest --test-dir $(CPP_BUILD) --output-on-failure -j2

py-test:
	$(PY) -m pytest -q

test: setup cpp-test py-test $(EXTRA_TESTS)

run: setup
	$(PY) -m tokenkeep.demo ./tokenkeep.db

bench: setup $(EXTRA_BENCHES)

clean:
	rm -rf build $(VENV)
