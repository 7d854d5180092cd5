"""store.create_problems: every reason a create would be refused, each with its field, from the
engine's rules (what the page uses to mark all its fields at once)."""

from __future__ import annotations

from datetime import timedelta

from tokenkeep import InvalidArgument, UnknownScope


def test_all_problems_at_once_each_with_its_field(store):
    problems = store.create_problems("alice", "  ", [], expires_in=timedelta(days=4000))
    assert [(type(p), p.field) for p in problems] == [
        (InvalidArgument, "name"),
        (InvalidArgument, "scopes"),
        (InvalidArgument, "expires_in"),
    ]
    assert store.list("alice") == []  # nothing created


def test_unknown_scope_and_control_characters(store):
    problems = store.create_problems("alice", "a\x85b", ["devices"])
    assert [(type(p), p.field) for p in problems] == [
        (InvalidArgument, "name"),
        (UnknownScope, "scopes"),
    ]


def test_a_valid_request_has_no_problem_and_a_taken_name_is_left_to_create(store):
    store.create("alice", "ci", {"device"})
    assert store.create_problems("alice", "ci", {"device"}) == []
    assert store.create_problems("alice", "fresh", "device", expires_in=timedelta(days=7)) == []


def test_conflicting_expiry_arguments_are_one_problem(store):
    problems = store.create_problems(
        "alice", "ok", {"device"}, expires_in=timedelta(days=1), never_expires=True
    )
    assert len(problems) == 1 and isinstance(problems[0], InvalidArgument)
    assert "at most one of" in str(problems[0])
