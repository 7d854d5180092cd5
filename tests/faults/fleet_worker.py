"""One worker of the simulated fleet (fleet.py): a forked process, as a gunicorn worker is, that
opens its own TokenStore when told, warms its cache with every token, then verifies them all
from `threads` threads (a pause between rounds, so 120+ workers fit on two cores) until told to
stop. It counts, as node.py does, the successful verifications that started after the writer's
change to that token had returned (the change board: violations), and answers probes: one
verification of token k, started after the change returned, must be refused.

Messages on its pipe: in "open", ("probe", k), "stop"; out ("ready", t) or ("failed", why),
("probe", outcome), ("stats", {...}).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import traceback

import tokenkeep
from tokenkeep import AuthenticationError, PermissionDenied, StoreError, TokenkeepError

from .board import Board

SLOW_US = 10_000  # durations from here up are kept exactly; shorter ones in 1 us buckets


def _verify_loop(store, secrets, scope, view, stop, pause, out) -> None:
    hist = [0] * SLOW_US
    slow: list[int] = []
    counts = {"ok": 0, "refused": 0, "store_error": 0, "other": 0, "violations": 0}
    verify = store.verify
    now = time.monotonic_ns
    n = len(secrets)
    while not stop.is_set():
        for k in range(n):
            t = now()
            try:
                verify(secrets[k], scope)
            except (AuthenticationError, PermissionDenied):
                counts["refused"] += 1
            except StoreError:
                counts["store_error"] += 1
            except TokenkeepError:
                counts["other"] += 1
            else:
                counts["ok"] += 1
                if t > view[k]:  # started after the change to k had returned
                    counts["violations"] += 1
            us = (now() - t) // 1000
            if us < SLOW_US:
                hist[us] += 1
            else:
                slow.append(us)
        stop.wait(pause)
    out.append({"counts": counts, "hist": hist, "slow": slow})


def run(conn, cfg: dict) -> None:
    """The child's whole life; ends the process with os._exit (nothing of the parent's runs)."""
    try:
        if conn.recv() != "open":
            os._exit(2)
        try:
            store = tokenkeep.TokenStore(
                cfg["url"], pepper=cfg["pepper"], lease=cfg["lease"], **cfg["store_kwargs"]
            )
        except TokenkeepError as e:
            conn.send(("failed", f"{type(e).__name__}: {str(e)[:200]}"))
            os._exit(0)
        secrets, scope = cfg["secrets"], cfg["scope"]
        for s in secrets:  # warm: from now on every token is served from memory
            store.check(s, scope)
        conn.send(("ready", time.monotonic_ns()))
        board = Board(cfg["board"], len(secrets))
        stop = threading.Event()
        results: list[dict] = []
        threads = [
            threading.Thread(
                target=_verify_loop,
                args=(store, secrets, scope, board.view, stop, cfg["pause"], results),
            )
            for _ in range(cfg["threads"])
        ]
        for t in threads:
            t.start()
        while True:
            msg = conn.recv()
            if msg == "stop":
                break
            _, k = msg
            try:
                store.verify(secrets[k], scope)
                conn.send(("probe", "ok"))
            except (AuthenticationError, PermissionDenied):
                conn.send(("probe", "refused"))
            except TokenkeepError as e:
                conn.send(("probe", f"{type(e).__name__}: {str(e)[:200]}"))
        stop.set()
        for t in threads:
            t.join()
        store.close()
        board.close()
        conn.send(("stats", results))
    except BaseException:  # noqa: BLE001 - reported to the parent, which counts it
        with contextlib.suppress(OSError):
            conn.send(("crashed", traceback.format_exc()[-500:]))
        os._exit(1)
    os._exit(0)
