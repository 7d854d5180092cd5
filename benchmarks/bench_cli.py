"""`tokenkeep list` of 10,000 tokens, piped and on a pseudo-terminal (issue 11: 3.7 s as a
table, 0.3 s as JSON; target: under 1 s). Each run is a fresh process, as a user types it;
the baseline in the same rounds is the bare start of `python -m tokenkeep --version`, so the
ratio shows what listing adds to starting Python. Median of the rounds.

    .venv/bin/python benchmarks/bench_cli.py [--rows 10000] [--rounds 5] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import pty
import select
import statistics
import subprocess
import sys
import tempfile
import time

import tokenkeep

TARGET_S = 1.0


def piped(cmd, env) -> float:
    t = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    elapsed = time.perf_counter() - t
    assert p.returncode == 0, cmd
    return elapsed


def on_terminal(cmd, env) -> float:
    master, slave = pty.openpty()
    t = time.perf_counter()
    p = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=subprocess.DEVNULL,
        env=dict(env, TERM="xterm", COLUMNS="120"),
        close_fds=True,
    )
    os.close(slave)
    while True:
        ready, _, _ = select.select([master], [], [], 1.0)
        if ready:
            try:
                if not os.read(master, 1 << 16):
                    break
            except OSError:  # EIO: the child closed the terminal
                break
        elif p.poll() is not None:
            break
    p.wait()
    elapsed = time.perf_counter() - t
    os.close(master)
    assert p.returncode == 0, cmd
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results_cli.json"))
    args = ap.parse_args()
    db = os.path.join(tempfile.mkdtemp(prefix="tokenkeep-bench-cli-"), "tokens.db")
    with tokenkeep.TokenStore(db) as s:
        s.create_many(
            "alice",
            [(f"device-reader-{i:05d}", ["device:read", "policy"]) for i in range(args.rows)],
        )
    env = {k: v for k, v in os.environ.items() if k not in ("TOKENKEEP_DB", "COLUMNS")}
    base = [sys.executable, "-m", "tokenkeep", "--db", db, "--owner", "alice"]
    cases = [
        ("start only (--version)", piped, [sys.executable, "-m", "tokenkeep", "--version"]),
        (f"list piped (tab-separated), {args.rows:,} rows", piped, base + ["list"]),
        (f"list --json piped, {args.rows:,} rows", piped, base + ["list", "--json"]),
        (
            f"list on a terminal, all {args.rows:,} rows (--limit 0)",
            on_terminal,
            base + ["list", "--limit", "0"],
        ),
        ("list on a terminal, first page (default)", on_terminal, base + ["list"]),
    ]
    times = {name: [] for name, _, _ in cases}
    for _ in range(args.rounds):  # alternate the cases round by round
        for name, run, cmd in cases:
            times[name].append(run(cmd, env))
    start = statistics.median(times[cases[0][0]])
    results = []
    for name, _, _ in cases:
        median = statistics.median(times[name])
        ok = name == cases[0][0] or median < TARGET_S
        results.append(
            {"case": name, "median_s": round(median, 3), "vs_start": round(median / start, 2)}
        )
        verdict = "    " if name == cases[0][0] else ("PASS" if ok else "FAIL")
        print(
            f"{verdict}  {name:<52} {median:6.2f} s   {median / start:4.1f}x start   target < {TARGET_S:.0f} s"
        )
    with open(args.out, "w") as f:
        json.dump({"rows": args.rows, "rounds": args.rounds, "results": results}, f, indent=2)
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
