# PostgreSQL store (issue 9): the client library the engine links, the server the
# PostgreSQL tests run against (make test starts a throwaway cluster: mk/ of the test side),
# and PgBouncer, which test_pg_bouncer.py puts in front of it (issue 20).
APT_PACKAGES += postgresql libpq-dev pgbouncer

# The PostgreSQL half of `make bench`: a throwaway cluster on TCP loopback with fsync on, and
# the psycopg baseline store (the `bench` extra).
PIP_EXTRAS := $(PIP_EXTRAS),bench
EXTRA_BENCHES += bench-pg
.PHONY: bench-pg
# The miss's C++ floor (benchmarks/pg_miss_floor.cc) is built in build/bench, as make bench's.
bench-pg: setup
	@cmake -S . -B build/bench -G Ninja -DTOKENKEEP_BUILD_BENCHMARKS=ON -DTOKENKEEP_BUILD_PYTHON=OFF >/dev/null
	@cmake --build build/bench --target tokenkeep_pg_miss_floor
	TOKENKEEP_PG_BENCH=1 tests/pg/cluster.sh run $(PY) benchmarks/pg_bench.py \
	  --floor build/bench/benchmarks/tokenkeep_pg_miss_floor $(PG_BENCH_ARGS)
