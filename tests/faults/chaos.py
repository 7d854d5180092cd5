"""`make chaos`: every scenario, six nodes, long timelines, repeated until the nodes have made
at least `--target` verifications in all; prints a table and exits 1 if any run broke the
safety property or a scenario's limits.

    tests/pg/cluster.sh run env PYTHONPATH=tests .venv/bin/python -m faults.chaos [options]
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time

from .checker import Outcome
from .report import LEGEND, failures, header, row
from .runner import Harness
from .scenarios import SCENARIOS, Scale, limits_broken


def _terminate(signum, frame):  # noqa: ARG001
    raise SystemExit(128 + signum)  # so that processes, proxies and namespaces are cleaned up


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--only", default="", help="comma-separated scenario names (default: all)")
    ap.add_argument("--nodes", type=int, default=6)
    ap.add_argument("--factor", type=float, default=3.0, help="timeline length multiplier")
    ap.add_argument("--trials", type=int, default=4, help="targeted trials per run")
    ap.add_argument("--target", type=float, default=100e6, help="verifications in all, at least")
    ap.add_argument("--max-passes", type=int, default=4)
    ap.add_argument("--no-netns", action="store_true", help="loopback only (no link-down)")
    ap.add_argument("--json", default="", help="write the per-scenario outcomes here")
    ap.add_argument("--keep", default="", help="keep each run's reports in this folder")
    args = ap.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)

    chosen = [s for s in SCENARIOS if not args.only or s.name in args.only.split(",")]
    if args.no_netns:
        chosen = [s for s in chosen if not s.name.startswith("linkdown")]
    scale = Scale(factor=args.factor, nodes=args.nodes, trials=args.trials)
    totals: dict[str, Outcome] = {}
    broken: dict[str, list] = {}
    t0 = time.monotonic()
    with Harness(netns=not args.no_netns, keep=args.keep) as h:
        for n in range(args.max_passes):
            for sc in chosen:
                out = h.run(sc, scale)
                bad = limits_broken(sc, out)
                print(
                    f"pass {n + 1} {sc.name}: {out.verifications:,} verifications, "
                    f"{out.changes} changes, {out.violations} violations, "
                    f"{out.wall:.0f} s" + (f" -- {'; '.join(bad)}" if bad else ""),
                    flush=True,
                )
                if sc.name in totals:
                    totals[sc.name].merge(out)
                else:
                    totals[sc.name] = out
                broken.setdefault(sc.name, []).extend(bad)
            if sum(o.verifications for o in totals.values()) >= args.target:
                break
    total = Outcome(runs=0)
    print(f"\n{len(chosen)} scenarios, {scale.nodes} nodes, {time.monotonic() - t0:.0f} s\n")
    print(header())
    controls = {s.name for s in chosen if s.control}
    for name, out in totals.items():
        print(row(name, out, broken[name]))
        if name not in controls:  # its violations are the point: not in the total
            total.merge(out)
    print(row("total (no control)", total, [b for v in broken.values() for b in v]))
    print("\n" + LEGEND)
    print("\nthe writer's StoreErrors:")
    for name, out in totals.items():
        for line in failures(name, out):
            print(line)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    k: {**vars(v), "cuts": [vars(c) for c in v.cuts], "broken": broken[k]}
                    for k, v in totals.items()
                },
                f,
                indent=1,
                default=str,
            )
    failed = [f"{k}: {b}" for k, v in broken.items() for b in v]
    for line in failed:
        print("FAIL", line)
    if total.verifications < args.target:
        print(f"FAIL only {total.verifications:,} verifications (target {args.target:,.0f})")
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
