# The fault harness (issue 18, tests/faults/): node processes in their own network namespaces,
# each behind a fault proxy, a writer and a checker; strict revocation under delay, loss,
# blackhole and link-down partitions, SIGSTOP, server kills and restarts, a crash right after a
# lease renewal, and nodes with different leases. Needs root (namespaces) and the throwaway
# cluster (both targets run inside tests/pg/cluster.sh).
#   make test       runs test-faults: the proxy and checker tests, then every scenario once
#                   (three nodes, zero violations asserted)
#   make chaos      every scenario, six nodes, >= 100 M verifications; prints a table
#                   (CHAOS_ARGS="--only lease-mismatch --trials 10", see --help)
APT_PACKAGES += iproute2
EXTRA_TESTS += test-faults
CHAOS_ARGS ?=

.PHONY: test-faults chaos

test-faults:
	$(PY) -m pytest -q -p no:cacheprovider -s tests/faults

chaos: setup
	tests/pg/cluster.sh run env PYTHONPATH=tests $(PY) -m faults.chaos $(CHAOS_ARGS)
