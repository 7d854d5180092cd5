# The inner loop and the style checks (issue 17), on a tree `make setup` built (after a C++
# change, `make install` rebuilds the module that pytest imports):
#   make check   make lint, then the engine's unit tests (ctest without PostgreSQL and the core
#                dump) and the Python tests that need no PostgreSQL, browser, server process or
#                seconds each (pytest markers, registered in pyproject.toml: pg, browser,
#                server, slow)
#   make lint    clang-format on all C++, ruff check, ruff format --check, mypy on
#                python/tokenkeep (ruff and mypy pinned in the `lint` extra); `make test` runs
#                it first too
#   make tidy    clang-tidy's bugprone and performance checks on cpp/src (.clang-tidy), findings
#                are errors; ~55 s of CPU (2.3 min on the loaded 2-core machine), so `make test`
#                runs it and `make check` does not
# `make test` runs every test, marked or not, against a throwaway PostgreSQL cluster.
CHECK_MARKERS := not pg and not browser and not server and not slow
# PgStoreTest, PgPoolTest, PgSpin and the contract's PostgreSQL instances need a server;
# CoreDump.* gcores a child.
CHECK_CTEST_EXCLUDE := PgStoreTest|PgPoolTest|^PgSpin\.|/postgres$$|^CoreDump\.
TIDY_BUILD := build/tidy
APT_PACKAGES += clang-tidy
EXTRA_TESTS += tidy
CPP_SOURCES = $(shell find cpp bindings tests benchmarks \( -name '*.cc' -o -name '*.h' \) | sort)

.PHONY: check lint tidy

check: lint cpp-build
	ctest --test-dir $(CPP_BUILD) -j2 -E '$(CHECK_CTEST_EXCLUDE)' --output-on-failure
	$(PY) -m pytest -q -m "$(CHECK_MARKERS)"

lint:
	@echo "clang-format --dry-run -Werror ($(words $(CPP_SOURCES)) C++ files)"
	@clang-format --dry-run -Werror $(CPP_SOURCES)
	$(VENV)/bin/ruff check --quiet .
	$(VENV)/bin/ruff format --check --quiet .
	$(VENV)/bin/mypy

tidy: apt
	@cmake -S . -B $(TIDY_BUILD) -G Ninja -DTOKENKEEP_BUILD_PYTHON=OFF -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null
	run-clang-tidy -p $(TIDY_BUILD) -j2 -quiet 'cpp/src/.*\.cc$$'
