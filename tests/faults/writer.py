"""The writer: `python -m faults.writer` (PYTHONPATH=tests), configured by one JSON line on stdin
(URL, pepper, lease, owner, the ids of the tokens it may change, the change board), then one
command per line:

    change K revoke|narrow    revoke token K, or narrow it to device:read (device:write, which
                              the nodes check, is refused from then on)
    quit

For each change it prints one JSON line: k, kind, start and returned (time.monotonic_ns()),
outcome ("ok", "store_error" or the error's class) and, for a StoreError, its message (which
names host, port and database, never a secret). A change that returned is published on the
board at once, for the nodes' own count of violations.
"""

from __future__ import annotations

import json
import sys
import time

import tokenkeep
from tokenkeep import StoreError, TokenkeepError

from .board import FAILED, Board


def main() -> None:
    cfg = json.loads(sys.stdin.readline())
    ids: list[int] = cfg["ids"]
    owner: str = cfg["owner"]
    board = Board(cfg["board"], len(ids))
    store = tokenkeep.TokenStore(
        cfg["url"],
        pepper=cfg["pepper"],
        lease=float(cfg["lease"]),
        consistency=cfg.get("consistency", "strict"),
        runtime_dir=cfg["runtime_dir"],
    )
    print("ready", flush=True)
    now = time.monotonic_ns
    for line in sys.stdin:
        words = line.split()
        if not words or words[0] == "quit":
            break
        k, kind = int(words[1]), words[2]
        result = {"k": k, "kind": kind}
        start = now()
        try:
            if kind == "revoke":
                store.revoke(owner, ids[k])
            else:
                store.update_scopes(owner, ids[k], {"device:read"})
            returned = now()
            board.publish(k, returned)
            result["outcome"] = "ok"
        except StoreError as e:
            returned = now()
            board.publish(k, FAILED)
            result["outcome"] = "store_error"
            result["message"] = str(e)[:300]
        except TokenkeepError as e:
            returned = now()
            board.publish(k, FAILED)
            result["outcome"] = type(e).__name__
        result["start"], result["returned"] = start, returned
        print(json.dumps(result), flush=True)
    store.close()
    board.close()


if __name__ == "__main__":
    main()
