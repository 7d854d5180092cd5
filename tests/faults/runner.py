"""Runs one scenario on a fresh rig and checks it: shared by the short test and `make chaos`."""

from __future__ import annotations

import json
import os
import tempfile
import time

from .checker import Outcome
from .netns import netns_sweep, netns_unavailable
from .proxy import ProxyLoop
from .rig import Rig
from .scenarios import Scale, Scenario
from .server import PgServer


class Harness:
    """The server, the proxies' loop and whether namespaces are used, for many runs."""

    def __init__(self, netns: bool = True, keep: str = "") -> None:
        self.keep = keep  # a folder to keep each run's reports and stderr in
        self.server = PgServer()
        if netns:
            netns_sweep()  # namespaces a killed harness left behind
            why = netns_unavailable()
            if why:
                raise RuntimeError(f"{why} (the link-down scenarios need them)")
        self.netns = netns
        self.loop = ProxyLoop()

    def run(self, sc: Scenario, scale: Scale) -> Outcome:
        plan = sc.plan(scale)
        plan.netns = self.netns
        if self.keep:
            os.makedirs(self.keep, exist_ok=True)
            workdir = tempfile.mkdtemp(prefix=f"{sc.name}-", dir=self.keep)
        else:
            tmp = tempfile.TemporaryDirectory(prefix=f"tkfaults-{sc.name}-")
            workdir = tmp.name
        try:
            t0 = time.monotonic()
            with Rig(self.server, self.loop, plan, workdir) as rig:
                rig.go(sc.seconds(scale))
                sc.run(rig, scale)
                out = rig.finish()
            out.wall = time.monotonic() - t0
            with open(os.path.join(workdir, "events.json"), "w") as f:
                json.dump({"events": rig.events, "changes": rig.changes}, f)
        finally:
            if not self.keep:
                tmp.cleanup()
        return out

    def close(self) -> None:
        self.loop.close()
        self.server.ensure_running()

    def __enter__(self) -> Harness:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
