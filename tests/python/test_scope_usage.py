"""Least privilege from real use: store.scope_usage / scope_report / overprivileged after a mix
of verifications, across a restart, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
import tokenkeep
from tokenkeep.errors import InsufficientScope, InvalidArgument, NotFound

PEPPER = "ab" * 32


def exercise(store):
    """ci holds device + policy:read and uses device:read and policy:read; reader holds and
    uses device:read; idle is never verified; failed checks exercise nothing."""
    ci = store.create("alice", "ci", {"device", "policy:read"}, expires_in=timedelta(days=90))
    reader = store.create("alice", "reader", {"device:read"})
    idle = store.create("alice", "idle", {"collection"})
    for _ in range(5):
        store.verify(ci.secret, "device:read")
    store.verify(ci.secret, "policy:read")
    store.verify(reader.secret, "device:read")
    with pytest.raises(InsufficientScope):
        store.verify(ci.secret, "policy:write")
    assert store.check(idle.secret)  # no scope required: none exercised
    return ci, reader, idle


def check_usage(store, ci, reader, idle):
    assert store.scope_usage("alice", ci.info.id) == {"device:read", "policy:read"}
    assert store.scope_usage("alice", reader.info.id) == {"device:read"}
    assert store.scope_usage("alice", idle.info.id) == frozenset()
    report = {u.token.name: u for u in store.scope_report("alice")}
    assert report["ci"].unused == {"device:write"}
    assert set(report["ci"].last_used) == {"device:read", "policy:read"}
    assert report["reader"].unused == frozenset()
    assert report["idle"].unused == {"collection"}
    assert sorted(u.token.name for u in store.overprivileged("alice")) == ["ci", "idle"]


def test_scope_usage_after_a_mix_of_verifications_and_across_a_restart(db_path, clock):
    with tokenkeep.TokenStore(db_path, clock=clock) as store:
        tokens = exercise(store)
        check_usage(store, *tokens)  # before anything was persisted: from memory
    with tokenkeep.TokenStore(db_path, clock=clock) as store:  # a restart: from the database
        check_usage(store, *tokens)
        ci = tokens[0]
        # One click: narrow to what it used.
        store.update_scopes("alice", ci.info.id, store.scope_usage("alice", ci.info.id))
        assert store.get("alice", ci.info.id).scopes == {"device:read", "policy:read"}
        assert store.scope_report("alice", ci.info.id)[0].unused == frozenset()


def test_scope_usage_and_last_use_without_a_cache(db_path, clock):
    """cache_size=0: every verify reads its own snapshot, whose use joins one entry per token
    (issue 23: it queued a snapshot and wrote rows per verification); get, list and scope
    usage see it before it is persisted, and a restart reads it back."""
    with tokenkeep.TokenStore(db_path, clock=clock, cache_size=0) as store:
        tokens = exercise(store)
        check_usage(store, *tokens)  # from the uses in memory
        assert all(store.get("alice", t.info.id).last_used_at == clock.now() for t in tokens)
        assert store._e.cache_size() == 0
    with tokenkeep.TokenStore(db_path, clock=clock, cache_size=0) as store:
        check_usage(store, *tokens)
        assert all(store.get("alice", t.info.id).last_used_at == clock.now() for t in tokens)


def test_scope_usage_is_a_window_and_a_new_use_counts_again(db_path, clock):
    with tokenkeep.TokenStore(db_path, clock=clock) as store:
        ci, reader, idle = exercise(store)
    clock.advance(timedelta(days=31))
    with tokenkeep.TokenStore(db_path, clock=clock) as store:
        assert store.scope_usage("alice", ci.info.id) == frozenset()
        sixty = store.scope_usage("alice", ci.info.id, within=timedelta(days=60))
        assert sixty == {"device:read", "policy:read"}
        store.verify(ci.secret, "device:write")
        assert store.scope_usage("alice", ci.info.id) == {"device:write"}
        assert store.scope_report("alice", ci.info.id)[0].unused == {"device:read", "policy:read"}


def test_narrowing_to_what_was_used_never_widens(store):
    t = store.create("alice", "t", {"device"})
    store.verify(t.secret, "device:write")
    store.update_scopes("alice", t.info.id, {"device:read"})
    assert store.scope_usage("alice", t.info.id) == frozenset()  # device:write is no longer held
    assert store.scope_report("alice", t.info.id)[0].last_used == {}
    store.verify(t.secret, "device:read")
    assert store.scope_usage("alice", t.info.id) == {"device:read"}


def test_overprivileged_leaves_out_expired_tokens(store, clock):
    store.create("alice", "soon", {"device"}, expires_in=timedelta(days=1))
    assert [u.token.name for u in store.overprivileged("alice")] == ["soon"]
    clock.advance(timedelta(days=2))
    assert store.overprivileged("alice") == []
    assert [u.token.name for u in store.scope_report("alice")] == ["soon"]  # still reported


def test_scope_usage_of_another_owner_or_bad_arguments(store):
    ci, _, _ = exercise(store)
    with pytest.raises(NotFound):
        store.scope_usage("bob", ci.info.id)
    with pytest.raises(NotFound):
        store.scope_usage("alice", "00000000001")
    with pytest.raises(InvalidArgument) as e:
        store.scope_usage("alice", ci.info.id, within=timedelta(0))
    assert e.value.field == "within"
    with pytest.raises(InvalidArgument):
        store.scope_usage("alice", 42)


def test_scope_usage_on_postgresql_across_a_restart(pg_url, clock):
    with tokenkeep.TokenStore(pg_url, pepper=PEPPER, clock=clock) as store:
        tokens = exercise(store)
        check_usage(store, *tokens)
    with tokenkeep.TokenStore(pg_url, pepper=PEPPER, clock=clock) as store:
        check_usage(store, *tokens)
        assert store.purge(dry_run=True) == 0
