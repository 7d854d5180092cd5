"""How much a leak scan of forged tokens costs (issue 19, item 6): N checksum-valid tokens
that no store issued, scanned by ``TokenStore.scan_leaked`` (one call) and by ``tokenkeep
leak`` (a file), each in a fresh process; prints wall time and peak RSS.

    python benchmarks/leak_flood.py sqlite 200000
    TOKENKEEP_TEST_PG=postgresql:///... python benchmarks/leak_flood.py pg 50000

On a version with limits, the call passes max_tokens=N (the default refuses more than
100,000) and the CLI --max-tokens N.
"""

from __future__ import annotations

import inspect
import os
import resource
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "python"))

CHILD = r"""
import inspect, resource, sys, time
sys.path.insert(0, sys.argv[4])
import tokenkeep
from leak_forgery import forged_tokens
db, n = sys.argv[1], int(sys.argv[2])
text = forged_tokens(n)
store = tokenkeep.TokenStore(db, pepper="ab" * 32)
kw = {"max_tokens": n} if "max_tokens" in inspect.signature(store.scan_leaked).parameters else {}
t0 = time.perf_counter()
report = store.scan_leaked(text, dry_run=sys.argv[3] == "dry", **kw)
took = time.perf_counter() - t0
assert len(report.unknown) == n, len(report.unknown)
print(f"{took:.2f} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")
"""


def main() -> None:
    kind, n = sys.argv[1], int(sys.argv[2])
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "python")
    with tempfile.TemporaryDirectory() as tmp:
        db = os.environ["TOKENKEEP_TEST_PG"] if kind == "pg" else os.path.join(tmp, "t.db")
        import tokenkeep
        from leak_forgery import forged_tokens

        tokenkeep.TokenStore(db, pepper="ab" * 32).close()  # the CLI wants an existing store
        path = os.path.join(tmp, "flood.txt")
        with open(path, "wb") as f:
            f.write(forged_tokens(n))
        import tokenkeep.cli.commands.leak as leak

        flags = (
            ["--max-tokens", str(n)]
            if "max_tokens" in inspect.signature(leak.leak.callback).parameters
            else []
        )
        env = dict(os.environ, TOKENKEEP_PEPPER="ab" * 32)
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        t0 = time.perf_counter()
        r = subprocess.run(
            [sys.executable, "-m", "tokenkeep", "--db", db, "leak", "--dry-run", *flags, path],
            capture_output=True,
            text=True,
            env=env,
        )
        took = time.perf_counter() - t0
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        assert r.returncode == 0, r.stderr
        size = os.path.getsize(path) / 1e6
        print(
            f"tokenkeep leak, {size:.1f} MB file: {took:.2f} s, peak RSS "
            f"{max(peak, before) / 1024:.0f} MiB ({r.stderr.strip()})"
        )

        out = subprocess.run(
            [sys.executable, "-c", CHILD, db, str(n), "dry", here],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        print(f"scan_leaked, {n} forged tokens on {kind}: {out[0]} s, peak RSS {out[1]} MiB")


if __name__ == "__main__":
    main()
