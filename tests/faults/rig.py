"""The rig of one scenario run: a schema with tokens, one proxy (and, as root, one network
namespace) per process, the node processes and the writer, and the handles a scenario drives:

    with Rig(server, loop, Plan(nodes=[NodeSpec(lease=1.0)] * 3), workdir) as rig:
        rig.go(seconds=6)                     # the nodes verify until then
        rig.nodes[0].fault("delay", 0.05)     # proxy faults
        rig.nodes[1].cut(); ...; rig.nodes[1].heal()   # link down / up (namespaces)
        rig.change()                          # the writer's next change; its result
        outcome = rig.finish()                # reports in, checked (checker.py)

Everything it started (processes, proxies, namespaces, the schema) is gone after the block.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

import psycopg
from tokenkeep import TokenStore

from .board import Board
from .checker import Outcome, check
from .hostfile import host_file_read
from .netns import Netns
from .proxy import FaultProxy, ProxyLoop
from .server import PgServer

PEPPER = "ef" * 32  # a test pepper, passed to the processes on stdin, never on argv
OWNER = "alice"
SCOPE = "device:write"  # what the nodes check; a narrowed token keeps only device:read
TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass
class NodeSpec:
    lease: float = 1.0
    consistency: str = "strict"
    # Nodes with the same `host` share a runtime folder, hence one relay (opened first: an
    # idle store, `Rig.holders[host]`); None: a host of its own, its own relay.
    host: int | None = None


@dataclass
class Plan:
    nodes: list = field(default_factory=lambda: [NodeSpec()] * 3)
    writer_lease: float = 1.0
    writer_consistency: str = "strict"
    changes: int = 64  # tokens the writer may change, one change each
    stable: int = 8  # tokens nobody changes: a node keeps answering them while it can
    netns: bool = True  # every process in its own namespace (needs root)
    grace: float = 12.0  # after the end, how long a node may take before it counts as hung


class Proc:
    """A node or the writer: its process, its proxy, its namespace (or None)."""

    def __init__(self, name: str, proxy: FaultProxy, ns: Netns | None, proc: subprocess.Popen):
        self.name, self.proxy, self.ns, self.proc = name, proxy, ns, proc
        self.stopped = False

    def fault(self, kind: str = "pass", delay: float = 0.0, jitter: float = 0.0) -> None:
        self.proxy.set(kind, delay, jitter)

    def cut(self) -> None:
        if self.ns is None:
            raise RuntimeError("link-down partitions need network namespaces (root)")
        self.ns.cut()

    def heal(self) -> None:
        if self.ns is not None and not self.ns.is_up:
            self.ns.heal()

    def stop(self) -> None:
        """SIGSTOP, and wait until every thread has stopped (a thread running on another core
        finishes its time slice first: the listener could still renew)."""
        self.proc.send_signal(signal.SIGSTOP)
        self.stopped = True
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            states = []
            for tid in os.listdir(f"/proc/{self.proc.pid}/task"):
                with (
                    contextlib.suppress(OSError),
                    open(f"/proc/{self.proc.pid}/task/{tid}/stat") as f,
                ):
                    states.append(f.read().rsplit(")", 1)[1].split()[0])
            if all(s in "tT" for s in states):
                return
            time.sleep(0.001)
        raise RuntimeError(f"{self.name} did not stop")

    def cont(self) -> None:
        self.proc.send_signal(signal.SIGCONT)
        self.stopped = False

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
        self.proc.wait(30)


class Rig:
    def __init__(self, server: PgServer, loop: ProxyLoop, plan: Plan, workdir: str) -> None:
        self.server, self.loop, self.plan, self.workdir = server, loop, plan, workdir
        self.nodes: list[Proc] = []
        self.holders: dict[int, Proc] = {}  # the first store of each shared host
        self.writer: Proc | None = None
        self.events: list[dict] = []  # cuts and other faults, with their times
        self.changes: list[dict] = []  # the writer's results
        self.pending: dict | None = None  # a change sent whose result has not come
        self.end = 0
        self.schema = ""
        self._results: queue.Queue = queue.Queue()
        self._next = 0
        self._namespaces: list[Netns] = []
        self._proxies: list[FaultProxy] = []

    # -- setting up --

    def __enter__(self) -> Rig:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _start(self) -> None:
        plan = self.plan
        self.server.ensure_running()
        self.schema = self.server.schema_new()
        with TokenStore(self.server.url_direct(self.schema), pepper=PEPPER, lease=1.0) as s:
            changed = s.create_many(OWNER, [(f"c{i}", {"device"}) for i in range(plan.changes)])
            stable = s.create_many(OWNER, [(f"s{i}", {"device"}) for i in range(plan.stable)])
        self.ids = [t.info.id for t in changed]
        board_path = os.path.join(self.workdir, "board")
        self.board = Board(board_path, plan.changes, create=True)
        index = len(plan.nodes) + 1  # namespaces: nodes, the writer, then the holders
        for h in sorted({s.host for s in plan.nodes if s.host is not None}):
            lease = next(s.lease for s in plan.nodes if s.host == h)
            cfg = {"pepper": PEPPER, "lease": lease, "idle": True, "runtime_dir": self.host_dir(h)}
            self.holders[h] = self._spawn(f"holder{h}", index, "faults.node", cfg)
            index += 1
            if (line := self._readline(self.holders[h], 60)) != "ready":
                raise RuntimeError(f"holder{h} did not start: {line!r}")
        for i, spec in enumerate(plan.nodes):
            cfg = {
                "runtime_dir": self.host_dir(spec.host, i),
                "pepper": PEPPER,
                "lease": spec.lease,
                "consistency": spec.consistency,
                "secrets": [t.secret for t in changed],
                "stable": [t.secret for t in stable],
                "scope": SCOPE,
                "board": board_path,
                "out": os.path.join(self.workdir, f"node{i}.json"),
                "keep": 1.0 + 1.5 * max(n.lease for n in plan.nodes),
                "grace": plan.grace,
            }
            self.nodes.append(self._spawn(f"node{i}", len(self.nodes), "faults.node", cfg))
        cfg = {
            "runtime_dir": self.host_dir(None, "writer"),
            "pepper": PEPPER,
            "lease": plan.writer_lease,
            "consistency": plan.writer_consistency,
            "owner": OWNER,
            "ids": self.ids,
            "board": board_path,
        }
        self.writer = self._spawn("writer", len(plan.nodes), "faults.writer", cfg)
        for p in [*self.nodes, self.writer]:
            line = self._readline(p, 60)
            if line != "ready":
                raise RuntimeError(f"{p.name} did not start: {line!r}; see {self._errfile(p.name)}")
        threading.Thread(target=self._read_results, daemon=True).start()

    def host_dir(self, host: int | None, node: int | str = 0) -> str:
        """The runtime folder of a shared host, or of one process (a host of its own)."""
        name = f"host{host}" if host is not None else f"own-{node}"
        path = os.path.join(self.workdir, name)
        os.makedirs(path, mode=0o700, exist_ok=True)
        return path

    def relay_of(self, host: int) -> Proc:
        """The process that is host `host`'s relay now (its holder, or a node after a kill)."""
        pid = host_file_read(self.host_dir(host)).relay_pid
        for p in [*self.holders.values(), *self.nodes]:
            if p.proc.pid == pid and p.proc.poll() is None:
                return p
        raise RuntimeError(f"host {host}'s relay {pid} is none of the rig's live processes")

    def row_of(self, node: int) -> str:
        """The lease row (tokenkeep_nodes.node) of node `node`'s host."""
        spec = self.plan.nodes[node]
        return host_file_read(self.host_dir(spec.host, node)).node

    def _errfile(self, name: str) -> str:
        return os.path.join(self.workdir, f"{name}.stderr")

    def _spawn(self, name: str, index: int, module: str, cfg: dict) -> Proc:
        ns = Netns(index) if self.plan.netns else None
        if ns is not None:
            self._namespaces.append(ns)
        proxy = FaultProxy(
            self.loop, ns.host_addr if ns else "127.0.0.1", self.server.upstream, name
        )
        self._proxies.append(proxy)
        cfg = {**cfg, "url": self.server.url_via(*proxy.address, self.schema)}
        env = {**os.environ, "PYTHONPATH": TESTS_DIR}
        env.pop("TOKENKEEP_PEPPER", None)
        with open(self._errfile(name), "w") as err:
            proc = subprocess.Popen(
                [*(ns.prefix() if ns else []), sys.executable, "-m", module],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                env=env,
                cwd=TESTS_DIR,
            )
        proc.stdin.write(json.dumps(cfg) + "\n")
        proc.stdin.flush()
        return Proc(name, proxy, ns, proc)

    def _readline(self, p: Proc, timeout: float) -> str:
        """One line of a child's stdout, or '' after `timeout` seconds."""
        box: list[str] = []
        t = threading.Thread(target=lambda: box.append(p.proc.stdout.readline()), daemon=True)
        t.start()
        t.join(timeout)
        return box[0].strip() if box else ""

    def _read_results(self) -> None:
        for line in self.writer.proc.stdout:
            if line.strip():
                self._results.put(json.loads(line))

    # -- driving --

    def go(self, seconds: float) -> None:
        self.t_go = time.monotonic_ns()
        self.end = self.t_go + int(seconds * 1e9)
        for p in [*self.holders.values(), *self.nodes]:
            p.proc.stdin.write(f"go {self.end}\n")
            p.proc.stdin.flush()

    def remaining(self) -> float:
        return (self.end - time.monotonic_ns()) / 1e9

    def mark(self, what: str, **info) -> dict:
        event = {"what": what, "t": time.monotonic_ns(), **info}  # info may set t
        self.events.append(event)
        return event

    def change(self, kind: str | None = None, timeout: float = 30.0) -> dict | None:
        """The writer's next change (alternately revoke and narrow unless `kind`); its result,
        or None if it has not returned within `timeout` (it stays pending; the next call waits
        for it first)."""
        if self.pending is not None and not self._collect(timeout):
            return None
        if self._next >= len(self.ids):
            raise RuntimeError("out of tokens to change: raise Plan.changes")
        k = self._next
        self._next += 1
        kind = kind or ("revoke" if k % 2 else "narrow")
        self.pending = {"k": k, "kind": kind, "sent": time.monotonic_ns()}
        self.writer.proc.stdin.write(f"change {k} {kind}\n")
        self.writer.proc.stdin.flush()
        return self.changes[-1] if self._collect(timeout) else None

    def _collect(self, timeout: float) -> bool:
        try:
            result = self._results.get(timeout=timeout)
        except queue.Empty:
            return False
        self.changes.append(result)
        self.pending = None
        return True

    def sleep_until(self, t_ns: int) -> None:
        delay = (t_ns - time.monotonic_ns()) / 1e9
        if delay > 0:
            time.sleep(delay)

    # -- ending --

    def finish(self) -> Outcome:
        """Waits for the nodes' reports (a node that hangs reports itself through its
        watchdog), lets the writer finish, heals every fault, and checks."""
        for p in [*self.nodes, *self.holders.values()]:
            p.heal()
            if p.stopped:
                p.cont()
            p.fault("pass")
        self.writer.heal()
        self.writer.fault("pass")
        if self.writer.stopped:
            self.writer.cont()
        reports = []
        for i, p in enumerate(self.nodes):
            wait = max(0.0, self.remaining()) + self.plan.grace + 15
            line = self._readline(p, wait)
            path = os.path.join(self.workdir, f"node{i}.json")
            if line != "done" and not os.path.exists(path):
                raise RuntimeError(f"{p.name} ended without a report; see {self._errfile(p.name)}")
            with open(path) as f:
                reports.append(json.load(f))
        if self.pending is not None:
            self._collect(self.plan.grace)
        return check(reports, self.changes, self.pending, self.events, self.ids)

    def close(self) -> None:
        if self.writer is not None and self.writer.proc.poll() is None:
            try:
                self.writer.proc.stdin.write("quit\n")
                self.writer.proc.stdin.flush()
                self.writer.proc.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        for p in [*self.nodes, *self.holders.values(), *([self.writer] if self.writer else [])]:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.proc.wait(2 if p.proc.poll() is None else 0)
            p.kill()
        for proxy in self._proxies:
            proxy.close()
        for ns in self._namespaces:
            ns.delete()
        if getattr(self, "board", None) is not None:
            self.board.close()
        if self.schema:
            self.server.ensure_running()
            with contextlib.suppress(psycopg.OperationalError):  # the cluster is gone already
                self.server.schema_drop(self.schema)
