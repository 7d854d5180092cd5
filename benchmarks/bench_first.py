"""First verifications (issue 23), side by side in one run, rounds alternating, medians compared:

- a restarted worker: open a store of 50,000 tokens of which 5,000 were used before and verify
  those 5,000 once, the open included - tokenkeep (warm start) vs the stdlib store;
- the bare miss (``cache_size=0``, every verify reads the database) vs the C++ floor
  (benchmarks/miss_floor.cc: prepared SELECT by id + keyed BLAKE2b-256 + compare, autocommit)
  over the same database and tokens, and the engine's own miss vs its floor (Google Benchmark);
- what warm start costs at open: 10,000, 100,000 and 1,000,000 tokens, warm start on and off.

The load average is printed with every row: this 2-core machine is shared.

    .venv/bin/python benchmarks/bench_first.py --floor build/bench/benchmarks/tokenkeep_miss_floor \
        [--engine-json FILE] [--quick] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tokenkeep  # noqa: E402
from bench_python import PEPPER_HEX, alternate, populate, write_results  # noqa: E402
from stdlib_store import StdlibTokenStore  # noqa: E402


def load() -> str:
    return "load {:.1f}/{:.1f}/{:.1f}".format(*os.getloadavg())


def bench_restart(rounds: int, n: int, used: int):
    """Open + verify the `used` tokens once, per round; (stdlib seconds, tokenkeep seconds)."""
    d = tempfile.mkdtemp(prefix="tokenkeep-first-")
    tk, base, tk_tokens, base_tokens = populate(n, d)
    rng = random.Random(5)
    chosen = rng.sample(range(n), used)
    for i in chosen:  # used before: their last_used_at is persisted when the store closes
        assert tk.check(tk_tokens[i], "device:read")
    tk.close()
    base.db.close()
    tk_batch = [tk_tokens[i] for i in chosen]
    base_batch = [base_tokens[i] for i in chosen]

    cpu = {"base": [], "tk": []}

    def run_base():
        rng.shuffle(base_batch)
        t0, c0 = time.perf_counter(), time.process_time()
        s = StdlibTokenStore(os.path.join(d, "base.db"), bytes.fromhex(PEPPER_HEX))
        for t in base_batch:
            s.verify(t, "device:read")
        took = time.perf_counter() - t0
        cpu["base"].append(time.process_time() - c0)
        s.db.close()
        return took

    def run_tk():
        rng.shuffle(tk_batch)
        t0, c0 = time.perf_counter(), time.process_time()
        s = tokenkeep.TokenStore(os.path.join(d, "tk.db"), pepper=PEPPER_HEX)
        verify = s.verify
        for t in tk_batch:
            verify(t, "device:read")
        took = time.perf_counter() - t0
        cpu["tk"].append(time.process_time() - c0)  # every thread's: the warm start's too
        s.close()
        return took

    b, t = alternate(rounds, (run_base, run_tk))
    shutil.rmtree(d, ignore_errors=True)
    return b, t, statistics.median(cpu["base"]), statistics.median(cpu["tk"])


def bench_bare_miss(floor: str, rounds: int, n: int):
    """Per-call (wall, thread CPU) of a cache_size=0 verify and of the C++ floor, same tokens."""
    d = tempfile.mkdtemp(prefix="tokenkeep-miss-")
    db = os.path.join(d, "m.db")
    with tokenkeep.TokenStore(db, pepper=PEPPER_HEX) as s:
        tokens = [i.secret for i in s.create_many("b", [(f"t{i}", ["device"]) for i in range(n)])]
    random.Random(3).shuffle(tokens)
    path = os.path.join(d, "tokens.txt")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(tokens) + "\n")
    store = tokenkeep.TokenStore(db, pepper=PEPPER_HEX, cache_size=0)
    verify = store.verify
    for t in tokens:  # first pass: every row in the page cache and recorded as used
        verify(t, "device:read")
    passes = 3
    py, cc = [], []
    for r in range(rounds):
        for who in ("py", "cc") if r % 2 == 0 else ("cc", "py"):
            if who == "py":
                w0, c0 = time.perf_counter(), time.thread_time()
                for _ in range(passes):
                    for t in tokens:
                        verify(t, "device:read")
                calls = passes * len(tokens)
                py.append(
                    (
                        (time.perf_counter() - w0) / calls * 1e9,
                        (time.thread_time() - c0) / calls * 1e9,
                    )
                )
            else:
                out = subprocess.run(
                    [floor, db, PEPPER_HEX, path, str(passes)],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout.split()
                cc.append((float(out[0]), float(out[1])))
    store.close()
    shutil.rmtree(d, ignore_errors=True)

    def med(xs, k):
        return statistics.median(x[k] for x in xs)

    return med(py, 0), med(py, 1), med(cc, 0), med(cc, 1)


def bench_open(n: int, rounds: int, every: int = 1):
    """Open time with warm start off and on, and the time until the warm start is done; one
    token in `every` used in the last hour (1: all of them)."""
    d = tempfile.mkdtemp(prefix="tokenkeep-open-")
    db = os.path.join(d, "o.db")
    with tokenkeep.TokenStore(db, pepper=PEPPER_HEX, warm_start=False) as s:
        for start in range(0, n, 50_000):
            s.create_many(
                "o", [(f"t{i}", ["device"]) for i in range(start, min(n, start + 50_000))]
            )
        now_us = s._e.now_us()
    # Tokens used in the last hour (a setup shortcut: written before any store reads it).
    c = sqlite3.connect(db)
    c.execute(
        "UPDATE tokens SET last_used_at = ? - (id % 3600000000) WHERE id % ? = 0", (now_us, every)
    )
    c.commit()
    c.close()
    off, on, ready, loaded = [], [], [], 0
    for r in range(rounds):
        for warm in (False, True) if r % 2 == 0 else (True, False):
            t0 = time.perf_counter()
            s = tokenkeep.TokenStore(db, pepper=PEPPER_HEX, warm_start=warm)
            opened = time.perf_counter() - t0
            (on if warm else off).append(opened)
            if warm:
                done, loaded, _ = s._e.warm_wait(120)
                assert done
                ready.append(time.perf_counter() - t0)
            s.close()
    shutil.rmtree(d, ignore_errors=True)
    return statistics.median(off), statistics.median(on), statistics.median(ready), loaded


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--floor", required=True, help="the tokenkeep_miss_floor program")
    ap.add_argument(
        "--engine-json", help="Google Benchmark JSON (BM_VerifyMiss, BM_FloorSqliteLookup)"
    )
    ap.add_argument("--quick", action="store_true")
    ap.add_argument(
        "--out",
        default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results_first.json"),
    )
    args = ap.parse_args()
    q = args.quick
    rows = []

    def row(measure, target, value, ok, detail):
        detail = f"{detail}; {load()}"
        rows.append(
            {"measure": measure, "target": target, "measured": value, "met": ok, "detail": detail}
        )
        print(
            f"{'PASS' if ok else 'MISS'}  {measure:62} {value:>8}   target {target}   ({detail})",
            flush=True,
        )

    b, t, bc, tc = bench_restart(5 if q else 9, 50_000, 5_000)
    row(
        "restart: open 50,000 tokens + verify the 5,000 used before, vs stdlib",
        ">= 4x",
        f"{b / t:.1f}x",
        b / t >= 4,
        f"stdlib {b * 1e3:.1f} ms, tokenkeep {t * 1e3:.1f} ms (warm start; open included); "
        f"CPU of all threads {bc * 1e3:.1f} vs {tc * 1e3:.1f} ms ({bc / tc:.1f}x)",
    )

    pw, pc, cw, cc = bench_bare_miss(args.floor, 5 if q else 9, 5_000)
    row(
        "bare miss (cache_size=0), Python verify vs C++ floor, thread CPU",
        "<= 1.3x",
        f"{pc / cc:.2f}x",
        pc / cc <= 1.3,
        f"verify {pc:.0f} ns, floor {cc:.0f} ns; wall {pw:.0f} vs {cw:.0f} ns ({pw / cw:.2f}x)",
    )
    if args.engine_json and os.path.exists(args.engine_json):
        with open(args.engine_json) as f:
            bm = {x["name"]: x for x in json.load(f)["benchmarks"]}
        miss, floor = bm["BM_VerifyMiss"]["cpu_time"], bm["BM_FloorSqliteLookup"]["cpu_time"]
        row(
            "bare miss, C++ Engine::verify vs C++ floor (Google Benchmark)",
            "<= 1.3x",
            f"{miss / floor:.2f}x",
            miss / floor <= 1.3,
            f"verify {miss:.0f} ns, floor {floor:.0f} ns (CPU time)",
        )

    # Every token in use, then (schema 8: the load reads the tokens in use, not the table) 1 in 200.
    sizes = [(10_000, 1), (100_000, 1)] + (
        [(100_000, 200)] if q else [(1_000_000, 1), (1_000_000, 200)]
    )
    for n, every in sizes:
        off, on, ready, loaded = bench_open(n, 3, every)
        used = "all used in the last hour" if every == 1 else f"1 in {every} used"
        row(
            f"open of {n:,} tokens ({used}): warm start on vs off",
            "reported",
            f"{on * 1e3:.1f} ms",
            True,
            f"off {off * 1e3:.1f} ms; cache loaded ({loaded:,} tokens) {ready * 1e3:.0f} ms after the open began",
        )

    write_results(args.out, q, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
