"""One worker process of a host for tests/python/test_pg_relay.py.

    python pg_relay_worker.py      (one JSON line on stdin: url, pepper, lease, secrets,
                                    runtime_dir; then commands, one per line)

Opens its own TokenStore on the URL with the host's runtime_dir (relay=True), warms its cache
with every secret, says "ready PID", then answers commands:

    verify           verifies every secret (device:write), prints a JSON list of outcomes:
                     "ok", "revoked", "scope", "store_error" or "other"
    revoke I         revokes secret I (owner alice), prints "done SECONDS" (how long it took)
    quit
"""

import json
import os
import sys
import time

import tokenkeep


def _outcome(store, secret: str) -> str:
    try:
        store.verify(secret, "device:write")
        return "ok"
    except tokenkeep.RevokedToken:
        return "revoked"
    except tokenkeep.PermissionDenied:
        return "scope"
    except tokenkeep.StoreError:
        return "store_error"
    except tokenkeep.TokenkeepError:
        return "other"


def main() -> None:
    cfg = json.loads(sys.stdin.readline())
    secrets = cfg["secrets"]
    with tokenkeep.TokenStore(
        cfg["url"],
        pepper=cfg["pepper"],
        lease=float(cfg["lease"]),
        runtime_dir=cfg["runtime_dir"],
    ) as store:
        for s in secrets:
            store.check(s, "device:write")
        print(f"ready {os.getpid()}", flush=True)
        for line in sys.stdin:
            cmd = line.split()
            if not cmd or cmd[0] == "quit":
                break
            if cmd[0] == "verify":
                print(json.dumps([_outcome(store, s) for s in secrets]), flush=True)
            elif cmd[0] == "revoke":
                t0 = time.monotonic()
                info = store.verify(secrets[int(cmd[1])])
                store.revoke("alice", info.id)
                print(f"done {time.monotonic() - t0:.3f}", flush=True)


if __name__ == "__main__":
    main()
