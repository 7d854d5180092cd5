"""require_token on plain Django views: the same answers as DRF's class and the guards,
request.user and request.auth set, scopes per method, CSRF not in the way, async views."""

from __future__ import annotations

import asyncio

import pytest

from .answers import INVALID, START_REQUIRED, assert_refused, bearer, challenge

pytestmark = pytest.mark.django_db


def test_the_view_sees_the_owners_user_and_the_token(client, reader):
    r = client.get("/plain/devices", **bearer(reader.secret))
    assert r.status_code == 200
    assert r.json() == {
        "user": "alice",
        "id": reader.info.id,
        "owner": "alice",
        "name": "reader",
        "scopes": ["device:read"],
    }


def test_view_arguments_pass_through(client, reader):
    assert client.get("/plain/any/7", **bearer(reader.secret)).json()["item"] == 7


def test_post_needs_the_write_scope_and_no_csrf_token(tk, users, reader):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    r = client.post("/plain/devices", **bearer(reader.secret))
    assert assert_refused(r, 403, reader.secret) == {
        "error": "insufficient_scope",
        "error_description": "The access token lacks the required scope",
        "scope": "device:write",
    }
    writer = tk.create(owner="alice", name="writer", scopes={"device:write"})
    assert client.post("/plain/devices", **bearer(writer.secret)).status_code == 201


def test_missing_token_is_401_and_the_view_does_not_run(client, tk):
    r = client.get("/plain/devices")
    assert assert_refused(r, 401) == {"error_description": START_REQUIRED}
    assert r["WWW-Authenticate"] == "Bearer"


def test_bad_revoked_and_refused_owners_are_401_invalid_token(client, tk, users, reader):
    assert assert_refused(client.get("/plain/devices", **bearer("tk_nope")), 401) == INVALID
    carol = tk.create(owner="carol", name="t", scopes={"device"})  # inactive user
    assert (
        assert_refused(client.get("/plain/devices", **bearer(carol.secret)), 401, carol.secret)
        == INVALID
    )
    tk.revoke(owner="alice", token_id=reader.info.id)
    r = client.get("/plain/devices", **bearer(reader.secret))
    assert (
        assert_refused(r, 401, reader.secret)["error_description"]
        == "The access token has been revoked"
    )


def test_token_in_url_and_two_headers_are_400(client, reader):
    r = client.get("/plain/devices?access_token=" + reader.secret)
    assert challenge(r)["error"] == "invalid_request" and assert_refused(r, 400, reader.secret)
    r = client.get("/plain/devices", HTTP_AUTHORIZATION=f"Bearer {reader.secret},Bearer x")
    assert assert_refused(r, 400, reader.secret)["error"] == "invalid_request"


def test_store_error_is_503(client, tk, reader):
    tk.close()
    r = client.get("/plain/devices", **bearer(reader.secret))
    assert assert_refused(r, 503, reader.secret)["error"] == "temporarily_unavailable"
    assert r["Retry-After"] == "1"


@pytest.mark.django_db(transaction=True)  # the async view's ORM query runs in another thread
def test_async_view_is_guarded_too(tk, users):
    from django.test import AsyncClient

    policy = tk.create(owner="alice", name="p", scopes={"policy:read"})
    device = tk.create(owner="alice", name="d", scopes={"device:read"})

    async def both():
        client = AsyncClient()
        return (
            await client.get("/plain/async", headers={"Authorization": f"Bearer {policy.secret}"}),
            await client.get("/plain/async", headers={"Authorization": f"Bearer {device.secret}"}),
        )

    ok, refused = asyncio.run(both())
    assert ok.status_code == 200, ok.content
    assert ok.json()["user"] == "alice"
    assert refused.status_code == 403 and refused.json()["scope"] == "policy:read"


def test_decorator_keeps_the_view_and_marks_it_csrf_exempt():
    from testsite import views

    assert views.plain_devices.__name__ == "plain_devices"
    assert views.plain_devices.csrf_exempt is True
    assert views.plain_devices.tokenkeep_scopes.for_method("POST") == ("device:write",)


def test_unknown_keyword_is_a_type_error():
    from tokenkeep.django import require_token

    with pytest.raises(TypeError, match="unknown keyword 'Get'"):
        require_token(Get="device:read")
