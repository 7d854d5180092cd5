"""store.rotate: the same name and scopes under a new secret, keeping the expiry unless a new
one is given (with create's rules and fields)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tokenkeep import InvalidArgument, RevokedToken

from conftest import T0


def test_rotate_keeps_the_expiry_by_default(store, clock):
    old = store.create("alice", "ci", {"device:read"}, expires_in=timedelta(days=3))
    clock.advance(timedelta(days=1))
    new = store.rotate("alice", old.info.id)
    assert new.info.expires_at == old.info.expires_at == T0 + timedelta(days=3)
    assert (new.info.name, new.info.scopes) == ("ci", {"device:read"})
    with pytest.raises(RevokedToken):
        store.verify(old.secret)


def test_rotate_with_a_new_lifetime_renews_it(store, clock):
    old = store.create("alice", "ci", {"device"}, expires_in=timedelta(days=3))
    clock.advance(timedelta(days=2))
    new = store.rotate("alice", old.info.id, expires_in=timedelta(days=30))
    assert new.info.expires_at == T0 + timedelta(days=32)
    assert store.verify(new.secret).expires_at == T0 + timedelta(days=32)


def test_a_refused_new_expiry_changes_nothing(store):
    old = store.create("alice", "ci", {"device"})
    with pytest.raises(InvalidArgument) as e:
        store.rotate("alice", old.info.id, expires_in=timedelta(days=4000))
    assert e.value.field == "expires_in"
    assert store.verify(old.secret).id == old.info.id  # not revoked
    assert [t.id for t in store.list("alice")] == [old.info.id]
