"""The checker: from the nodes' reports, the writer's results and the faults' times, what a
scenario run showed.

A violation is a successful verification of a token's old state (revoked: any success;
narrowed: a success of device:write) that STARTED after the change returned. A node counts
them itself against the change board; the checker confirms each against the writer's log (a
token whose last success started after its change returned is at least one violation even if
the node read the board a moment before the writer published it).

For each cut of a node (blackhole, link down): how long it kept answering after the cut
(answers are served from its cache: that is the time it trusted a view it could not prove),
when it first answered StoreError, and the longest verification that started during the cut.
"""

from __future__ import annotations

from dataclasses import dataclass, field

NS = 1e9


@dataclass
class CutResult:
    node: str
    kind: str
    seconds: float  # how long the cut lasted
    served: float  # from the cut to the start of the node's last answer before it failed
    first_error: float | None  # from the cut to its first StoreError (None: none came)
    longest_verify: float  # the longest verification that started during the cut


@dataclass
class Outcome:
    verifications: int = 0
    ok: int = 0
    refused: int = 0
    store_errors: int = 0
    other: int = 0
    changes: int = 0  # returned
    changes_failed: int = 0  # raised (StoreError or another error)
    changes_hung: int = 0  # sent, no result by the end
    violations: int = 0
    late: float = 0.0  # the latest violating start after its change returned, seconds
    latency: list = field(default_factory=list)  # returned changes, seconds, sorted
    writer_longest: float = 0.0  # longest change, returned or not
    cuts: list = field(default_factory=list)  # CutResult
    longest_verify: float = 0.0
    hung: list = field(default_factory=list)  # nodes still inside a verification at the end
    failures: list = field(default_factory=list)  # the writer's StoreError messages
    wall: float = 0.0  # seconds the run took, set up to checked
    runs: int = 1

    def pct(self, q: float) -> float:
        if not self.latency:
            return 0.0
        return self.latency[min(len(self.latency) - 1, int(q * len(self.latency)))]

    def merge(self, other: Outcome) -> None:
        for name in ("verifications", "ok", "refused", "store_errors", "other", "changes"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.changes_failed += other.changes_failed
        self.changes_hung += other.changes_hung
        self.violations += other.violations
        self.late = max(self.late, other.late)
        self.latency = sorted(self.latency + other.latency)
        self.writer_longest = max(self.writer_longest, other.writer_longest)
        self.cuts += other.cuts
        self.longest_verify = max(self.longest_verify, other.longest_verify)
        self.hung += other.hung
        self.failures += other.failures
        self.wall += other.wall
        self.runs += other.runs

    def cut_served(self) -> float | None:
        return max((c.served for c in self.cuts), default=None)

    def cut_first_error(self) -> float | None:
        """The slowest cut-off node's time to its first StoreError (inf: one never had one)."""
        if not self.cuts:
            return None
        return max(float("inf") if c.first_error is None else c.first_error for c in self.cuts)


def check(reports: list, changes: list, pending: dict | None, events: list, ids: list) -> Outcome:
    out = Outcome()
    for r in reports:
        c = r["counts"]
        out.verifications += sum(c.values())
        out.ok += c["ok"]
        out.refused += c["refused"]
        out.store_errors += c["store_error"]
        out.other += c["other"]
        for _start, duration, _ in r["slow"]:
            out.longest_verify = max(out.longest_verify, duration / NS)
        if r["hung"]:
            out.hung.append(r["pid"])
            out.longest_verify = max(
                out.longest_verify, (r["hung"]["noticed"] - r["hung"]["since"]) / NS
            )
    for ch in changes:
        out.writer_longest = max(out.writer_longest, (ch["returned"] - ch["start"]) / NS)
        if ch["outcome"] != "ok":
            out.changes_failed += 1
            if "message" in ch:
                out.failures.append(ch["message"])
            continue
        out.changes += 1
        out.latency.append((ch["returned"] - ch["start"]) / NS)
        k, returned = ch["k"], ch["returned"]
        for r in reports:
            n = r["viol"][k]
            latest = r["viol_last"][k]
            if r["last_ok"][k] > returned:
                n = max(n, 1)
                latest = max(latest, r["last_ok"][k])
            if n:
                out.violations += n
                out.late = max(out.late, (latest - returned) / NS)
    out.latency.sort()
    if pending is not None:
        out.changes_hung += 1
    for e in events:
        if e["what"] == "cut" and "node" in e:
            out.cuts.append(_cut(reports[e["node"]], e))
    return out


def _segments(r: dict) -> list:
    """The node's runs of one outcome class, from its transitions: (first start, end of the
    first, last start, "answer" or "error"); before the first transition it was answering."""
    last_start = r["hung"]["since"] if r["hung"] else r.get("end", float("inf"))
    segs = []
    first, first_end, state = float("-inf"), float("-inf"), "answer"
    for t, t_end, t_prev, st in r["transitions"]:
        segs.append((first, first_end, t_prev, state))
        first, first_end, state = t, t_end, st
    segs.append((first, first_end, last_start, state))
    return segs


def _cut(r: dict, e: dict) -> CutResult:
    """What a cut at e["t"] did to the node of report r. Times are verification starts, except
    when the node answered StoreError (the end of that verification); a verification in
    progress at the cut counts from the cut."""
    cut, heal = e["t"], e.get("heal", r.get("end", e["t"]))
    slow = [tuple(x[:3]) for x in r["slow"]]
    if r["hung"]:
        slow.append((r["hung"]["since"], r["hung"]["noticed"] - r["hung"]["since"], "hung"))

    def covering(x: float):
        return next(((s, d) for s, d, _ in slow if s <= x < s + d), None)

    longest = 0
    for s, d, _ in slow:
        if s < cut < s + d:
            longest = max(longest, s + d - cut)
        elif cut <= s <= heal:
            longest = max(longest, d)
    segs = _segments(r)
    errors = [s + d for s, d, o in slow if o == "store_error" and s + d >= cut]
    for _first, first_end, last, state in segs:
        if state != "error":
            continue
        if first_end >= cut:
            errors.append(first_end)
        elif last >= cut:  # failing already: the next answer after the cut is an error
            cov = covering(cut)
            errors.append(cov[0] + cov[1] if cov else cut)
    first_error = min(errors, default=None)
    limit = first_error if first_error is not None else heal
    served_until = cut
    for first, _, last, state in segs:
        if state != "answer" or first > limit:
            continue
        x = min(last, limit)
        cov = covering(x)
        if cov and cov[0] >= first:
            x = cov[0]  # answers stopped while that verification waited
        served_until = max(served_until, x)
    return CutResult(
        node=e["name"],
        kind=e["kind"],
        seconds=(heal - cut) / NS,
        served=(served_until - cut) / NS,
        first_error=None if first_error is None else (first_error - cut) / NS,
        longest_verify=longest / NS,
    )
