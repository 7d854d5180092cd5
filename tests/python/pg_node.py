"""One verifying node for the multi-node tests (tests/python/test_pg_nodes.py).

    python pg_node.py URL PEPPER LEASE SECONDS OUT.json   (secrets as JSON lines on stdin)

Opens its own TokenStore on the PostgreSQL URL as a node of its own (relay=False: the tests
that use it were written for one node per process, and look its lease row up by pid; hosts
sharing a relay are tests/python/test_pg_relay.py's), says "ready" on stdout, then verifies the
tokens round-robin (each needing device:write) for SECONDS. It writes, per token, the start
time (time.monotonic(), one clock for every process on the machine) of the LAST verification
that succeeded, the counts of outcomes, the start time of the first StoreError and the
longest a single verification took, to OUT.json.
"""

import json
import sys
import time

import tokenkeep


def main() -> None:
    url, pepper, lease, seconds, out = sys.argv[1:6]
    secrets = [json.loads(line) for line in sys.stdin.read().splitlines() if line.strip()]
    last_ok = [0.0] * len(secrets)
    counts = {"ok": 0, "refused": 0, "store_error": 0}
    first_error = None
    longest = 0.0
    with tokenkeep.TokenStore(url, pepper=pepper, lease=float(lease), relay=False) as store:
        for s in secrets:  # warm the cache: every token is served from memory from now on
            store.check(s, "device:write")
        print("ready", flush=True)
        verify = store.verify
        deadline = time.monotonic() + float(seconds)
        i = 0
        n = len(secrets)
        while True:
            started = time.monotonic()
            if started > deadline:
                break
            k = i % n
            try:
                verify(secrets[k], "device:write")
                last_ok[k] = started
                counts["ok"] += 1
            except tokenkeep.StoreError:
                counts["store_error"] += 1
                if first_error is None:
                    first_error = started
            except tokenkeep.TokenkeepError:
                counts["refused"] += 1
            longest = max(longest, time.monotonic() - started)
            i += 1
    with open(out, "w") as f:
        json.dump(
            {"last_ok": last_ok, "counts": counts, "first_error": first_error, "longest": longest},
            f,
        )


if __name__ == "__main__":
    main()
