"""Service tokens (store.create_service_token, `tokenkeep service`): kept apart from users'
tokens, and listed, revoked, rotated and audited like them, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest
import tokenkeep
from tokenkeep.service_tokens import SERVICE_OWNER, is_service_token

PEPPER = "ab" * 32


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def st(request, tmp_path, clock):
    """A store on each backend (PostgreSQL: a fresh schema from the pg_url fixture)."""
    where = (
        str(tmp_path / "svc.db") if request.param == "sqlite" else request.getfixturevalue("pg_url")
    )
    with tokenkeep.TokenStore(where, clock=clock, pepper=PEPPER) as s:
        yield s


def test_created_listed_rotated_revoked_and_audited(st, clock):
    kong = st.create_service_token("kong", actor="ops")
    clock.advance(timedelta(seconds=1))
    envoy = st.create_service_token("envoy")
    assert kong.info.owner == SERVICE_OWNER and is_service_token(kong.info)
    assert "secret=<hidden>" in repr(kong) and kong.secret not in repr(kong)
    assert [t.name for t in st.list_service_tokens()] == ["envoy", "kong"]
    assert st.verify_service_token(kong.secret).id == kong.info.id
    fresh = st.rotate_service_token(kong.info.id)
    with pytest.raises(tokenkeep.RevokedToken):
        st.verify_service_token(kong.secret)
    st.revoke_service_token(envoy.info.id, actor="ops")
    assert [t.name for t in st.list_service_tokens()] == ["kong"]
    assert st.get_service_token(fresh.info.id).name == "kong"
    with pytest.raises(tokenkeep.NotFound):
        st.get_service_token(envoy.info.id)
    with pytest.raises(tokenkeep.NotFound):
        st.revoke_service_token(envoy.info.id)
    actions = [(e.action, e.name, e.actor) for e in st.service_audit()]
    assert ("revoke", "envoy", "ops") in actions and ("create", "kong", "ops") in actions
    assert "rotate" in [a for a, _, _ in actions]
    text = repr(st.service_audit()) + repr(st.audit(limit=100))
    assert kong.secret not in text and fresh.secret not in text


def test_names_are_unique_among_live_service_tokens(st):
    first = st.create_service_token("kong")
    with pytest.raises(tokenkeep.NameTaken):
        st.create_service_token("kong")
    st.revoke_service_token(first.info.id)
    st.create_service_token("kong")
    st.create("alice", "kong", {"device"})  # a user's name is another namespace


def test_user_api_refuses_the_reserved_owners(st):
    svc = st.create_service_token("kong")
    calls = [
        lambda o: st.create(o, "x", {"device"}),
        lambda o: st.create_many(o, [("x", {"device"})]),
        lambda o: st.create_problems(o, "x", {"device"}),
        lambda o: st.list(o),
        lambda o: st.get(o, svc.info.id),
        lambda o: st.update_scopes(o, svc.info.id, {"device"}),
        lambda o: st.update_description(o, svc.info.id, "x"),
        lambda o: st.revoke(o, svc.info.id),
        lambda o: st.revoke_many(o, [svc.info.id]),
        lambda o: st.rotate(o, svc.info.id),
        lambda o: st.audit(o),
        lambda o: st.expiring_within(timedelta(days=90), o),
    ]
    refused = 0
    for owner in (SERVICE_OWNER, "tokenkeep:other"):
        for call in calls:
            with pytest.raises(tokenkeep.InvalidArgument) as e:
                call(owner)
            assert e.value.field == "owner"
            refused += 1
    assert refused == 2 * len(calls)
    assert [t.id for t in st.list_service_tokens()] == [svc.info.id]  # untouched


def test_a_users_id_is_not_a_service_token(st):
    user = st.create("alice", "ci", {"device"})
    with pytest.raises(tokenkeep.NotFound):
        st.get_service_token(user.info.id)
    with pytest.raises(tokenkeep.NotFound):
        st.revoke_service_token(user.info.id)
    with pytest.raises(tokenkeep.InvalidToken) as e:
        st.verify_service_token(user.secret)
    assert str(e.value) == "invalid token" and user.secret not in str(e.value)
    assert st.list("alice")[0].revoked_at is None


def test_users_listings_never_hold_service_tokens(st):
    st.create_service_token("kong")
    st.create("alice", "ci", {"device"})
    assert [t.owner for t in st.list("alice")] == ["alice"]
    # An administrator's view of everything shows it, under its reserved owner.
    owners = sorted(t.owner for t in st.list(all_owners=True))
    assert owners == ["alice", SERVICE_OWNER]


def test_service_token_holds_the_narrowest_grant(tmp_path):
    with tokenkeep.TokenStore(str(tmp_path / "v.db"), vocabulary=["fleet:admin,read"]) as s:
        assert s.create_service_token("kong").info.scopes == frozenset({"fleet:admin"})


# -- the command line -------------------------------------------------------------------------


def _tk(db, *args, input=""):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENKEEP_")}
    return subprocess.run(
        [sys.executable, "-m", "tokenkeep", "--db", db, *args],
        input=input,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_cli_service_create_list_revoke(tmp_path):
    db = str(tmp_path / "cli.db")
    made = _tk(db, "service", "create", "kong")
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip()
    assert secret.startswith("tk_") and "\n" not in secret  # stdout holds the secret alone
    assert secret not in made.stderr and "kong" in made.stderr
    listed = _tk(db, "service", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [(r["name"], r["owner"]) for r in rows] == [("kong", SERVICE_OWNER)]
    assert secret not in listed.stdout
    # Not a user's token: `list` and `revoke` of the OS user do not see it.
    assert json.loads(_tk(db, "list", "--json").stdout) == []
    assert _tk(db, "revoke", rows[0]["id"], "--yes").returncode != 0
    refused = _tk(db, "service", "revoke", rows[0]["id"])  # no terminal to confirm on
    assert refused.returncode != 0 and "--yes" in refused.stderr
    gone = _tk(db, "service", "revoke", rows[0]["id"], "--yes")
    assert gone.returncode == 0, gone.stderr
    assert json.loads(_tk(db, "service", "list", "--json").stdout) == []
    with tokenkeep.TokenStore(db) as store:
        assert [e.action for e in store.service_audit()] == ["revoke", "create"]


def test_cli_service_create_json_and_reserved_owner(tmp_path):
    db = str(tmp_path / "cli.db")
    made = _tk(db, "service", "create", "envoy", "--expires-in", "90d", "--json")
    assert made.returncode == 0, made.stderr
    out = json.loads(made.stdout)
    assert out["token"]["owner"] == SERVICE_OWNER and out["secret"].startswith("tk_")
    direct = _tk(db, "--owner", SERVICE_OWNER, "create", "-n", "x", "-s", "device")
    assert direct.returncode != 0 and "reserved" in direct.stderr


def test_the_flask_guard_never_accepts_a_service_token(tmp_path):
    import flask
    from tokenkeep.flask import TokenGuard

    with tokenkeep.TokenStore(str(tmp_path / "f.db")) as store:
        guard = TokenGuard(store)
        app = flask.Flask(__name__)

        @app.get("/any")
        @guard.require()
        def any_token():
            return {"owner": flask.g.token_info.owner}

        @app.get("/devices")
        @guard.require("device:read")
        def devices():
            return {"owner": flask.g.token_info.owner}

        client = app.test_client()
        accepted = 0
        for i in range(20):
            secret = store.create_service_token(f"svc-{i}").secret
            for path in ("/any", "/devices"):
                r = client.get(path, headers={"Authorization": "Bearer " + secret})
                accepted += r.status_code == 200
                assert r.status_code == 401 and r.json["error"] == "invalid_token"
        assert accepted == 0
        user = store.create("alice", "ci", {"device:read"}).secret
        assert (
            client.get("/devices", headers={"Authorization": "Bearer " + user}).status_code == 200
        )


def test_cli_serve_api_takes_no_user(tmp_path):
    r = _tk(str(tmp_path / "cli.db"), "serve", "--api", "--user", "alice", "--port", "1")
    assert r.returncode == 2 and "--api serves no page" in r.stderr
