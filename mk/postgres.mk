# PostgreSQL store (issue 9): the client library the engine links, the server the
# PostgreSQL tests run against (make test starts a throwaway cluster: mk/ of the test side),
# and PgBouncer, which test_pg_bouncer.py puts in front of it (issue 20).
APT_PACKAGES += postgresql libpq-dev pgbouncer

# The PostgreSQL half of `make bench`: a throwaway cluster on TCP loopback with fsync on, and
# the psycopg baseline store (the `bench` extra).
PIP_EXTRAS := $(PIP_EXTRAS),bench
EXTRA_BENCHES += bench-pg
.PHONY: bench-pg
bench-pg: setup
	TOKENKEEP_PG_BENCH=1 tests/pg/cluster.sh run $(PY) benchmarks/pg_bench.py $(PG_BENCH_ARGS)
