# The inner loop (issue 17), on a tree `make setup` built (after a C++ change, `make install`
# rebuilds the module that pytest imports):
#   make check   the engine's unit tests (ctest without PostgreSQL and the core dump) and the
#                Python tests that need no PostgreSQL, browser, server process or seconds each
#                (pytest markers, registered in pyproject.toml: pg, browser, server, slow)
# `make test` runs every test, marked or not, against a throwaway PostgreSQL cluster.
CHECK_MARKERS := not pg and not browser and not server and not slow
# PgStoreTest and the contract's PostgreSQL instances need a server; CoreDump.* gcores a child.
CHECK_CTEST_EXCLUDE := PgStoreTest|/postgres$$|^CoreDump\.

.PHONY: check

check: cpp-build
	ctest --test-dir $(CPP_BUILD) -j2 -E '$(CHECK_CTEST_EXCLUDE)' --output-on-failure
	$(PY) -m pytest -q -m "$(CHECK_MARKERS)"
