# The Access Token page at size (issue 11): `make bench` runs page-bench, 10,000 vs 100,000
# tokens of one user side by side (page bytes raw and gzipped, server time p50), and writes
# benchmarks/results_page.json. `make page-screenshots` renders docs/screenshots/ (Chromium).
EXTRA_BENCHES += page-bench

.PHONY: page-bench page-screenshots

page-bench: setup
	$(PY) benchmarks/page_bench.py

page-screenshots: setup
	$(PY) tools/page_screenshots.py
