"""The fault harness of issue 18: strict revocation across nodes, under faults.

Node processes (`node.py`) verify tokens from their caches in tight loops, each through its own
userspace TCP proxy (`proxy.py`) and, as root, inside its own network namespace (`netns.py`);
a writer process (`writer.py`) revokes tokens and narrows scopes; the harness (`rig.py`) injects
faults on a timeline (`scenarios.py`); the checker (`checker.py`) counts violations: a
successful verification of the old state that STARTED after the change had returned. Every
process reads the same CLOCK_MONOTONIC, so "started after returned" is a comparison of two
readings of one clock.

    make chaos                       # the long run: every scenario, six nodes, a table
    PYTHONPATH=tests .venv/bin/python -m faults.chaos --help
    tests/faults/test_faults.py      # the short run (make test)
"""
