"""A simulated fleet on one PostgreSQL server (issue 20): `--hosts` hosts (each its own runtime
folder on loopback, so each elects its own relay) x `--per-host` worker processes, each its own
TokenStore, all verifying from `--threads` threads, and a writer revoking and narrowing tokens
in strict mode. Reports server connections at peak and after the fleet went idle, strict
change latency p50/p99, verify p99, and violations (successful verifications that started after
the change returned: must be 0). Each design in `--designs` runs in turn on the same server:
`relay` (one LISTEN per host) and `per-process` (relay=False: today's, one LISTEN per worker).

    tests/pg/cluster.sh run env PYTHONPATH=tests .venv/bin/python -m faults.fleet [options]

`--max-connections N` starts a server of its own with that setting (own_server.py); without
it the run uses TOKENKEEP_TEST_PG. Exits 1 if a run counted a violation or a failed open.
"""

from __future__ import annotations

import argparse
import inspect
import json
import multiprocessing
import os
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
from urllib.parse import quote

import psycopg
import tokenkeep

from . import fleet_worker
from .board import Board
from .hostfile import host_file_read
from .own_server import pg_server

PEPPER = "5e" * 32
WORKER_APP = "tk_fleet_w"
WRITER_APP = "tk_fleet_writer"
HAS_RELAY = "relay" in inspect.signature(tokenkeep.TokenStore).parameters


def _url(base: str, schema: str, app: str) -> str:
    sep = "&" if "?" in base else "?"
    opts = quote(f"-csearch_path={schema}", safe="")
    return f"{base}{sep}options={opts}&application_name={app}"


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def _hist_percentile(hist: list[int], slow: list[int], q: float) -> int:
    """The q-quantile in microseconds of durations kept as 1 us buckets plus exact slow ones."""
    total = sum(hist) + len(slow)
    rank = int(q * total)
    seen = 0
    for us, n in enumerate(hist):
        seen += n
        if seen > rank:
            return us
    slow = sorted(slow)
    return slow[min(len(slow) - 1, rank - seen)] if slow else len(hist)


class Sampler(threading.Thread):
    """Counts the server's client connections every 100 ms: the fleet's (everything in the
    database but the writer's and this one) and the writer's."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.conn = psycopg.connect(url, autocommit=True)
        self.stop = threading.Event()
        self.peak = 0
        self.last = 0
        self.baseline = 0  # the writer's LISTEN session

    def count(self) -> int:
        row = self.conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
            "AND datname = current_database() AND pid <> pg_backend_pid() "
            "AND coalesce(application_name, '') <> %s",
            (WRITER_APP,),
        ).fetchone()
        return int(row[0]) if row else 0

    def run(self) -> None:
        while not self.stop.wait(0.1):
            self.last = self.count()
            self.peak = max(self.peak, self.last)

    def close(self) -> None:
        self.stop.set()
        self.join()
        self.conn.close()


def _relay_signal(folder: str, h: int, live: list, sig: int) -> list:
    """Sends `sig` to host h's relay (one of its workers, hostfile.py); without it if killed."""
    pid = host_file_read(os.path.join(folder, f"host{h}")).relay_pid
    if pid not in {p.pid for p, _ in live}:
        raise RuntimeError(f"host {h}'s relay {pid} is not one of its live workers")
    os.kill(pid, sig)
    return [w for w in live if w[0].pid != pid] if sig == signal.SIGKILL else live


def _relay_pause(folder: str, h: int, live: list, seconds: float) -> threading.Thread:
    """Host h's relay stopped (SIGSTOP) for `seconds`, resumed by the thread returned."""
    pid = host_file_read(os.path.join(folder, f"host{h}")).relay_pid
    _relay_signal(folder, h, live, signal.SIGSTOP)

    def resume() -> None:
        time.sleep(seconds)
        os.kill(pid, signal.SIGCONT)

    t = threading.Thread(target=resume)
    t.start()
    return t


def run_design(base: str, design: str, args) -> dict:
    """One fleet of one design, from fork to cleanup; its measurements."""
    schema = "tk_fleet_" + secrets.token_hex(4)
    with psycopg.connect(base, autocommit=True) as c:
        c.execute(f"CREATE SCHEMA {schema}")
    folder = tempfile.mkdtemp(prefix="tokenkeep-fleet.")
    workers: list[tuple[multiprocessing.Process, object]] = []
    sampler = None
    try:
        n = args.changes + args.stable
        with tokenkeep.TokenStore(_url(base, schema, WRITER_APP), pepper=PEPPER) as setup:
            issued = setup.create_many("fleet", [(f"t{i}", {"device"}) for i in range(n)])
        board_path = os.path.join(folder, "board")
        Board(board_path, n, create=True).close()
        ctx = multiprocessing.get_context("fork")
        store_kwargs: dict = {"pool_size": args.pool_size, "pool_idle": args.pool_idle}
        for h in range(args.hosts):
            host_dir = os.path.join(folder, f"host{h}")
            os.mkdir(host_dir, 0o700)
            kw = dict(store_kwargs)
            if HAS_RELAY:
                kw.update(
                    {"relay": True, "runtime_dir": host_dir}
                    if design == "relay"
                    else {"relay": False}
                )
            cfg = {
                "url": _url(base, schema, WORKER_APP),
                "pepper": PEPPER,
                "lease": args.lease,
                "store_kwargs": kw,
                "secrets": [i.secret for i in issued],
                "scope": "device:write",
                "board": board_path,
                "threads": args.threads,
                "pause": args.pause,
            }
            for _ in range(args.per_host):
                parent, child = ctx.Pipe()
                p = ctx.Process(target=fleet_worker.run, args=(child, cfg), daemon=True)
                p.start()
                child.close()
                workers.append((p, parent))
        # The writer first, as a host of its own: its LISTEN session is the baseline the
        # fleet's connections are counted above.
        writer_kw = (
            {"relay": True, "runtime_dir": os.path.join(folder, "writer")} if HAS_RELAY else {}
        )
        if HAS_RELAY:
            os.mkdir(writer_kw["runtime_dir"], 0o700)
        writer = tokenkeep.TokenStore(
            _url(base, schema, WRITER_APP), pepper=PEPPER, lease=args.lease, **writer_kw
        )
        sampler = Sampler(base)
        sampler.baseline = sampler.count()
        sampler.start()
        t_open = time.monotonic()
        for _, conn in workers:
            conn.send("open")
        ready, failed = [], []
        live = []
        for w in workers:
            if not w[1].poll(args.open_timeout):
                failed.append("no answer")
                continue
            kind, what = w[1].recv()
            (ready if kind == "ready" else failed).append(what)
            if kind == "ready":
                live.append(w)
        opened = len(ready)
        warm = time.monotonic()
        time.sleep(1.5)  # the first-use flush of every worker lands
        peak_open = sampler.peak - sampler.baseline
        sampler.peak = 0
        # The changes: strict revokes and narrowings, each probed on every live worker; with
        # --relay-faults F, the relays of F hosts killed (SIGKILL) a third of the way, and of
        # F others paused (SIGSTOP, 1.5 lease) two thirds of the way.
        board = Board(board_path, n)
        latencies: dict[str, list[float]] = {"revoke": [], "narrow": []}
        probes = {"refused": 0, "ok": 0, "other": 0}
        probe_errors: list[str] = []
        writer_errors = 0
        faults = {"killed": 0, "stopped": 0}
        resumers: list[threading.Thread] = []
        for k in range(args.changes):
            if design == "relay" and HAS_RELAY and args.relay_faults:
                if k == args.changes // 3:
                    for h in range(args.relay_faults):
                        live = _relay_signal(folder, h, live, signal.SIGKILL)
                        faults["killed"] += 1
                if k == 2 * args.changes // 3:
                    for h in range(args.relay_faults, 2 * args.relay_faults):
                        resumers.append(_relay_pause(folder, h, live, 1.5 * args.lease))
                        faults["stopped"] += 1
            kind = "revoke" if k % 2 == 0 else "narrow"
            t0 = time.monotonic_ns()
            try:
                if kind == "revoke":
                    writer.revoke("fleet", issued[k].info.id)
                else:
                    writer.update_scopes("fleet", issued[k].info.id, {"device:read"})
            except tokenkeep.StoreError:
                writer_errors += 1
                continue
            t1 = time.monotonic_ns()
            board.publish(k, t1)
            latencies[kind].append((t1 - t0) / 1e6)
            for _, conn in live:
                conn.send(("probe", k))
            for _, conn in live:
                if conn.poll(30):
                    outcome = conn.recv()[1]
                    probes[outcome if outcome in probes else "other"] += 1
                    if outcome not in probes:
                        probe_errors.append(outcome)
                else:
                    probes["other"] += 1
                    probe_errors.append("no answer within 30 s")
            time.sleep(args.gap)
        for t in resumers:
            t.join()
        changes_done = time.monotonic()
        # Idle: only cache hits from here on; connections counted `idle_at` s after warm-up,
        # and at least pool_idle + 2 s after the last change.
        idle_when = max(warm + args.idle_at, changes_done + args.pool_idle + 2.0)
        time.sleep(max(0.0, idle_when - time.monotonic()))
        idle = sampler.count() - sampler.baseline
        peak = sampler.peak - sampler.baseline
        writer.close()
        board.close()
        stats = []
        for _, conn in live:
            conn.send("stop")
        for _, conn in live:
            if conn.poll(30):
                kind, what = conn.recv()
                if kind == "stats":
                    stats.extend(what)
        counts = {"ok": 0, "refused": 0, "store_error": 0, "other": 0, "violations": 0}
        hist = [0] * fleet_worker.SLOW_US
        slow: list[int] = []
        for s in stats:
            for key in counts:
                counts[key] += s["counts"][key]
            hist = [a + b for a, b in zip(hist, s["hist"], strict=True)]
            slow.extend(s["slow"])
        revokes = sorted(latencies["revoke"])
        changes = sorted(latencies["revoke"] + latencies["narrow"])
        return {
            "design": design if HAS_RELAY else "current",
            "hosts": args.hosts,
            "workers": len(workers),
            "relays_killed": faults["killed"],
            "relays_stopped": faults["stopped"],
            "opened": opened,
            "open_failures": failed[:3],
            "open_seconds": round(warm - t_open, 1),
            "peak_open": peak_open,
            "peak": max(peak, peak_open),
            "peak_changes": peak,
            "idle": idle,
            "idle_at": round(idle_when - warm, 1),
            "revoke_p50_ms": round(_percentile(revokes, 0.5), 1),
            "revoke_p99_ms": round(_percentile(revokes, 0.99), 1),
            "change_p99_ms": round(_percentile(changes, 0.99), 1),
            "changes": len(changes),
            "writer_errors": writer_errors,
            "verify_p99_us": _hist_percentile(hist, slow, 0.99),
            "verify_max_us": max(slow) if slow else max(i for i, v in enumerate(hist) if v),
            "verifications": sum(counts[k] for k in ("ok", "refused", "store_error", "other")),
            "verify_errors": counts["store_error"] + counts["other"],
            "violations": counts["violations"] + probes["ok"],
            "probes": probes,
            "probe_errors": probe_errors[:3],
            "changes_seconds": round(changes_done - warm, 1),
            "load": os.getloadavg(),
        }
    finally:
        if sampler:
            sampler.close()
        for p, conn in workers:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
                p.join()
            conn.close()
        shutil.rmtree(folder, ignore_errors=True)
        with psycopg.connect(base, autocommit=True, connect_timeout=10) as c:
            c.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


HEADER = (
    f"{'design':<12}{'hosts':>6}{'workers':>8}{'opened':>7}{'peak':>6}{'idle':>6}"
    f"{'revoke p50':>11}{'p99':>8}{'verify p99':>11}{'verifications':>14}{'viol.':>6}"
    f"{'relays killed/paused':>22}"
)


def row(r: dict) -> str:
    return (
        f"{r['design']:<12}{r['hosts']:>6}{r['workers']:>8}{r['opened']:>7}{r['peak']:>6}"
        f"{r['idle']:>6}{r['revoke_p50_ms']:>9.0f}ms{r['revoke_p99_ms']:>6.0f}ms"
        f"{r['verify_p99_us']:>9}us{r['verifications']:>14,}{r['violations']:>6}"
        f"{r['relays_killed']:>17}/{r['relays_stopped']}"
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--hosts", type=int, default=40)
    ap.add_argument("--per-host", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--designs", default="relay,per-process")
    ap.add_argument("--changes", type=int, default=40, help="strict revokes and narrowings")
    ap.add_argument("--stable", type=int, default=4, help="tokens never changed")
    ap.add_argument("--gap", type=float, default=0.1, help="seconds between changes")
    ap.add_argument("--pause", type=float, default=0.25, help="seconds between verify rounds")
    ap.add_argument("--idle-at", type=float, default=10.0, help="count idle connections then")
    ap.add_argument("--lease", type=float, default=2.0)
    ap.add_argument("--pool-size", type=int, default=4)
    ap.add_argument("--pool-idle", type=float, default=5.0)
    ap.add_argument("--open-timeout", type=float, default=120.0)
    ap.add_argument(
        "--relay-faults", type=int, default=0, help="relays killed, and others paused, mid-run"
    )
    ap.add_argument("--max-connections", type=int, default=0, help="start a server of its own")
    ap.add_argument("--json", default="", help="write the results here")
    args = ap.parse_args(argv)
    designs = args.designs.split(",") if HAS_RELAY else ["current"]
    results = []
    server = (
        pg_server(args.max_connections)
        if args.max_connections
        else _existing(os.environ.get("TOKENKEEP_TEST_PG"))
    )
    with server as base:
        with psycopg.connect(base) as c:
            row0 = c.execute("SHOW max_connections").fetchone()
            max_conn = row0[0] if row0 else "?"
        for design in designs:
            results.append(run_design(base, design, args))
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    load = os.getloadavg()
    print(
        f"\nfleet: {args.hosts} hosts x {args.per_host} workers x {args.threads} threads, "
        f"{args.changes} strict changes, max_connections {max_conn}, pool_size {args.pool_size}, "
        f"pool_idle {args.pool_idle} s, idle counted {args.idle_at} s after warm-up; "
        f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}\n"
    )
    print(HEADER)
    for r in results:
        print(row(r))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    bad = [r for r in results if r["violations"] or r["opened"] < r["workers"]]
    for r in bad:
        print(
            f"FAIL {r['design']}: {r['violations']} violations, {r['opened']}/{r['workers']} "
            f"opened {r['open_failures']}"
        )
    return 1 if bad else 0


class _existing:
    """The cluster's server (TOKENKEEP_TEST_PG), as a context like pg_server."""

    def __init__(self, url: str | None) -> None:
        if not url:
            raise SystemExit("TOKENKEEP_TEST_PG is not set: run under tests/pg/cluster.sh")
        self.url = url

    def __enter__(self) -> str:
        return self.url

    def __exit__(self, *exc) -> None:
        return None


if __name__ == "__main__":
    sys.exit(main())
