# RFC 7662 / RFC 7009 endpoints (issue 21, part 4): the curl tests (tests/python/test_oauth_curl.py)
# need curl; `make bench` runs oauth-bench, introspection vs the FastAPI guard under wrk, and
# writes benchmarks/results_oauth.json.
APT_PACKAGES += curl wrk
EXTRA_BENCHES += oauth-bench

.PHONY: oauth-bench

oauth-bench: setup
	$(PY) benchmarks/oauth_bench.py
