"""The checker on made-up reports: what counts as a violation, and what a cut shows."""

from __future__ import annotations

from .checker import check

S = 1_000_000_000  # ns


def _report(n: int = 2, **over) -> dict:
    r = {
        "pid": 1,
        "counts": {"ok": 100, "refused": 10, "store_error": 0, "other": 0},
        "last_ok": [0] * n,
        "viol": [0] * n,
        "viol_first": [0] * n,
        "viol_last": [0] * n,
        "transitions": [],
        "slow": [],
        "errors": {},
        "hung": None,
        "end": 100 * S,
    }
    r.update(over)
    return r


def _change(k: int, start: int, returned: int, outcome: str = "ok") -> dict:
    return {"k": k, "kind": "revoke", "start": start, "returned": returned, "outcome": outcome}


def test_a_success_that_started_after_the_change_returned_is_a_violation():
    r = _report(viol=[0, 3], viol_first=[0, 11 * S], viol_last=[0, 12 * S], last_ok=[5 * S, 12 * S])
    out = check([r], [_change(0, 5 * S, 6 * S), _change(1, 9 * S, 10 * S)], None, [], ["a", "b"])
    assert out.violations == 3
    assert out.late == 2.0
    assert out.changes == 2
    assert out.latency == [1.0, 1.0]


def test_a_success_before_the_change_returned_is_not_one():
    r = _report(last_ok=[6 * S - 1, 0])  # started while the revoke was still in flight
    out = check([r], [_change(0, 5 * S, 6 * S)], None, [], ["a", "b"])
    assert out.violations == 0


def test_a_last_success_after_the_return_counts_even_if_the_node_missed_the_board():
    r = _report(last_ok=[6 * S + 1, 0])
    out = check([r], [_change(0, 5 * S, 6 * S)], None, [], ["a", "b"])
    assert out.violations == 1


def test_a_change_that_raised_or_never_returned_promises_nothing():
    r = _report(last_ok=[9 * S, 9 * S])
    changes = [_change(0, 5 * S, 6 * S, outcome="store_error")]
    out = check([r], changes, {"k": 1}, [], ["a", "b"])
    assert (out.violations, out.changes, out.changes_failed, out.changes_hung) == (0, 0, 1, 1)


def test_a_cut_shows_how_long_the_node_served_and_when_it_failed():
    r = _report(
        transitions=[[20 * S + S // 2, 20 * S + S // 4, "error"], [30 * S, 29 * S, "answer"]]
    )
    cut = {
        "what": "cut",
        "node": 0,
        "name": "node0",
        "kind": "blackhole",
        "t": 20 * S,
        "heal": 26 * S,
    }
    out = check([r], [], None, [cut], [])
    (c,) = out.cuts
    assert (c.served, c.first_error, c.seconds, c.longest_verify) == (0.25, 0.5, 6.0, 0.0)


def test_a_node_that_hangs_in_a_cut_has_no_first_error_and_a_long_verification():
    r = _report(slow=[[20 * S + S // 2, 7 * S, "store_error"]])
    cut = {
        "what": "cut",
        "node": 0,
        "name": "node0",
        "kind": "linkdown",
        "t": 20 * S,
        "heal": 26 * S,
    }
    out = check([r], [], None, [cut], [])
    (c,) = out.cuts
    assert c.first_error is None
    assert c.longest_verify == 7.0
    assert c.served == 0.5
    assert out.cut_first_error() == float("inf")
