"""tokenkeep.fastapi.oauth_router: RFC 7662 introspection and RFC 7009 revocation (the shared
checks in oauth_contract.py), plus what only this adapter or the framework-free module does."""

from __future__ import annotations

import logging
import warnings
from datetime import timedelta

import fastapi
import pytest
import tokenkeep
from oauth_contract import FORM, INTROSPECT, REVOKE, OAuthContract, Reply, form
from tokenkeep.fastapi import TokenGuard, oauth_router
from tokenkeep.web import oauth

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@pytest.fixture
def app(store):
    app = fastapi.FastAPI()
    app.include_router(oauth_router(store))
    guard = TokenGuard(store, app=app)
    any_token, policy_reader = guard.require(), guard.require("policy:read")

    @app.get("/api/devices")
    async def devices(token: tokenkeep.TokenInfo = fastapi.Depends(any_token)):
        return {"owner": token.owner}

    @app.get("/api/policies")
    async def policies(token: tokenkeep.TokenInfo = fastapi.Depends(policy_reader)):
        return {"owner": token.owner}

    return app


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


@pytest.fixture
def call(client):
    def call(path, body=b"", *, bearer=None, content_type=FORM, query="", method="POST"):
        headers = {}
        if bearer is not None:
            headers["Authorization"] = bearer if " " in bearer else "Bearer " + bearer
        if content_type is not None:
            headers["Content-Type"] = content_type
        url = path + ("?" + query if query else "")
        r = client.request(method, url, content=body, headers=headers)
        return Reply(r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.content)

    return call


class TestFastAPI(OAuthContract):
    pass


def test_guard_never_accepts_a_service_token(store, client):
    """Over many service tokens (live, some rotated), the user guard lets none through."""
    accepted = 0
    secrets = []
    for i in range(40):
        issued = store.create_service_token(f"svc-{i}")
        if i % 4 == 0:
            issued = store.rotate_service_token(issued.info.id)
        secrets.append(issued.secret)
    for s in secrets:
        for path in ("/api/devices", "/api/policies"):  # any token; a scope it lacks
            r = client.get(path, headers={"Authorization": "Bearer " + s})
            accepted += r.status_code == 200
            assert r.status_code == 401 and s not in r.text
            assert r.json()["error"] == "invalid_token"
    assert accepted == 0
    user = store.create("alice", "ci", {"device"}).secret
    assert (
        client.get("/api/devices", headers={"Authorization": "Bearer " + user}).status_code == 200
    )


def test_nothing_is_logged_with_a_token(store, client, caplog):
    svc = store.create_service_token("gateway").secret
    user = store.create("alice", "ci", {"device"}).secret
    caplog.set_level(logging.DEBUG)
    for path in (INTROSPECT, REVOKE):
        for body in (
            form(token=user),
            form(token=user, token_type_hint="refresh_token"),
            b"token=%FF",
        ):
            client.post(
                path, content=body, headers={"Authorization": "Bearer " + svc, "Content-Type": FORM}
            )
            client.post(path, content=body, headers={"Content-Type": FORM})
    text = caplog.text
    assert user not in text and svc not in text


def test_oauth_router_takes_a_store_factory_and_a_prefix(store):
    app = fastapi.FastAPI()
    app.include_router(oauth_router(lambda: store, prefix="/auth/oauth2"))
    svc = store.create_service_token("gateway").secret
    user = store.create("alice", "ci", {"device"}).secret
    with TestClient(app) as c:
        r = c.post(
            "/auth/oauth2/introspect",
            content=form(token=user),
            headers={"Authorization": "Bearer " + svc, "Content-Type": FORM},
        )
    assert r.json()["active"] is True


def test_token_that_never_expires_has_no_exp(tmp_path):
    with tokenkeep.TokenStore(str(tmp_path / "t.db"), allow_never_expire=True) as store:
        svc = store.create_service_token("gateway").secret
        user = store.create("alice", "ci", {"device:read"}, never_expires=True).secret
        answer = oauth.introspect(store, "Bearer " + svc, b"", FORM, form(token=user))
    assert answer.status == 200
    assert set(answer.json) == {"active", "scope", "username", "sub", "token_type", "iat", "jti"}
    assert answer.json["scope"] == "device:read"


def test_store_down_is_503_not_inactive(tmp_path):
    store = tokenkeep.TokenStore(str(tmp_path / "t.db"))
    svc = store.create_service_token("gateway").secret
    store.close()
    answer = oauth.introspect(store, "Bearer " + svc, b"", FORM, form(token="tk_x"))
    assert answer.status == 503 and "retry-after" in {k.lower() for k in answer.headers}


def test_expired_token_revoke_is_200_and_changes_nothing(store, call, clock):
    svc = store.create_service_token("gateway", expires_in=timedelta(days=30)).secret
    old = store.create("alice", "old", {"device"}, expires_in=timedelta(hours=1))
    clock.advance(timedelta(hours=2))
    r = call(REVOKE, form(token=old.secret), bearer=svc)
    assert (r.status, r.body) == (200, b"")
    assert [e.action for e in store.audit("alice")] == ["create"]
