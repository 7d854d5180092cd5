# The fault harness (issue 18, tests/faults/): node processes in their own network namespaces,
# each behind a fault proxy, a writer and a checker; strict revocation under delay, loss,
# blackhole and link-down partitions, SIGSTOP, server kills and restarts, a crash right after a
# lease renewal, and nodes with different leases. Needs root (namespaces) and the throwaway
# cluster (both targets run inside tests/pg/cluster.sh).
#   make test       runs test-faults: the proxy and checker tests, then every scenario once
#                   (three nodes, zero violations asserted)
#   make chaos      every scenario, six nodes, >= 100 M verifications; prints a table
#                   (CHAOS_ARGS="--only lease-mismatch --trials 10", see --help); then the
#                   simulated fleet (issue 20, tests/faults/fleet.py): 40 hosts x 3 workers on
#                   a server of its own, the relay and today's per-process design in turn
#                   (FLEET_ARGS="--hosts 60 --designs relay"; `make fleet` runs it alone)
APT_PACKAGES += iproute2
EXTRA_TESTS += test-faults
CHAOS_ARGS ?=
# max_connections 400: enough for the per-process design's 120 listeners and their pools, so
# both designs open and their latencies compare (the table shows each one's peak); the relays
# of 4 hosts killed and of 4 others paused mid-run.
FLEET_ARGS ?= --hosts 40 --per-host 3 --max-connections 400 --relay-faults 4 --changes 24

.PHONY: test-faults chaos fleet

test-faults:
	$(PY) -m pytest -q -p no:cacheprovider -s tests/faults

chaos: setup
	tests/pg/cluster.sh run env PYTHONPATH=tests $(PY) -m faults.chaos $(CHAOS_ARGS)
	$(MAKE) --no-print-directory fleet

fleet: setup
	env PYTHONPATH=tests $(PY) -m faults.fleet $(FLEET_ARGS)
