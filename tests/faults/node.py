"""One verifying node: `python -m faults.node` (PYTHONPATH=tests), configured by one JSON line on
stdin (the URL, the pepper, the secrets: nothing secret on argv), then `go END_NS`.

It opens its own TokenStore on the URL (its proxy) in its host's runtime folder (a node of
its own unless the plan puts several nodes on one host: then they share one relay), warms the cache with every token, says
`ready`, and on `go` verifies in a tight loop until END_NS (time.monotonic_ns()): the stable
tokens (never changed) and a window of the changed ones (the next few the writer will change,
and every one whose change returned within `keep` seconds), each needing `scope`. It records
what the checker needs, cheaply enough not to slow the loop:

- counts of outcomes: ok, refused (RevokedToken, PermissionDenied), store_error, other;
- per changed token: the start of its last success, and the successes that started after the
  writer published its change as returned (the change board): count, first and last start;
- transitions between answering (ok or refused) and failing (StoreError): [t, t_end, t_prev,
  state]: the start and end of the first verification in the new state, and the start of the
  last one in the previous state;
- slow verifications (longer than `slow_ms`): [start, duration, outcome];
- the first few distinct StoreError messages (they name host, port and database), and when;
- `hung`: if a verification has not returned `grace` seconds after END_NS, a watchdog writes
  the report (with when that verification started) and ends the process.

With `idle` in its configuration it only opens the store and waits until END_NS: a host's
first store, hence its relay, which a scenario may kill without losing a node's report.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

import tokenkeep
from tokenkeep import AuthenticationError, PermissionDenied, StoreError, TokenkeepError

from .board import FAILED, PENDING, Board

CAP = 100_000  # entries per list in the report, at most


def _window(view, n: int, now: int, keep_ns: int, ahead: int) -> list[int]:
    out = []
    pending = 0
    for k in range(n):
        v = view[k]
        if v == PENDING:
            if pending < ahead:
                out.append(k)
            pending += 1
        elif v != FAILED and v > now - keep_ns:
            out.append(k)
    return out


def idle(cfg: dict) -> None:
    """A host's first store, hence its relay: it verifies nothing, and may be killed."""
    store = tokenkeep.TokenStore(
        cfg["url"], pepper=cfg["pepper"], lease=float(cfg["lease"]), runtime_dir=cfg["runtime_dir"]
    )
    print("ready", flush=True)
    line = sys.stdin.readline().split()
    if line and line[0] == "go":
        time.sleep(max(0.0, (int(line[1]) - time.monotonic_ns()) / 1e9))
    store.close()


def main() -> None:
    cfg = json.loads(sys.stdin.readline())
    if cfg.get("idle"):
        idle(cfg)
        return
    secrets: list[str] = cfg["secrets"]
    stable: list[str] = cfg["stable"]
    scope: str = cfg["scope"]
    n = len(secrets)
    board = Board(cfg["board"], n)
    view = board.view
    keep_ns = int(cfg.get("keep", 12.0) * 1e9)
    slow_ns = int(cfg.get("slow_ms", 100) * 1e6)
    grace = float(cfg.get("grace", 10.0))

    counts = {"ok": 0, "refused": 0, "store_error": 0, "other": 0}
    last_ok = [0] * n
    viol = [0] * n
    viol_first = [0] * n
    viol_last = [0] * n
    transitions: list[list] = []
    slow: list[list] = []
    errors: dict[str, int] = {}  # the first few distinct StoreError messages, first seen
    current = [0]  # the start of the verification in progress (for the watchdog)
    report = {
        "pid": os.getpid(),
        "counts": counts,
        "last_ok": last_ok,
        "viol": viol,
        "viol_first": viol_first,
        "viol_last": viol_last,
        "transitions": transitions,
        "slow": slow,
        "errors": errors,
        "hung": None,
    }
    done = threading.Event()

    def write_report() -> None:
        with open(cfg["out"] + ".tmp", "w") as f:
            json.dump(report, f)
        os.replace(cfg["out"] + ".tmp", cfg["out"])

    store = tokenkeep.TokenStore(
        cfg["url"],
        pepper=cfg["pepper"],
        lease=float(cfg["lease"]),
        consistency=cfg.get("consistency", "strict"),
        runtime_dir=cfg["runtime_dir"],
    )
    for s in secrets + stable:  # warm: from now on every token is served from memory
        store.check(s, scope)
    print("ready", flush=True)
    line = sys.stdin.readline().split()
    if not line or line[0] != "go":
        sys.exit(2)
    end = int(line[1])

    def watchdog() -> None:
        while not done.wait(max(0.05, (end - time.monotonic_ns()) / 1e9 + grace)):
            if time.monotonic_ns() > end + grace * 1e9:
                report["hung"] = {"since": current[0], "noticed": time.monotonic_ns()}
                write_report()
                os._exit(0)

    threading.Thread(target=watchdog, daemon=True).start()

    verify = store.verify
    now = time.monotonic_ns
    serving = True  # answering (ok or refused) rather than failing
    last_answer = last_error = prev = now()
    prev_outcome = "ok"
    t = prev
    while t <= end:
        active = _window(view, n, now(), keep_ns, 8)
        secs = [secrets[k] for k in active] + stable
        ks = active + [-1] * len(stable)
        refresh = now() + 20_000_000
        while t <= end and t < refresh:
            for j in range(len(ks)):
                t = now()
                current[0] = t
                if t - prev > slow_ns and len(slow) < CAP:
                    slow.append([prev, t - prev, prev_outcome])
                prev = t
                k = ks[j]
                try:
                    verify(secs[j], scope)
                except StoreError as e:
                    counts["store_error"] += 1
                    if len(errors) < 20 and str(e) not in errors:
                        errors[str(e)] = t
                    prev_outcome = "store_error"
                    if serving and len(transitions) < CAP:
                        transitions.append([t, now(), last_answer, "error"])
                    serving = False
                    last_error = t
                    continue
                except (AuthenticationError, PermissionDenied):
                    counts["refused"] += 1
                    prev_outcome = "refused"
                except TokenkeepError:
                    counts["other"] += 1
                    prev_outcome = "other"
                    continue
                else:
                    counts["ok"] += 1
                    prev_outcome = "ok"
                    if k >= 0:
                        last_ok[k] = t
                        if t > view[k]:  # started after the change had returned
                            if not viol[k]:
                                viol_first[k] = t
                            viol[k] += 1
                            viol_last[k] = t
                if not serving:
                    if len(transitions) < CAP:
                        transitions.append([t, now(), last_error, "answer"])
                    serving = True
                last_answer = t
    t = now()
    if t - prev > slow_ns and len(slow) < CAP:
        slow.append([prev, t - prev, prev_outcome])
    done.set()
    report["end"] = t
    write_report()
    print("done", flush=True)
    store.close()  # may wait on a dead link: the report is written already
    board.close()


if __name__ == "__main__":
    main()
