"""store.list: the listing query (state, search, scope, sort, paging, all owners) on SQLite and
PostgreSQL, its typed errors, and one meaning with or without keywords (SPEC's list(owner))."""

from __future__ import annotations

from datetime import timedelta

import pytest
import tokenkeep
from conftest import T0
from tokenkeep import InvalidArgument, UnknownScope
from tokenkeep.models import TokenList

PEPPER = "ab" * 32


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def lst(request, tmp_path, clock):
    """A store on each backend (PostgreSQL: a fresh schema from the pg_url fixture)."""
    where = (
        str(tmp_path / "list.db")
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    with tokenkeep.TokenStore(where, clock=clock, pepper=PEPPER, allow_never_expire=True) as s:
        yield s


def names(tokens):
    return [t.name for t in tokens]


def test_plain_call_keeps_its_meaning_not_revoked_newest_first_expired_included(lst, clock):
    lst.create("alice", "old", {"device"}, expires_in=timedelta(days=1))
    clock.advance(timedelta(seconds=1))
    lst.create("alice", "new", {"device"})
    clock.advance(timedelta(seconds=1))
    gone = lst.create("alice", "gone", {"device"})
    lst.revoke("alice", gone.info.id)
    clock.advance(timedelta(days=2))  # "old" has expired
    plain = lst.list("alice")
    assert isinstance(plain, TokenList)
    assert names(plain) == ["new", "old"]
    assert (plain.total, plain.limit, plain.offset) == (2, None, 0)
    assert names(lst.list("alice", state="live")) == ["new", "old"]  # the default, named
    assert names(lst.list("alice", state="active")) == ["new"]
    assert names(lst.list("alice", state="inactive")) == ["gone", "old"]
    assert names(lst.list("alice", state="all")) == ["gone", "new", "old"]  # newest first


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sort": "created"},
        {"descending": True},
        {"limit": None},
        {"offset": 0},
        {"search": ""},
        {"limit": 100, "offset": 0},
        {"state": None},
    ],
)
def test_a_keyword_that_narrows_nothing_changes_nothing(lst, clock, kwargs):
    """One meaning: a keyword at its default value lists what the plain call lists (before,
    any keyword switched to the "active" state and dropped the expired tokens)."""
    lst.create("alice", "old", {"device"}, expires_in=timedelta(days=1))
    clock.advance(timedelta(seconds=1))
    lst.create("alice", "new", {"device"})
    gone = lst.create("alice", "gone", {"device"})
    lst.revoke("alice", gone.info.id)
    clock.advance(timedelta(days=2))  # "old" has expired
    plain, keyed = lst.list("alice"), lst.list("alice", **kwargs)
    assert names(keyed) == names(plain) == ["new", "old"]
    assert keyed.total == plain.total == 2
    everyone = lst.list(all_owners=True)
    assert sorted(names(everyone)) == ["new", "old"]
    assert everyone.total == 2


def test_pages_carry_the_total_and_the_page_asked_for(lst, clock):
    lst.create_many("alice", [(f"t{i:02d}", {"device"}) for i in range(12)])
    page = lst.list("alice", sort="name", descending=False, limit=5, offset=10)
    assert names(page) == ["t10", "t11"]
    assert (page.total, page.limit, page.offset) == (12, 5, 10)
    assert lst.list("alice", limit=5, offset=100).total == 12
    assert len(lst.list("alice", limit=None, sort="created")) == 12


def test_search_is_case_insensitive_and_literal(lst):
    lst.create_many(
        "alice",
        [
            ("CI-deploy", {"device"}),
            ("ci_deploy", {"device"}),
            ("50% off", {"device"}),
            ("cixdeploy", {"device"}),
        ],
    )
    assert names(lst.list("alice", search="ci-DEPLOY")) == ["CI-deploy"]
    assert names(lst.list("alice", search="_")) == ["ci_deploy"]
    assert names(lst.list("alice", search="%")) == ["50% off"]
    assert lst.list("alice", search="ci").total == 3


def test_scope_filter_matches_tokens_granting_any_given_scope(lst):
    lst.create("alice", "whole", {"device"})
    lst.create("alice", "read-only", {"device:read"})
    lst.create("alice", "other", {"policy"})
    assert sorted(names(lst.list("alice", scope="device:read"))) == ["read-only", "whole"]
    assert names(lst.list("alice", scope="device")) == ["whole"]
    assert sorted(names(lst.list("alice", scope=["device", "policy"]))) == ["other", "whole"]


def test_sorts_by_expiry_and_last_use(lst, clock):
    lst.create("alice", "never", {"device"}, never_expires=True)
    soon = lst.create("alice", "soon", {"device"}, expires_in=timedelta(days=1))
    lst.create("alice", "later", {"device"}, expires_in=timedelta(days=9))
    assert names(lst.list("alice", sort="expires", descending=False)) == ["soon", "later", "never"]
    lst.verify(soon.secret)
    lst._e.uses_flush()
    assert names(lst.list("alice", sort="last_used"))[0] == "soon"
    assert lst.list("alice", sort="last_used")[0].last_used_at == T0


def test_all_owners_lists_every_owner(lst):
    lst.create("alice", "a", {"device"})
    lst.create("bob", "b", {"device"})
    everyone = lst.list(all_owners=True)
    assert sorted((t.owner, t.name) for t in everyone) == [("alice", "a"), ("bob", "b")]
    assert everyone.total == 2


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"state": "revoked"}, "state"),
        ({"sort": "size"}, "sort"),
        ({"limit": 0}, "limit"),
        ({"limit": "10"}, "limit"),
        ({"limit": True}, "limit"),
        ({"offset": -1}, "offset"),
        ({"search": "a\x00b"}, "search"),
        ({"search": 5}, "search"),
        ({"descending": "yes"}, "descending"),
        ({"all_owners": True}, "all_owners"),  # together with an owner
    ],
)
def test_bad_arguments_raise_typed_errors_naming_the_keyword(lst, kwargs, field):
    lst.create("alice", "a", {"device"})
    with pytest.raises(InvalidArgument) as e:
        lst.list("alice", **kwargs)
    assert e.value.field == field
    assert names(lst.list("alice")) == ["a"]  # store unchanged


def test_no_owner_and_unknown_scope_are_typed(lst):
    with pytest.raises(InvalidArgument) as e:
        lst.list()
    assert e.value.field == "owner"
    with pytest.raises(UnknownScope) as u:
        lst.list("alice", scope="devices")
    assert u.value.field == "scope"
