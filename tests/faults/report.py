"""The table `make chaos` prints: one row per scenario, then the total."""

from __future__ import annotations

from .checker import Outcome

COLUMNS = (
    ("scenario", 22, "<"),
    ("runs", 4, ">"),
    ("verifications", 13, ">"),
    ("changes", 7, ">"),
    ("failed", 6, ">"),
    ("violations", 10, ">"),
    ("StoreErrors", 11, ">"),
    ("p50 ms", 7, ">"),
    ("p99 ms", 7, ">"),
    ("max ms", 8, ">"),
    ("writer s", 8, ">"),
    ("served s", 8, ">"),
    ("1st err s", 9, ">"),
    ("longest s", 9, ">"),
    ("verdict", 7, "<"),
)


def _s(v: float | None, digits: int = 2) -> str:
    if v is None:
        return "-"
    if v == float("inf"):
        return "never"
    return f"{v:.{digits}f}"


def row(name: str, out: Outcome, broken: list) -> str:
    cells = (
        name,
        out.runs,
        f"{out.verifications:,}",
        out.changes,
        out.changes_failed + out.changes_hung,
        out.violations,
        f"{out.store_errors:,}",
        _s(out.pct(0.5) * 1e3, 0),
        _s(out.pct(0.99) * 1e3, 0),
        _s(out.latency[-1] * 1e3 if out.latency else None, 0),
        _s(out.writer_longest),
        _s(out.cut_served()),
        _s(out.cut_first_error()),
        _s(out.longest_verify),
        "FAIL" if broken else "ok",
    )
    return "  ".join(f"{str(c):{a}{w}}" for c, (_, w, a) in zip(cells, COLUMNS, strict=True))


def failures(name: str, out: Outcome) -> list:
    """The writer's StoreError messages in a run, each once with how many times (they name
    host, port and database, never a secret)."""
    counts: dict = {}
    for m in out.failures:
        counts[m] = counts.get(m, 0) + 1
    return [f"{name}: {n} x {m}" for m, n in counts.items()]


def header() -> str:
    line = "  ".join(f"{h:{a}{w}}" for h, w, a in COLUMNS)
    return line + "\n" + "-" * len(line)


LEGEND = """\
changes: returned; failed: raised StoreError (or never returned); violations: successful
verifications of the old state that started after the change returned; p50/p99/max: how long
returned changes took; writer: the longest change, returned or raised; served: how long a
cut-off node kept answering after its cut (the worst cut); 1st err: from the cut to its first
StoreError (the worst cut; never: it had none); longest: the longest single verification."""
