"""The scenarios: each a plan (nodes, leases) and a timeline of faults run against a rig while
the writer changes tokens. `Scale` makes the same timeline short (make test) or long (make
chaos): durations are multiplied by `factor`, targeted trials repeated `trials` times.

Every scenario checks the same safety property (zero violations), except the positive control
(`bounded-control`: bounded nodes follow a change only within their lease, so the checker must
see violations there, or it is blind); `limits` names what else it holds the run to (checked
by `limits_broken`):

    cut_error      a cut-off node's first StoreError comes within this many seconds of the
                   cut, no verification started during the cut lasts longer (never hangs),
                   and it stops answering from its cache within its lease
    latency        every returned change returned within this many seconds
    writer_bound   every change returned or raised within this many seconds (none hangs)
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg

from .checker import Outcome
from .hostfile import host_file_read
from .rig import NodeSpec, Plan, Rig

L = 1.0  # the lease of the nodes and the writer, unless a scenario says otherwise
CHANGE_EVERY = 0.15  # seconds between two changes of the writer's pump
CUT = 6.0  # seconds a partition lasts: longer than the 5 s a cut-off node may take to fail


@dataclass(frozen=True)
class Scale:
    factor: float = 1.0  # durations
    nodes: int = 3
    trials: int = 1  # of the targeted cases


@dataclass
class Scenario:
    name: str
    what: str
    plan: Callable[[Scale], Plan]
    run: Callable[[Rig, Scale], None]
    seconds: Callable[[Scale], float]  # how long the nodes verify
    limits: dict = field(default_factory=dict)
    fails_on_main: str = ""  # what this scenario shows on main before the coherence fix
    control: bool = False  # a positive control: the checker must SEE violations here


def _plan(scale: Scale, seconds: float, **kw) -> Plan:
    leases = [n.lease for n in kw.get("nodes", [])] or [L]
    nodes = kw.pop("nodes", [NodeSpec(L)] * scale.nodes)
    changes = int(seconds / CHANGE_EVERY) + 32
    return Plan(nodes=nodes, changes=changes, grace=12.0 + max(leases), **kw)


@contextlib.contextmanager
def pump(rig: Rig, every: float = CHANGE_EVERY):
    """The writer changes a token every `every` seconds (after the last one returned) until the
    block ends, or the nodes are about to stop."""
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set() and rig.remaining() > 0.5:
            rig.change(timeout=max(1.0, rig.remaining() + 5))
            stop.wait(every)

    t = threading.Thread(target=run, name="pump", daemon=True)
    t.start()
    try:
        yield
    finally:
        stop.set()
        t.join(rig.remaining() + rig.plan.grace + 10)


def _partition(rig: Rig, procs: list, kind: str, seconds: float) -> None:
    """Cuts `procs` (blackhole through their proxies, or link down) for `seconds`."""
    events = []
    for p in procs:
        node = rig.nodes.index(p) if p in rig.nodes else None
        info = {"name": p.name, "kind": kind} | ({"node": node} if node is not None else {})
        if kind == "linkdown":
            p.cut()
        else:
            p.fault(kind)
        events.append(rig.mark("cut", **info))
    time.sleep(seconds)
    for p, e in zip(procs, events, strict=True):
        p.heal() if kind == "linkdown" else p.fault("pass")
        e["heal"] = time.monotonic_ns()


def _cuts(scale: Scale) -> int:
    return max(1, round(scale.factor))


def _until_end(rig: Rig) -> None:
    time.sleep(max(0.0, rig.remaining()))


# -- the timelines --


def run_baseline(rig: Rig, scale: Scale) -> None:
    with pump(rig):
        _until_end(rig)


def run_delay(rig: Rig, scale: Scale) -> None:
    for p in rig.nodes:
        p.fault("delay", 0.05, 0.01)
    with pump(rig):
        _until_end(rig)


def run_loss(rig: Rig, scale: Scale) -> None:
    rng = random.Random(7)
    with pump(rig):
        while rig.remaining() > 1.0:
            victims = rng.sample(rig.nodes, k=max(1, len(rig.nodes) // 2))
            for p in victims:
                p.fault("hold")  # a burst of loss: everything retransmitted, late
            time.sleep(rng.uniform(0.05, 0.4))
            for p in victims:
                p.fault("pass")
            time.sleep(rng.uniform(0.1, 0.5))


def _run_partition(kind: str, who: str) -> Callable[[Rig, Scale], None]:
    def run(rig: Rig, scale: Scale) -> None:
        procs = {"one": rig.nodes[:1], "two": rig.nodes[:2], "writer": [rig.writer]}[who]
        with pump(rig):
            for _ in range(_cuts(scale)):
                time.sleep(1.0)
                _partition(rig, procs, kind, CUT)
                time.sleep(1.0)

    return run


def run_sigstop(rig: Rig, scale: Scale) -> None:
    with pump(rig):
        time.sleep(1.0)
        i = 0
        while rig.remaining() > 3.0:
            p = rig.nodes[i % len(rig.nodes)]
            rig.mark("sigstop", name=p.name)
            p.stop()
            time.sleep(1.5 * L)
            p.cont()
            time.sleep(1.0)
            i += 1


def run_reset(rig: Rig, scale: Scale) -> None:
    with pump(rig):
        while rig.remaining() > 1.0:
            time.sleep(0.5)
            for p in rig.nodes:
                p.fault("reset")
            time.sleep(0.05)
            for p in rig.nodes:
                p.fault("pass")


def run_server_kill(rig: Rig, scale: Scale) -> None:
    with pump(rig):
        time.sleep(1.0)
        while rig.remaining() > 3.5:
            rig.mark("server-kill")
            rig.server.stop_immediate()
            time.sleep(0.2)
            rig.server.start()
            time.sleep(2.0)


def _lease_seen(conn, node: str):
    row = conn.execute(
        "SELECT lease_until FROM tokenkeep_nodes WHERE node = %s", (node,)
    ).fetchone()
    return row[0] if row else None


def run_crash_after_renewal(rig: Rig, scale: Scale) -> None:
    """Issue 18, case 1: the server dies right after node 0 renewed its lease and acted on the
    renewal (visible in tokenkeep_nodes, then 30 ms); its link stalls meanwhile, so it cannot
    reconnect before its lease runs out; the writer revokes as soon as the server is back.
    The WAL writer runs every second (a slow WAL device: asynchronous commits reach the disk up
    to a second late), so a renewal committed asynchronously is lost in the crash: a renewal a
    node acts on must be durable first."""
    lease = rig.plan.nodes[0].lease
    target = rig.nodes[0]
    row = rig.row_of(0)
    rig.server.set("wal_writer_delay", "1s")
    try:
        time.sleep(1.0)
        for _ in range(scale.trials):
            with psycopg.connect(rig.server.url_direct(rig.schema), autocommit=True) as c:
                first = _lease_seen(c, row)
                deadline = time.monotonic() + 2 * lease
                while (seen := _lease_seen(c, row)) == first:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{target.name} renewed no lease in {2 * lease} s")
                    time.sleep(0.001)
                time.sleep(0.03)  # the node has read the changes again and trusts its cache
                target.fault("hold")
                sent = rig.server.kill()
            killed = rig.mark("server-kill", t=int(sent * 1e9), renewal=str(seen))
            rig.server.start()
            until = time.monotonic() + lease
            while time.monotonic() < until:  # the writer's first try may meet a dead connection
                r = rig.change("revoke", timeout=4 * lease + 10)
                if r is None or r["outcome"] == "ok":
                    break
            rig.sleep_until(killed["t"] + int(1.2 * lease * 1e9))
            target.fault("pass")
            time.sleep(1.5 * lease)
    finally:
        rig.server.ensure_running()
        rig.server.set("wal_writer_delay", None)
    _until_end(rig)


def run_lease_mismatch(rig: Rig, scale: Scale) -> None:
    """Issue 18, case 2: node 0 runs with lease=10, the writer with 2. Node 0 is paused
    (SIGSTOP) across a revoke, and resumes once it returned."""
    b = rig.nodes[0]
    b.fault("delay", 0.05)
    time.sleep(1.0)
    for _ in range(scale.trials):
        rig.mark("sigstop", name=b.name)
        b.stop()
        rig.change("revoke", timeout=40)
        b.cont()
        time.sleep(2.0)
    _until_end(rig)


def _hosts(scale: Scale) -> list[NodeSpec]:
    """The nodes on shared hosts of three (one host in the short run, two in make chaos)."""
    return [NodeSpec(L, host=i // 3) for i in range(scale.nodes)]


def run_relay_kill(rig: Rig, scale: Scale) -> None:
    """Issue 20: each shared host's relay (its first store, verifying nothing) killed with
    SIGKILL while the writer changes tokens; a node of that host takes over."""
    with pump(rig):
        for h in sorted(rig.holders):
            time.sleep(1.0)
            before = host_file_read(rig.host_dir(h))
            if before.relay_pid != rig.holders[h].proc.pid:
                raise RuntimeError(f"host {h}'s relay is not its first store")
            rig.mark("relay-kill", name=rig.holders[h].name)
            rig.holders[h].kill()
            deadline = time.monotonic() + 5
            while host_file_read(rig.host_dir(h)).relay_terms == before.relay_terms:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"nobody took over host {h}'s relay in 5 s")
                time.sleep(0.01)
        _until_end(rig)


def run_relay_stop(rig: Rig, scale: Scale) -> None:
    """Issue 20: the relay of a shared host paused (SIGSTOP) 1.5 lease, hosts in turn."""
    with pump(rig):
        time.sleep(1.0)
        i = 0
        while rig.remaining() > 3.0:
            p = rig.relay_of(sorted(rig.holders)[i % len(rig.holders)])
            rig.mark("sigstop", name=p.name)
            p.stop()
            time.sleep(1.5 * L)
            p.cont()
            time.sleep(1.0)
            i += 1


# -- the list --


def _partitioned(kind: str, who: str, what: str) -> Scenario:
    seconds = lambda s: (CUT + 2.0) * _cuts(s) + 1.0  # noqa: E731
    return Scenario(
        name=f"{kind}-{who}",
        what=what,
        plan=lambda s: _plan(s, seconds(s)),
        run=_run_partition(kind, who),
        seconds=seconds,
        limits={"writer_bound": 5.0} if who == "writer" else {"cut_error": 5.0},
        fails_on_main=(
            "the writer's change blocks through the partition"
            if who == "writer"
            else "the cut-off node hangs in a cache miss until the link heals"
        ),
    )


SCENARIOS: list[Scenario] = [
    Scenario(
        "baseline",
        "no fault: nodes verify while the writer revokes and narrows",
        plan=lambda s: _plan(s, 3.0 * s.factor),
        run=run_baseline,
        seconds=lambda s: 3.0 * s.factor,
        limits={"latency": L},
    ),
    Scenario(
        "bounded-control",
        "positive control: bounded nodes and writer, 50 ms delay; violations must be seen",
        plan=lambda s: _plan(
            s,
            3.0 * s.factor,
            nodes=[NodeSpec(L, "bounded")] * s.nodes,
            writer_consistency="bounded",
        ),
        run=run_delay,
        seconds=lambda s: 3.0 * s.factor,
        control=True,
    ),
    Scenario(
        "delay",
        "every node's link 50 ms (+-10 ms) each way",
        plan=lambda s: _plan(s, 4.0 * s.factor),
        run=run_delay,
        seconds=lambda s: 4.0 * s.factor,
        limits={"latency": L},
    ),
    Scenario(
        "loss",
        "bursts of loss (hold 50-400 ms) on half the nodes' links",
        plan=lambda s: _plan(s, 4.0 * s.factor),
        run=run_loss,
        seconds=lambda s: 4.0 * s.factor,
    ),
    _partitioned("blackhole", "one", "one node blackholed 6 s (sockets open, packets dropped)"),
    _partitioned("blackhole", "two", "two nodes blackholed 6 s"),
    _partitioned("blackhole", "writer", "the writer blackholed 6 s"),
    _partitioned("linkdown", "one", "one node's link down 6 s (network namespace)"),
    _partitioned("linkdown", "two", "two nodes' links down 6 s"),
    _partitioned("linkdown", "writer", "the writer's link down 6 s"),
    Scenario(
        "reset",
        "every node's connections reset every 0.5 s",
        plan=lambda s: _plan(s, 3.0 * s.factor),
        run=run_reset,
        seconds=lambda s: 3.0 * s.factor,
    ),
    Scenario(
        "sigstop",
        "a node paused (SIGSTOP) 1.5 lease, in turn",
        plan=lambda s: _plan(s, 5.0 * s.factor),
        run=run_sigstop,
        seconds=lambda s: 5.0 * s.factor,
    ),
    Scenario(
        "server-kill",
        "the server killed (immediate shutdown) and restarted, every ~3 s",
        plan=lambda s: _plan(s, 6.0 * s.factor),
        run=run_server_kill,
        seconds=lambda s: 6.0 * s.factor,
    ),
    Scenario(
        "crash-after-renewal",
        "the server killed right after node 0's renewal became visible (L = 2 s)",
        plan=lambda s: _plan(
            s, 2.0 + 7.0 * s.trials, nodes=[NodeSpec(2.0)] * s.nodes, writer_lease=2.0
        ),
        run=run_crash_after_renewal,
        seconds=lambda s: 2.0 + 7.0 * s.trials,
        fails_on_main="the lost renewal: node 0 serves the revoked token after revoke returned",
    ),
    Scenario(
        "lease-mismatch",
        "node 0 with lease=10 paused across a revoke by a writer with lease=2",
        plan=lambda s: _plan(
            s,
            2.0 + 15.0 * s.trials,
            nodes=[NodeSpec(10.0)] + [NodeSpec(2.0)] * (s.nodes - 1),
            writer_lease=2.0,
        ),
        run=run_lease_mismatch,
        seconds=lambda s: 2.0 + 15.0 * s.trials,
        fails_on_main="the writer waits 2x its own lease; node 0 serves the revoke after SIGCONT",
    ),
    Scenario(
        "relay-kill",
        "nodes on shared hosts of three; each host's relay killed (SIGKILL), a node takes over",
        plan=lambda s: _plan(s, 2.0 + 1.0 * -(-s.nodes // 3) * s.factor, nodes=_hosts(s)),
        run=run_relay_kill,
        seconds=lambda s: 2.0 + 1.0 * -(-s.nodes // 3) * s.factor,
    ),
    Scenario(
        "relay-stop",
        "nodes on shared hosts of three; a host's relay paused (SIGSTOP) 1.5 lease, in turn",
        plan=lambda s: _plan(s, 5.0 * s.factor, nodes=_hosts(s)),
        run=run_relay_stop,
        seconds=lambda s: 5.0 * s.factor,
    ),
]


def scenario(name: str) -> Scenario:
    for s in SCENARIOS:
        if s.name == name:
            return s
    raise KeyError(name)


def limits_broken(sc: Scenario, out: Outcome) -> list[str]:
    """What the outcome breaks: the safety property, then the scenario's limits."""
    broken = []
    if sc.control:
        if not out.violations:
            broken.append("no violations seen where the checker must see some: it is blind")
    elif out.violations:
        broken.append(f"{out.violations} violations (latest {out.late:.3f} s after the change)")
    if out.hung:
        broken.append(f"nodes hung in a verification at the end: {out.hung}")
    if out.changes_hung:
        broken.append(f"{out.changes_hung} change(s) never returned")
    if "latency" in sc.limits and out.latency and out.latency[-1] > sc.limits["latency"]:
        broken.append(f"a change took {out.latency[-1]:.3f} s > {sc.limits['latency']} s")
    if "writer_bound" in sc.limits and out.writer_longest > sc.limits["writer_bound"]:
        broken.append(f"a change took {out.writer_longest:.1f} s > {sc.limits['writer_bound']} s")
    bound = sc.limits.get("cut_error")
    if bound is not None:
        for c in out.cuts:
            if (
                c.first_error is None
                or c.first_error > bound
                or c.longest_verify > bound
                or c.served > L  # it trusted its cache past its lease
            ):
                first = "never" if c.first_error is None else f"after {c.first_error:.2f} s"
                broken.append(
                    f"{c.node} cut ({c.kind}): first StoreError {first}, longest verify "
                    f"{c.longest_verify:.2f} s, served {c.served:.2f} s (bound {bound} s)"
                )
    return broken
