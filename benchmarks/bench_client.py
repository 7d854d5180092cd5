"""The verification hot path with request context (issue 21), side by side: an unbound token
without ``client``, the same with ``client``, and a token bound to three networks verified
from inside the last one. Each case verifies 1,000 cached tokens per round; rounds alternate
the cases and the medians are printed (per call, µs) with the load average, and written to
results_client.json. On a tokenkeep without ``client=`` (an older checkout) only the first
case runs, so the same script measures "before".

    .venv/bin/python benchmarks/bench_client.py [--rounds 31] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import tokenkeep

NETWORKS = ["192.0.2.0/24", "2001:db8::/32", "10.0.0.0/8"]  # the client is in the last one
CLIENT = "10.1.2.3"


# One loop per call shape, so that the call site itself is what a service writes (a literal
# keyword; ``**kw`` would build a dict per call and measure that instead). Timed in the
# calling thread's CPU time: on a loaded machine, wall time mostly measures the run queue.
def per_call(verify, tokens) -> float:
    t0 = time.thread_time()
    for t in tokens:
        verify(t, "device:read")
    return (time.thread_time() - t0) / len(tokens)


def per_call_client(verify, tokens, client: str) -> float:
    t0 = time.thread_time()
    for t in tokens:
        verify(t, "device:read", client=client)
    return (time.thread_time() - t0) / len(tokens)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=31)
    ap.add_argument(
        "--baseline-only",
        action="store_true",
        help="only the unbound, no-client case (to compare with an older checkout, same shape)",
    )
    ap.add_argument(
        "--out",
        default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results_client.json"),
    )
    args = ap.parse_args()
    store = tokenkeep.TokenStore(":memory:")
    items = [(f"u{i}", ["device"]) for i in range(1000)]
    unbound = [i.secret for i in store.create_many("bench", items)]
    has_client = "networks" in tokenkeep.TokenInfo._fields and not args.baseline_only
    cases = {"unbound, no client": lambda: per_call(store.verify, unbound)}
    if has_client:
        bound = [
            store.create("bench", f"b{i}", {"device"}, networks=NETWORKS).secret
            for i in range(1000)
        ]
        cases["unbound, client"] = lambda: per_call_client(store.verify, unbound, CLIENT)
        cases["bound (3 networks), client inside"] = lambda: per_call_client(
            store.verify, bound, CLIENT
        )
    for run in cases.values():  # warm the caches and the recorded uses
        run()
    time.sleep(1.2)
    for run in cases.values():
        run()
    samples: dict[str, list[float]] = {name: [] for name in cases}
    names = list(cases)
    for r in range(args.rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:  # rotate the order
            samples[name].append(cases[name]())
    load = os.getloadavg()
    medians = {name: statistics.median(v) * 1e6 for name, v in samples.items()}
    base = medians["unbound, no client"]
    for name, us in medians.items():
        print(f"{name:40} {us:6.3f} us per call  ({us / base:5.2f}x of unbound, no client)")
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {os.cpu_count()} cores")
    with open(args.out, "w") as f:
        json.dump(
            {
                "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                "load_average": load,
                "rounds": args.rounds,
                "median_us_per_call": medians,
            },
            f,
            indent=2,
        )
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
