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


def _cut(heal: int = 26 * S) -> dict:
    return {
        "what": "cut",
        "node": 0,
        "name": "node0",
        "kind": "linkdown",
        "t": 20 * S,
        "heal": heal,
    }


def test_a_cut_shows_how_long_the_node_served_and_when_it_failed():
    # answering until 20.25 s, then a verification from 20.5 s that fails at 20.6 s
    r = _report(
        transitions=[
            [20 * S + S // 2, 20 * S + 6 * S // 10, 20 * S + S // 4, "error"],
            [30 * S, 30 * S, 29 * S, "answer"],
        ]
    )
    (c,) = check([r], [], None, [_cut()], []).cuts
    assert (c.served, c.first_error, c.seconds, c.longest_verify) == (0.25, 0.6, 6.0, 0.0)


def test_a_node_that_hangs_in_a_cut_has_no_first_error_and_a_long_verification():
    r = _report(slow=[[20 * S + S // 2, 7 * S, "ok"]])
    out = check([r], [], None, [_cut()], [])
    (c,) = out.cuts
    assert c.first_error is None
    assert c.longest_verify == 7.0
    assert c.served == 0.5
    assert out.cut_first_error() == float("inf")


def test_a_verification_in_progress_at_the_cut_counts_from_the_cut():
    # a cache miss from 19.9 s fails at 23 s; the next one, from 23.08 s, answers at 26.1 s
    r = _report(
        transitions=[
            [19 * S + 9 * S // 10, 23 * S, 19 * S + 8 * S // 10, "error"],
            [23 * S + 8 * S // 100, 26 * S + S // 10, 19 * S + 9 * S // 10, "answer"],
        ],
        slow=[
            [19 * S + 9 * S // 10, 3 * S + S // 10, "store_error"],
            [23 * S + 8 * S // 100, 3 * S + 2 * S // 100, "ok"],
        ],
    )
    (c,) = check([r], [], None, [_cut()], []).cuts
    assert c.served == 0.0  # nothing answered from the cut to its first StoreError
    assert c.first_error == 3.0
    assert round(c.longest_verify, 2) == 3.02
