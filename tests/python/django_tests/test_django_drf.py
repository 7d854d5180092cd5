"""tokenkeep.django with DRF: TokenAuthentication and HasScopes answer as RFC 6750 says,
exactly as the FastAPI and Flask guards (tests/python/test_guard_flask.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import tokenkeep

from .answers import INVALID, START_REQUIRED, assert_refused, bearer, body, challenge

pytestmark = pytest.mark.django_db


# -- 200 --------------------------------------------------------------------------------------


def test_valid_token_is_the_owners_user_and_the_token_info(api, reader):
    r = api.get("/api/devices", **bearer(reader.secret))
    assert r.status_code == 200
    assert r.json() == {
        "user": "alice",
        "id": reader.info.id,
        "owner": "alice",
        "name": "reader",
        "scopes": ["device:read"],
    }
    assert "WWW-Authenticate" not in r


def test_request_user_is_the_django_user_object(tk, users):
    from rest_framework.test import APIRequestFactory
    from tokenkeep.django import TokenAuthentication

    issued = tk.create(owner="alice", name="t", scopes={"device"})
    request = APIRequestFactory().get("/x", **bearer(issued.secret))
    from rest_framework.request import Request

    user, info = TokenAuthentication().authenticate(Request(request))
    assert user == users["alice"] and user.pk == users["alice"].pk
    assert isinstance(info, tokenkeep.TokenInfo) and info.id == issued.info.id


def test_any_valid_token_passes_an_empty_hasscopes(api, reader):
    assert api.get("/api/any", **bearer(reader.secret)).status_code == 200


# -- 401 without a token ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers", [{}, {"HTTP_AUTHORIZATION": ""}, {"HTTP_AUTHORIZATION": "Basic YWxpY2U6c2VjcmV0"}]
)
def test_missing_bearer_token_is_401_with_a_bare_challenge(api, tk, headers):
    r = api.get("/api/devices", **headers)
    data = assert_refused(r, 401)
    assert r["WWW-Authenticate"] == "Bearer"
    assert data == {"error_description": START_REQUIRED}


def test_drf_is_authenticated_gets_the_bearer_challenge_too(api, reader):
    r = api.get("/api/logged-in")
    assert r.status_code == 401 and r["WWW-Authenticate"] == "Bearer"
    ok = api.get("/api/logged-in", **bearer(reader.secret))
    assert ok.status_code == 200 and ok.json() == {"user": "alice"}


def test_realm_is_announced_when_configured(api, settings, tk_db, users):
    settings.TOKENKEEP = {"DB": tk_db, "REALM": "fleet api"}
    r = api.get("/api/devices")
    assert r.status_code == 401 and r["WWW-Authenticate"] == 'Bearer realm="fleet api"'
    r = api.get("/api/devices", **bearer("garbage"))
    assert challenge(r) == {
        "scheme": "Bearer",
        "realm": "fleet api",
        "error": "invalid_token",
        "error_description": "The access token is invalid",
    }


# -- 401 invalid_token ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda s: "",
        lambda s: "garbage",
        lambda s: s[:-1],
        lambda s: s[:3] + s[4:] + "A",
        lambda s: s + " x",
    ],
    ids=["empty", "garbage", "truncated", "bad-checksum", "two-words"],
)
def test_bad_token_is_401_invalid_token(api, reader, make):
    presented = make(reader.secret)
    r = api.get("/api/devices", HTTP_AUTHORIZATION=f"Bearer {presented}")
    assert assert_refused(r, 401, reader.secret) == INVALID
    assert challenge(r)["error"] == "invalid_token"


def test_expired_token_is_401_invalid_token(api, tk, users, clock):
    issued = tk.create(
        owner="alice", name="short", scopes={"device:read"}, expires_in=timedelta(hours=1)
    )
    clock.advance(timedelta(hours=1, seconds=1))
    data = assert_refused(api.get("/api/devices", **bearer(issued.secret)), 401, issued.secret)
    assert data == {"error": "invalid_token", "error_description": "The access token has expired"}


def test_revoke_is_seen_by_the_next_request(api, tk, reader):
    assert api.get("/api/devices", **bearer(reader.secret)).status_code == 200
    tk.revoke(owner="alice", token_id=reader.info.id)
    r = api.get("/api/devices", **bearer(reader.secret))
    data = assert_refused(r, 401, reader.secret)
    assert data == {
        "error": "invalid_token",
        "error_description": "The access token has been revoked",
    }


def test_scope_edit_is_seen_by_the_next_request(api, tk, reader):
    assert api.post("/api/devices", **bearer(reader.secret)).status_code == 403
    tk.update_scopes(owner="alice", token_id=reader.info.id, scopes={"device"})
    r = api.post("/api/devices", **bearer(reader.secret))
    assert r.status_code == 201 and r.json()["scopes"] == ["device"]
    tk.update_scopes(owner="alice", token_id=reader.info.id, scopes={"policy:read"})
    assert api.get("/api/devices", **bearer(reader.secret)).status_code == 403


# -- the owner -> user mapping ----------------------------------------------------------------


def test_owner_without_a_user_is_refused_as_an_invalid_token(api, tk, users):
    issued = tk.create(owner="mallory", name="t", scopes={"device"})
    assert (
        assert_refused(api.get("/api/devices", **bearer(issued.secret)), 401, issued.secret)
        == INVALID
    )


def test_inactive_user_is_refused_and_reactivation_lets_the_token_in(api, tk, users):
    issued = tk.create(owner="carol", name="t", scopes={"device"})
    assert (
        assert_refused(api.get("/api/devices", **bearer(issued.secret)), 401, issued.secret)
        == INVALID
    )
    users["carol"].is_active = True
    users["carol"].save()
    assert api.get("/api/devices", **bearer(issued.secret)).json()["user"] == "carol"


@pytest.mark.parametrize("user_setting", ["testsite.users.owner_to_user", "callable"])
def test_user_setting_maps_owners_to_users(api, settings, tk_db, users, user_setting):
    if user_setting == "callable":
        from testsite.users import owner_to_user as user_setting
    settings.TOKENKEEP = {"DB": tk_db, "USER": user_setting}
    from tokenkeep.django import get_store

    svc = get_store().create(owner="svc-alice", name="svc", scopes={"device"})
    r = api.get("/api/devices", **bearer(svc.secret))
    assert r.status_code == 200 and r.json()["user"] == "alice" and r.json()["owner"] == "svc-alice"
    plain = get_store().create(owner="alice", name="plain", scopes={"device"})
    assert assert_refused(api.get("/api/devices", **bearer(plain.secret)), 401) == INVALID
    inactive = get_store().create(owner="svc-carol", name="svc", scopes={"device"})
    assert assert_refused(api.get("/api/devices", **bearer(inactive.secret)), 401) == INVALID


# -- 403 insufficient_scope, per method --------------------------------------------------------


def test_missing_scope_is_403_insufficient_scope_with_the_required_scope(api, reader):
    r = api.post("/api/devices", **bearer(reader.secret))
    assert assert_refused(r, 403, reader.secret) == {
        "error": "insufficient_scope",
        "error_description": "The access token lacks the required scope",
        "scope": "device:write",
    }
    assert challenge(r)["error"] == "insufficient_scope" and challenge(r)["scope"] == "device:write"


def test_a_method_entry_replaces_the_positional_scopes(api, tk, users):
    writer = tk.create(owner="alice", name="writer", scopes={"device:write"})
    assert api.post("/api/devices", **bearer(writer.secret)).status_code == 201
    r = api.get("/api/devices", **bearer(writer.secret))
    assert r.status_code == 403 and r.json()["scope"] == "device:read"


def test_read_and_write_keywords_split_safe_and_unsafe_methods(api, tk, users):
    reader = tk.create(owner="alice", name="r", scopes={"policy:read"})
    writer = tk.create(owner="alice", name="w", scopes={"policy:write"})
    assert api.get("/api/policies", **bearer(reader.secret)).status_code == 200
    assert api.head("/api/policies", **bearer(reader.secret)).status_code == 200
    r = api.delete("/api/policies", **bearer(reader.secret))
    assert r.status_code == 403 and r.json()["scope"] == "policy:write"
    assert api.delete("/api/policies", **bearer(writer.secret)).status_code == 204
    assert api.get("/api/policies", **bearer(writer.secret)).json()["scope"] == "policy:read"


def test_every_required_scope_must_be_granted(api, reader):
    r = api.get("/api/both", **bearer(reader.secret))
    assert r.status_code == 403 and challenge(r)["scope"] == "device:read policy:read"


def test_hasscopes_composes_with_drf_operators(api, tk, users):
    alice = tk.create(owner="alice", name="t", scopes={"device"})
    sam = tk.create(owner="sam", name="t", scopes={"device"})
    assert api.get("/api/staff", **bearer(alice.secret)).status_code == 403  # DRF's IsAdminUser
    assert api.get("/api/staff", **bearer(sam.secret)).json()["user"] == "sam"


def test_a_session_login_is_not_a_token_for_hasscopes(tk, users):
    from rest_framework.authentication import SessionAuthentication
    from rest_framework.test import APIRequestFactory, force_authenticate
    from rest_framework.views import APIView
    from tokenkeep.django import HasScopes

    class View(APIView):
        authentication_classes = [SessionAuthentication]
        permission_classes = [HasScopes()]

    request = APIRequestFactory().get("/x")
    force_authenticate(request, user=users["alice"])
    r = View.as_view()(request)
    r.render()
    assert r.status_code == 401 and r["WWW-Authenticate"] == "Bearer"


# -- 400 and 503 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query", ["access_token={t}", "a=1&access_token={t}", "token={t}", "q={pct}"]
)
@pytest.mark.parametrize("with_header", [True, False])
def test_token_in_query_string_is_refused(api, reader, query, with_header):
    t = reader.secret
    pct = "".join(f"%{ord(c):02X}" for c in t)
    r = api.get("/api/devices?" + query.format(t=t, pct=pct), **(bearer(t) if with_header else {}))
    assert assert_refused(r, 400, t)["error"] == "invalid_request"
    assert challenge(r)["error"] == "invalid_request"


def test_two_authorization_headers_are_a_bad_request(api, reader):
    # A WSGI server joins repeated headers with a comma (PEP 3333): gunicorn and wsgiref do.
    r = api.get("/api/devices", HTTP_AUTHORIZATION=f"Bearer {reader.secret}, Bearer tk_other")
    assert assert_refused(r, 400, reader.secret)["error"] == "invalid_request"


def test_a_store_that_cannot_answer_is_503_with_retry_after(api, tk, reader):
    tk.close()  # every verification now raises StoreError, as with the database down
    r = api.get("/api/devices", **bearer(reader.secret))
    assert assert_refused(r, 503, reader.secret)["error"] == "temporarily_unavailable"
    assert r["Retry-After"] == "1" and "WWW-Authenticate" not in r


def test_a_store_that_cannot_be_opened_is_503(api, settings, tmp_path, users):
    settings.TOKENKEEP = {"DB": tmp_path / "missing-folder" / "tokens.db"}
    r = api.get("/api/devices", **bearer("tk_" + "a" * 40))
    assert assert_refused(r, 503)["error"] == "temporarily_unavailable"


# -- API shape --------------------------------------------------------------------------------


def test_hasscopes_rejects_unknown_keywords_and_reconfiguration():
    from tokenkeep.django import HasScopes

    with pytest.raises(TypeError, match="unknown keyword 'post'"):
        HasScopes("device:read", post="device:write")
    with pytest.raises(TypeError, match="already configured"):
        HasScopes("device:read")("device:write")
    assert isinstance(HasScopes("device:read")(), HasScopes)


def test_an_unknown_scope_name_is_an_error_not_a_refusal(tk, users):
    from rest_framework.test import APIRequestFactory
    from rest_framework.views import APIView
    from tokenkeep.django import HasScopes

    class View(APIView):
        permission_classes = [HasScopes("fleet:read")]

    issued = tk.create(owner="alice", name="t", scopes={"device"})
    with pytest.raises(tokenkeep.UnknownScope):
        View.as_view()(APIRequestFactory().get("/x", **bearer(issued.secret)))


def test_without_tokenkeeps_handler_answers_lack_only_no_store(tk, users, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "EXCEPTION_HANDLER": "rest_framework.views.exception_handler",
    }
    from rest_framework.test import APIClient

    r = APIClient().get("/api/devices", **bearer("garbage"))
    assert r.status_code == 401 and body(r) == INVALID
    assert challenge(r)["error"] == "invalid_token" and "Cache-Control" not in r


def test_token_user_setting_needs_no_user_row(api, settings, tk_db, db):
    settings.TOKENKEEP = {"DB": tk_db, "USER": "tokenkeep.django.TokenUser"}
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from tokenkeep.django import TokenUser, get_store

    issued = get_store().create(owner="ci-bot", name="t", scopes={"device"})
    with CaptureQueriesContext(connection) as queries:
        r = api.get("/api/devices", **bearer(issued.secret))
    assert r.status_code == 200 and r.json()["user"] == "ci-bot"
    assert len(queries) == 0
    user = TokenUser("ci-bot")
    assert user.is_authenticated and not user.is_staff and not user.has_perm("auth.add_user")
    assert user == TokenUser("ci-bot") and repr(user) == "TokenUser('ci-bot')"


def test_a_subclass_chooses_its_own_owner_to_user(tk, users):
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory
    from tokenkeep.django import TokenAuthentication, TokenUser

    class ServiceTokens(TokenAuthentication):
        owner_to_user = TokenUser

    issued = tk.create(owner="mallory", name="t", scopes={"device"})  # no Django user "mallory"
    request = Request(APIRequestFactory().get("/x", **bearer(issued.secret)))
    user, info = ServiceTokens().authenticate(request)
    assert user == TokenUser("mallory") and info.id == issued.info.id
    from tokenkeep.django import BearerFailed

    with pytest.raises(BearerFailed):  # the default mapping refuses the same token
        TokenAuthentication().authenticate(request)
