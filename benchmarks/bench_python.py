"""tokenkeep vs the stdlib-only store (stdlib_store.py), side by side in one process.

Same tokens, same machine, same run; the two stores alternate round by round and each row
reports the median of its rounds and the ratio. Run with `make bench` (which also runs the
engine's Google Benchmark and merges its numbers), or directly:

    .venv/bin/python benchmarks/bench_python.py [--quick] [--engine-json FILE] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tokenkeep  # noqa: E402
from stdlib_store import StdlibTokenStore  # noqa: E402

PEPPER_HEX = "5f" * 32


def fresh_dir() -> str:
    return tempfile.mkdtemp(prefix="tokenkeep-bench-")


def populate(n: int, directory: str, batch: int = 10_000):
    """A tokenkeep store and a stdlib store holding the same names and scopes."""
    tk = tokenkeep.TokenStore(os.path.join(directory, "tk.db"), pepper=PEPPER_HEX)
    base = StdlibTokenStore(os.path.join(directory, "base.db"), bytes.fromhex(PEPPER_HEX))
    tk_tokens, base_tokens = [], []
    for start in range(0, n, batch):
        items = [(f"token-{i}", ["device"]) for i in range(start, min(n, start + batch))]
        tk_tokens += [i.secret for i in tk.create_many("bench", items)]
        base_tokens += base.create_many("bench", items)
    return tk, base, tk_tokens, base_tokens


def per_call(fn, tokens, scope="device:read") -> float:
    t0 = time.perf_counter()
    for t in tokens:
        fn(t, scope)
    return (time.perf_counter() - t0) / len(tokens)


def alternate(rounds: int, fns):
    """Runs the callables (baseline first) in turn, the order rotating each round (two:
    alternating); returns their medians, in the callables' order."""
    got = [[] for _ in fns]
    for r in range(rounds):
        for k in range(len(fns)):
            i = (r + k) % len(fns)
            got[i].append(fns[i]())
    return tuple(statistics.median(g) for g in got)


def bench_hot(tk, base, tk_tokens, base_tokens, rounds):
    hot_tk, hot_base = tk_tokens[:1000], base_tokens[:1000]
    per_call(tk.verify, hot_tk)
    per_call(base.verify, hot_base)
    time.sleep(1.2)  # let the first-use writes land, as they would in a running service
    return alternate(
        rounds, (lambda: per_call(base.verify, hot_base), lambda: per_call(tk.verify, hot_tk))
    )


def bench_miss(directory, tk_tokens, base_tokens, rounds, per_round):
    """First verification of each token: a fresh store (empty cache) per round, random tokens."""
    rng = random.Random(7)
    order = list(range(len(tk_tokens)))

    def run_base():
        sample = rng.sample(order, per_round)
        s = StdlibTokenStore(os.path.join(directory, "base.db"), bytes.fromhex(PEPPER_HEX))
        r = per_call(s.verify, [base_tokens[i] for i in sample])
        s.db.close()
        return r

    def run_tk():
        sample = rng.sample(order, per_round)
        # The miss path itself: a warm start would load the tokens earlier rounds used
        # (bench_first.py measures a restart with it).
        db = os.path.join(directory, "tk.db")
        with tokenkeep.TokenStore(db, pepper=PEPPER_HEX, warm_start=False) as s:
            return per_call(s.verify, [tk_tokens[i] for i in sample])

    return alternate(rounds, (run_base, run_tk))


def bench_bulk(rounds, n):
    def run_base():
        d = fresh_dir()
        s = StdlibTokenStore(os.path.join(d, "b.db"), bytes.fromhex(PEPPER_HEX))
        items = [(f"dev-{i}", ["device"]) for i in range(n)]
        t0 = time.perf_counter()
        s.create_many("ops", items)
        return time.perf_counter() - t0

    def run_tk():
        d = fresh_dir()
        with tokenkeep.TokenStore(os.path.join(d, "t.db"), pepper=PEPPER_HEX) as s:
            items = [(f"dev-{i}", ["device"]) for i in range(n)]
            t0 = time.perf_counter()
            s.create_many("ops", items)
            return time.perf_counter() - t0

    return alternate(rounds, (run_base, run_tk))


def cache_rss_mib(n: int) -> float:
    """Resident memory the engine's cache adds for `n` tokens, measured in a child process."""
    code = textwrap.dedent(
        f"""
        import os, sys, tempfile, tokenkeep
        d = tempfile.mkdtemp()
        s = tokenkeep.TokenStore(os.path.join(d, "c.db"), pepper="{PEPPER_HEX}", cache_size={n})
        toks = []
        for start in range(0, {n}, 10000):
            toks += [i.secret for i in s.create_many("c", [(f"name-{{i}}", ["device"]) for i in range(start, start + 10000)])]
        def rss():
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        before = rss()
        for t in toks:
            s.check(t, "device:read")
        after = rss()
        print((after - before) / 2**20, s._engine.cache_size())
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert int(out[1]) >= n * 0.95, out
    return float(out[0])


def bench_p99(n_total: int, hot: int, calls: int):
    d = fresh_dir()
    tk = tokenkeep.TokenStore(os.path.join(d, "big.db"), pepper=PEPPER_HEX)
    tokens = []
    for start in range(0, n_total, 20_000):
        items = [(f"t-{i}", ["device"]) for i in range(start, min(n_total, start + 20_000))]
        batch = tk.create_many("big", items)
        if len(tokens) < hot:
            tokens += [i.secret for i in batch[: hot - len(tokens)]]
    rng = random.Random(1)
    for t in tokens:
        tk.verify(t, "device:read")
    time.sleep(1.2)
    samples = []
    clock = time.perf_counter_ns
    verify = tk.verify
    for _ in range(calls):
        t = tokens[rng.randrange(hot)]
        t0 = clock()
        verify(t, "device:read")
        samples.append(clock() - t0)
    samples.sort()
    return samples[len(samples) // 2] / 1000, samples[int(len(samples) * 0.99)] / 1000


def machine() -> str:
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()} {platform.release()}"


def write_results(path: str, quick: bool, rows: list) -> None:
    """A benchmark's rows as JSON with the machine and the time, and where they went."""
    result = {
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "quick": quick,
        "rows": rows,
    }
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
    print(f"machine: {result['machine']}\nwritten: {path}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    ap.add_argument("--engine-json", help="Google Benchmark JSON output to merge")
    ap.add_argument(
        "--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results.json")
    )
    args = ap.parse_args()
    q = args.quick
    rows = []

    def row(measure, target, value, ok, detail):
        rows.append(
            {"measure": measure, "target": target, "measured": value, "met": ok, "detail": detail}
        )
        print(
            f"{'PASS' if ok else 'MISS'}  {measure:58} {value:>18}   target {target}   ({detail})",
            flush=True,
        )

    d = fresh_dir()
    tk, base, tk_tokens, base_tokens = populate(5_000 if q else 20_000, d)
    b, t = bench_hot(tk, base, tk_tokens, base_tokens, 5 if q else 15)
    row(
        "Python verify, hot set (1,000 of 20,000) vs stdlib store",
        ">= 10x",
        f"{b / t:.1f}x",
        b / t >= 10,
        f"stdlib {b * 1e6:.2f} us, tokenkeep {t * 1e6:.2f} us per call",
    )
    tk.close()
    b, t = bench_miss(d, tk_tokens, base_tokens, 4 if q else 10, 1000 if q else 2000)
    row(
        "Python verify, first verify of each token (cache miss)",
        ">= 2.5x",
        f"{b / t:.1f}x",
        b / t >= 2.5,
        f"stdlib {b * 1e6:.2f} us, tokenkeep {t * 1e6:.2f} us per call",
    )

    if args.engine_json and os.path.exists(args.engine_json):
        with open(args.engine_json) as f:
            bm = {x["name"]: x for x in json.load(f)["benchmarks"]}
        hit = bm["BM_VerifyHit/threads:1"]["cpu_time"]
        floor = bm["BM_FloorHashPlusMapLookup"]["cpu_time"]
        row(
            "C++ verify hit vs keyed BLAKE2b-256 + hash-map lookup",
            "<= 2x",
            f"{hit / floor:.2f}x",
            hit / floor <= 2,
            f"verify {hit:.0f} ns, floor {floor:.0f} ns (CPU time)",
        )

    mib = cache_rss_mib(20_000 if q else 100_000)
    n_cache = "20,000" if q else "100,000"
    row(
        f"cache of {n_cache} tokens, resident memory",
        "<= 32 MiB",
        f"{mib:.1f} MiB",
        mib <= 32,
        "RSS growth while check() fills the engine cache",
    )

    n_big = 100_000 if q else 1_000_000
    p50, p99 = bench_p99(n_big, 10_000, 50_000 if q else 200_000)
    row(
        f"{n_big:,}-token database: Python verify p99 (hot 10,000)",
        "<= 20 us",
        f"{p99:.1f} us",
        p99 <= 20,
        f"p50 {p50:.2f} us",
    )

    b, t = bench_bulk(3 if q else 7, 10_000)
    row(
        "bulk creation of 10,000 tokens (one transaction) vs stdlib",
        ">= 3x",
        f"{b / t:.1f}x",
        b / t >= 3,
        f"stdlib {b * 1e3:.0f} ms, tokenkeep {t * 1e3:.0f} ms",
    )

    write_results(args.out, q, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
