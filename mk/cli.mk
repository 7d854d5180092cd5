# The command line: curl for the README's tested example that calls examples/edge_api.py,
# systemd-analyze (package systemd) for test_cli_expiring_exec.py's check of the timer units,
# and `tokenkeep list` of 10,000 tokens, piped and on a terminal, in `make bench`.
APT_PACKAGES += curl systemd
EXTRA_BENCHES += bench-cli
.PHONY: bench-cli
bench-cli: setup
	$(PY) benchmarks/bench_cli.py
