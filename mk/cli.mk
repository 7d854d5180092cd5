# The command line at size: `tokenkeep list` of 10,000 tokens, piped and on a terminal.
EXTRA_BENCHES += bench-cli
.PHONY: bench-cli
bench-cli: setup
	$(PY) benchmarks/bench_cli.py
