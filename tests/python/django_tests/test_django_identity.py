"""A deleted user's tokens die with the user (issue 19, item 3): bob is deleted, someone
registers a new bob; bob's old token must not let them in, nor appear on their tab."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from .answers import bearer

pytestmark = pytest.mark.django_db

PAGE = "/profile/access-tokens"
T0 = datetime(2030, 1, 1, tzinfo=UTC)  # the tk fixture's clock (tests/python/conftest.py)


@pytest.fixture
def bob(tk, django_user_model):
    return django_user_model.objects.create_user("bob", password="pw-bob")


def _tab_of(user, view: str = "") -> str:
    client = Client()
    client.force_login(user)
    r = client.get(PAGE + (f"?view={view}" if view else ""))
    assert r.status_code == 200
    return r.content.decode()


def test_a_new_account_named_like_a_deleted_user_does_not_inherit_its_tokens(
    api, tk, bob, django_user_model
):
    issued = tk.create(owner="bob", name="bobs-deploy-key", scopes={"device:read"})
    assert api.get("/api/devices", **bearer(issued.secret)).status_code == 200
    old_pk = bob.pk
    bob.delete()
    assert api.get("/api/devices", **bearer(issued.secret)).status_code == 401
    new_bob = django_user_model.objects.create_user(  # registers after the token was made
        "bob", password="pw-new-bob", date_joined=T0 + timedelta(hours=1)
    )
    answers = [
        api.get("/api/devices", **bearer(issued.secret)).status_code,
        Client().get("/plain/devices", **bearer(issued.secret)).status_code,
    ]
    assert answers == [401, 401]
    assert "bobs-deploy-key" not in _tab_of(new_bob)
    assert "bobs-deploy-key" not in _tab_of(new_bob, "inactive")  # revoked, and not theirs
    revoked = [e for e in tk.audit(owner="bob") if e.action == "revoke"]
    assert [e.actor for e in revoked] == [f"django: user deleted (pk {old_pk})"]


def test_deleting_a_user_revokes_every_live_token_in_one_audited_call(tk, bob):
    for i in range(3):
        tk.create(owner="bob", name=f"t{i}", scopes={"device"})
    kept = tk.create(owner="alice", name="alices", scopes={"device"})
    bob.delete()
    assert tk.list("bob", state="active").total == 0
    assert tk.list("alice", state="active").total == 1
    assert tk.verify(kept.secret).owner == "alice"


def test_a_token_made_before_the_account_existed_is_refused(api, tk, django_user_model):
    """Defence in depth, for a deletion Django did not signal (raw SQL, another program)."""
    issued = tk.create(owner="carl", name="old", scopes={"device:read"})
    django_user_model.objects.create_user("carl", password="pw", date_joined=T0 + timedelta(days=1))
    assert api.get("/api/devices", **bearer(issued.secret)).status_code == 401
    fresh = django_user_model.objects.create_user("dora", password="pw", date_joined=T0)
    mine = tk.create(owner=fresh.get_username(), name="new", scopes={"device:read"})
    assert api.get("/api/devices", **bearer(mine.secret)).status_code == 200


def test_the_tab_hides_tokens_older_than_the_account(tk, clock, django_user_model):
    """A token an earlier account of the name kept (its deletion was not signalled) is not
    listed, in either view; the new account's own tokens are."""
    tk.create(owner="erin", name="earlier-erins", scopes={"device"})
    erin = django_user_model.objects.create_user(
        "erin", password="pw", date_joined=T0 + timedelta(days=1)
    )
    clock.advance(timedelta(days=2))
    tk.create(owner="erin", name="erins-own", scopes={"device"})
    active, inactive = _tab_of(erin), _tab_of(erin, "inactive")
    assert "erins-own" in active
    assert "earlier-erins" not in active
    assert "earlier-erins" not in inactive
