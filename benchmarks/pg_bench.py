"""tokenkeep on PostgreSQL, side by side in one run (issue 9).

    TOKENKEEP_PG_BENCH=1 tests/pg/cluster.sh run .venv/bin/python benchmarks/pg_bench.py [--quick]

`make bench` runs it like that: a throwaway PostgreSQL cluster on TCP 127.0.0.1 with fsync on.
Rows:
  - hot verification, PostgreSQL store vs SQLite store (same engine, same tokens);
  - first verification of a token (cache miss), p50/p99, vs a psycopg store (psycopg_store.py),
    and both against the C++ floor (`--floor`: benchmarks/pg_miss_floor.cc, a prepared
    PQexecPrepared SELECT by id + keyed BLAKE2b + compare over the same TCP connection string);
  - a restarted worker: open a store of 20,000 tokens of which 2,000 were used before and
    verify those 2,000 once, the open included, with warm start and without, vs the psycopg store;
  - revoke latency with 1 and 3 nodes (processes with the store open), strict and bounded;
  - bulk create of 2,000 and 10,000 tokens vs the psycopg store, one transaction each: wall
    time, and CPU time (this process plus the cluster's server processes, which is what a
    loaded machine does not distort);
  - 1,000,000 tokens in PostgreSQL: p50/p99 of a hot verification.
Every row carries the load average (1 min) measured around it. `--parts miss,bulk` runs some.
Writes benchmarks/results_pg.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

import psycopg
from psycopg.conninfo import conninfo_to_dict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tokenkeep  # noqa: E402
from bench_python import alternate, machine, per_call  # noqa: E402
from psycopg_store import PsycopgTokenStore  # noqa: E402

PEPPER_HEX = "5f" * 32
ALL_PARTS = {"hot", "miss", "restart", "revoke", "bulk", "million"}
BASE_URL = os.environ.get("TOKENKEEP_TEST_PG", "")

# One verifying node: opens the store, warms one token, says "ready", keeps its store open
# (its background connection renews the lease and acknowledges changes) until stdin closes.
NODE = """
import sys, tokenkeep
url, pepper, consistency, token = sys.argv[1:5]
with tokenkeep.TokenStore(url, pepper=pepper, consistency=consistency, lease=2.0) as s:
    s.check(token, "device:read")
    print("ready", flush=True)
    sys.stdin.read()
"""


def server_cpu_ms() -> float:
    """CPU time so far of the cluster's server processes (children of its postmaster), in ms,
    from /proc/<pid>/schedstat (nanoseconds on a CPU). Processes that ended are not counted:
    the backends measured here live for the whole measurement."""
    pg_dir = os.environ.get("TOKENKEEP_TEST_PG_DIR", "")
    try:
        with open(os.path.join(pg_dir, "data", "postmaster.pid")) as f:
            postmaster = int(f.readline())
    except (OSError, ValueError):
        return 0.0
    total = 0.0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
            if int(d) != postmaster and int(st[st.rfind(")") + 2 :].split()[1]) != postmaster:
                continue
            with open(f"/proc/{d}/schedstat") as f:
                total += int(f.read().split()[0]) / 1e6
        except (OSError, ValueError, IndexError):
            pass
    return total


def cpu_ms() -> float:
    """This process's CPU time plus the server's (server_cpu_ms), in ms."""
    return time.process_time() * 1e3 + server_cpu_ms()


def load1() -> float:
    return os.getloadavg()[0]


def schema_url(name: str) -> str:
    with psycopg.connect(BASE_URL, autocommit=True) as c:
        c.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        c.execute(f"CREATE SCHEMA {name}")
    sep = "&" if "?" in BASE_URL else "?"
    return f"{BASE_URL}{sep}options=-csearch_path%3D{name}"


def pct(samples, q):
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * q))]


def create_tokens(store, owner: str, n: int, batch: int = 20_000):
    out = []
    for start in range(0, n, batch):
        items = [(f"t-{i}", ["device"]) for i in range(start, min(n, start + batch))]
        out += [i.secret for i in store.create_many(owner, items)]
    return out


def bench_hot(pg_url, rounds):
    d = tempfile.mkdtemp(prefix="tokenkeep-bench-")
    lite = tokenkeep.TokenStore(os.path.join(d, "tk.db"), pepper=PEPPER_HEX)
    pg = tokenkeep.TokenStore(pg_url, pepper=PEPPER_HEX)
    lt = create_tokens(lite, "bench", 20_000)[:1000]
    pt = create_tokens(pg, "bench", 20_000)[:1000]
    per_call(lite.verify, lt)
    per_call(pg.verify, pt)
    time.sleep(1.2)  # first-use writes land, as in a running service
    s, p = alternate(rounds, (lambda: per_call(lite.verify, lt), lambda: per_call(pg.verify, pt)))
    lite.close()
    pg.close()
    return s, p


def timed_each(fn, tokens, cpu=None):
    """Per-call wall ns of fn over tokens; with a list `cpu`, appends this thread's CPU ns."""
    clock = time.perf_counter_ns
    out = []
    c0 = time.thread_time_ns()
    for t in tokens:
        t0 = clock()
        fn(t, "device:read")
        out.append(clock() - t0)
    if cpu is not None:
        cpu.append(time.thread_time_ns() - c0)
    return out


def floor_round(floor, pg_url, tokens):
    """(per-lookup wall ns, total thread CPU ns) of the C++ floor over `tokens` (its first one
    warms it, not timed)."""
    with tempfile.NamedTemporaryFile("w", suffix=".tokens") as f:
        f.write("\n".join(tokens) + "\n")
        f.flush()
        # The connection string (which may hold a password) goes through the environment.
        out = subprocess.run(
            [floor, "postgresql://", PEPPER_HEX, f.name],
            env={**os.environ, **libpq_env(pg_url)},
            capture_output=True,
            text=True,
            check=True,
        )
    lines = out.stdout.split("\n")
    cpu = [int(x.split()[1]) for x in lines if x.startswith("cpu ")]
    return [int(x) for x in lines if x.strip().isdigit()], cpu[0]


def libpq_env(url):
    """PG* variables for a postgresql:// URL (the floor program is given no secrets in argv)."""
    info = conninfo_to_dict(url)
    names = {"host": "PGHOST", "port": "PGPORT", "user": "PGUSER", "password": "PGPASSWORD"}
    env = {names[k]: str(v) for k, v in info.items() if k in names}
    env["PGDATABASE"] = str(info.get("dbname", ""))
    if "options" in info:
        env["PGOPTIONS"] = str(info["options"])
    return env


def bench_miss(pg_url, base_url, rounds, per_round, floor=None):
    """First verification of each token: a fresh store per round (empty cache), random tokens;
    each store's connection is warmed by one verification first (not measured). With `floor`,
    the C++ floor program reads the tokenkeep store's tokens in the same rounds."""
    with tokenkeep.TokenStore(pg_url, pepper=PEPPER_HEX) as s:
        tk_tokens = create_tokens(s, "miss", rounds * per_round + 1)
    base = PsycopgTokenStore(base_url, bytes.fromhex(PEPPER_HEX))
    base_tokens = base.create_many(
        "miss", [(f"t-{i}", ["device"]) for i in range(rounds * per_round + 1)]
    )
    base.close()
    rng = random.Random(7)
    order = list(range(1, rounds * per_round + 1))
    rng.shuffle(order)
    tk_ns, base_ns, floor_ns = [], [], []
    cpu = {"tokenkeep": [], "psycopg": [], "floor": []}
    for r in range(rounds):
        sample = order[r * per_round : (r + 1) * per_round]
        runs = (0, 1, 2) if floor else (0, 1)
        for which in runs if r % 2 == 0 else runs[::-1]:
            if which == 2:
                got, c = floor_round(floor, pg_url, [tk_tokens[i] for i in [0, *sample]])
                floor_ns += got
                cpu["floor"].append(c)
            elif which == 0:
                b = PsycopgTokenStore(base_url, bytes.fromhex(PEPPER_HEX))
                assert b.verify(base_tokens[0], "device:read")
                got = timed_each(b.verify, [base_tokens[i] for i in sample], cpu["psycopg"])
                b.close()
                base_ns += got
            else:
                with tokenkeep.TokenStore(pg_url, pepper=PEPPER_HEX) as s:
                    s.verify(tk_tokens[0], "device:read")
                    tk_ns += timed_each(s.verify, [tk_tokens[i] for i in sample], cpu["tokenkeep"])
    # CPU of the calling thread per miss (the scheduler's placement, which moves the wall
    # time of all three by 2x on this VM, does not move it).
    cpu_per = {k: sum(v) / (len(v) * per_round) for k, v in cpu.items() if v}
    return tk_ns, base_ns, floor_ns, cpu_per


def bench_restart(pg_url, base_url, rounds, n, used):
    """Medians (s) of: open + verify `used` tokens once (used before, so a warm start loads
    them), tokenkeep with warm start, without, and the psycopg store; rounds alternate."""
    with tokenkeep.TokenStore(pg_url, pepper=PEPPER_HEX, warm_start=False) as s:
        tk_tokens = create_tokens(s, "restart", n)[:used]
        for t in tk_tokens:  # their last use is persisted when the store closes
            assert s.check(t, "device:read")
    base = PsycopgTokenStore(base_url, bytes.fromhex(PEPPER_HEX))
    base_tokens = base.create_many("restart", [(f"t-{i}", ["device"]) for i in range(used)])
    base.close()
    rng = random.Random(11)

    def run(open_store, tokens):
        def timed():
            rng.shuffle(tokens)
            t0 = time.perf_counter()
            store = open_store()
            for t in tokens:
                store.verify(t, "device:read")
            took = time.perf_counter() - t0
            store.close()
            return took

        return timed

    def tk(warm):
        return run(
            lambda: tokenkeep.TokenStore(pg_url, pepper=PEPPER_HEX, warm_start=warm), tk_tokens
        )

    psycopg = run(lambda: PsycopgTokenStore(base_url, bytes.fromhex(PEPPER_HEX)), base_tokens)
    return alternate(rounds, (tk(True), tk(False), psycopg))


def bench_revoke(url, nodes: int, consistency: str, n: int):
    """Revoke latency as seen by the caller, with `nodes` processes holding the store open
    (the writer is one of them)."""
    with tokenkeep.TokenStore(url, pepper=PEPPER_HEX, consistency=consistency, lease=2.0) as w:
        tokens = create_tokens(w, f"rv-{nodes}-{consistency}", n + 1)
        procs = []
        try:
            for _ in range(nodes - 1):
                # Each node a host of its own (its own runtime folder, hence its own relay),
                # as when these rows were first measured: one relay per node.
                own = {**os.environ, "TOKENKEEP_RUNTIME_DIR": tempfile.mkdtemp(prefix="tk-host-")}
                p = subprocess.Popen(
                    [sys.executable, "-c", NODE, url, PEPPER_HEX, consistency, tokens[0]],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                    env=own,
                )
                procs.append(p)
            for p in procs:
                assert p.stdout.readline().strip() == "ready"
            ids = [w.verify(t).id for t in tokens[1:]]  # warms the writer's cache too
            owner = f"rv-{nodes}-{consistency}"
            clock = time.perf_counter_ns
            samples = []
            for tid in ids:
                t0 = clock()
                w.revoke(owner, tid)
                samples.append(clock() - t0)
            for t in tokens[1:]:
                assert not w.check(t, "device:read")
        finally:
            for p in procs:
                p.stdin.close()
            for p in procs:
                p.wait(timeout=30)
    return samples


def bench_bulk(pg_url, base_url, rounds, n):
    """Medians of (wall s, CPU ms) per create_many of n tokens, psycopg then tokenkeep,
    alternating which goes first; each round a new owner."""
    base = PsycopgTokenStore(base_url, bytes.fromhex(PEPPER_HEX))
    tk = tokenkeep.TokenStore(pg_url, pepper=PEPPER_HEX)
    tag = f"{os.getpid()}-{time.time_ns()}"
    counter = iter(range(10**6))
    got = {"psycopg": [], "tokenkeep": []}

    def run(name, create_many):
        items = [(f"dev-{i}", ["device"]) for i in range(n)]
        owner = f"bulk-{tag}-{next(counter)}"
        c0, t0 = cpu_ms(), time.perf_counter()
        create_many(owner, items)
        got[name].append((time.perf_counter() - t0, cpu_ms() - c0))

    try:
        for r in range(rounds):
            pair = [("psycopg", base.create_many), ("tokenkeep", tk.create_many)]
            for name, fn in pair if r % 2 == 0 else pair[::-1]:
                run(name, fn)
    finally:
        base.close()
        tk.close()

    def medians(v):
        return statistics.median(x[0] for x in v), statistics.median(x[1] for x in v)

    return medians(got["psycopg"]), medians(got["tokenkeep"])


def bench_million(url, n_total, hot, calls):
    with tokenkeep.TokenStore(url, pepper=PEPPER_HEX) as tk:
        t0 = time.perf_counter()
        tokens = []
        for start in range(0, n_total, 20_000):
            items = [(f"t-{i}", ["device"]) for i in range(start, min(n_total, start + 20_000))]
            batch = tk.create_many("big", items)
            if len(tokens) < hot:
                tokens += [i.secret for i in batch[: hot - len(tokens)]]
        load_s = time.perf_counter() - t0
        for t in tokens:
            tk.verify(t, "device:read")
        time.sleep(1.2)
        rng = random.Random(1)
        return load_s, timed_each(tk.verify, [tokens[rng.randrange(hot)] for _ in range(calls)])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    ap.add_argument(
        "--parts",
        default=",".join(sorted(ALL_PARTS)),
        help="comma-separated: hot, miss, restart, revoke, bulk, million (default: all)",
    )
    ap.add_argument("--floor", help="the tokenkeep_pg_miss_floor program (make bench-pg builds it)")
    ap.add_argument(
        "--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results_pg.json")
    )
    args = ap.parse_args()
    if not BASE_URL:
        print(
            "pg_bench: TOKENKEEP_TEST_PG is not set (run under tests/pg/cluster.sh, as make bench does)",
            file=sys.stderr,
        )
        return 2
    q = args.quick
    parts = set(args.parts.split(","))
    rows = []

    def row(measure, target, value, ok, detail, load):
        detail = f"{detail}; load average {load[0]:.1f}-{load[1]:.1f}"
        rows.append(
            {"measure": measure, "target": target, "measured": value, "met": ok, "detail": detail}
        )
        mark = "PASS" if ok is True else ("MISS" if ok is False else "    ")
        print(f"{mark}  {measure:52} {value:>14}   target {target:>10}   ({detail})", flush=True)

    print(f"pg_bench on {machine()}; server {BASE_URL.split('@')[-1]}", flush=True)

    if "hot" in parts:
        l0 = load1()
        s, p = bench_hot(schema_url("b_hot"), 5 if q else 15)
        row(
            "hot verify, PostgreSQL store vs SQLite store",
            "<= 1.2x",
            f"{p / s:.2f}x",
            p / s <= 1.2,
            f"SQLite {s * 1e9:.0f} ns, PostgreSQL {p * 1e9:.0f} ns per call",
            (l0, load1()),
        )

    if "miss" in parts:
        l0 = load1()
        tk_ns, base_ns, floor_ns, cpu_per = bench_miss(
            schema_url("b_miss"), BASE_URL, 4 if q else 10, 500 if q else 2000, args.floor
        )
        for name, qq, want in (("p50", 0.5, 3), ("p99", 0.99, 2)):
            b, t = pct(base_ns, qq), pct(tk_ns, qq)
            row(
                f"first verify (cache miss) {name}, vs psycopg store",
                f">= {want}x",
                f"{b / t:.1f}x",
                b / t >= want,
                f"psycopg {b / 1e3:.0f} us, tokenkeep {t / 1e3:.0f} us",
                (l0, load1()),
            )
            if floor_ns:
                f = pct(floor_ns, qq)
                row(
                    f"first verify (cache miss) {name}, tokenkeep vs C++ floor",
                    "reported",
                    f"{t / f:.2f}x",
                    None,
                    f"floor {f / 1e3:.0f} us (PQexecPrepared + BLAKE2b + compare), tokenkeep "
                    f"{t / 1e3:.0f} us, psycopg {b / 1e3:.0f} us = {b / f:.2f}x the floor",
                    (l0, load1()),
                )
        if floor_ns:
            tc, bc, fc = cpu_per["tokenkeep"], cpu_per["psycopg"], cpu_per["floor"]
            row(
                "cache miss, calling thread's CPU, tokenkeep vs C++ floor",
                "reported",
                f"{tc / fc:.2f}x",
                None,
                f"floor {fc / 1e3:.1f} us, tokenkeep {tc / 1e3:.1f} us, psycopg {bc / 1e3:.1f} us "
                f"= {bc / fc:.2f}x the floor, {bc / tc:.2f}x tokenkeep",
                (l0, load1()),
            )

    if "revoke" in parts:
        n_rev = 50 if q else 200
        for nodes in (1, 3):
            for consistency in ("strict", "bounded"):
                l0 = load1()
                ns = bench_revoke(
                    schema_url(f"b_rv_{nodes}_{consistency}"), nodes, consistency, n_rev
                )
                row(
                    f"revoke latency, {nodes} node{'s' if nodes > 1 else ''}, {consistency}",
                    "reported",
                    f"{pct(ns, 0.5) / 1e6:.2f} ms",
                    None,
                    f"p50 {pct(ns, 0.5) / 1e6:.2f} ms, p99 {pct(ns, 0.99) / 1e6:.2f} ms, {len(ns)} revokes",
                    (l0, load1()),
                )

    if "restart" in parts:
        l0 = load1()
        warm, cold, base = bench_restart(
            schema_url("b_restart"), BASE_URL, 3 if q else 7, 20_000, 2_000
        )
        row(
            "restart: open 20,000 + verify the 2,000 used, vs psycopg",
            "reported",
            f"{base / warm:.1f}x",
            None,
            f"psycopg {base * 1e3:.0f} ms, tokenkeep {warm * 1e3:.0f} ms with warm start, "
            f"{cold * 1e3:.0f} ms without ({cold / warm:.1f}x)",
            (l0, load1()),
        )

    if "bulk" in parts:
        for n_bulk in (2_000, 10_000):
            l0 = load1()
            (bw, bc), (tw, tc) = bench_bulk(schema_url("b_bulk"), BASE_URL, 3 if q else 7, n_bulk)
            row(
                f"bulk create {n_bulk:,} tokens, vs psycopg store",
                ">= 3x",
                f"{bw / tw:.1f}x",
                bw / tw >= 3,
                f"psycopg {bw * 1e3:.0f} ms, tokenkeep {tw * 1e3:.0f} ms; CPU (client + server) "
                f"psycopg {bc:.0f} ms, tokenkeep {tc:.0f} ms: {bc / tc:.1f}x",
                (l0, load1()),
            )

    if "million" in parts:
        l0 = load1()
        n_big = 100_000 if q else 1_000_000
        load_s, ns = bench_million(
            schema_url("b_big"), n_big, 20_000 if q else 50_000, 100_000 if q else 300_000
        )
        p99 = pct(ns, 0.99) / 1e3
        row(
            f"hot verify p99 with {n_big:,} tokens in PostgreSQL",
            "<= 20 us",
            f"{p99:.2f} us",
            p99 <= 20,
            f"p50 {pct(ns, 0.5) / 1e3:.2f} us; {n_big:,} tokens created in {load_s:.1f} s",
            (l0, load1()),
        )

    # A run of some parts replaces those rows and keeps the others of the file.
    kept = []
    if parts != ALL_PARTS and os.path.exists(args.out):
        with open(args.out) as f:
            fresh = {r["measure"] for r in rows}
            kept = [r for r in json.load(f).get("rows", []) if r["measure"] not in fresh]
    with open(args.out, "w") as f:
        json.dump({"machine": machine(), "quick": q, "rows": kept + rows}, f, indent=2)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
