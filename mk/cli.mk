# The command line: curl for the README's tested example that calls examples/edge_api.py, and
# `tokenkeep list` of 10,000 tokens, piped and on a terminal, in `make bench`.
APT_PACKAGES += curl
EXTRA_BENCHES += bench-cli
.PHONY: bench-cli
bench-cli: setup
	$(PY) benchmarks/bench_cli.py
