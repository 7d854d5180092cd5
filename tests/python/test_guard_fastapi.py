"""tokenkeep.fastapi: the bearer-token dependency answers as RFC 6750 says, for every status."""

import re
import warnings
from datetime import UTC, datetime, timedelta

import fastapi  # the [web] extra, installed by make setup
import pytest
import tokenkeep

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's TestClient may warn about httpx
    from fastapi.testclient import TestClient

from tokenkeep.fastapi import BearerHTTPException, TokenGuard, require_scopes

START = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture
def clock():
    return tokenkeep.ManualClock(START)


@pytest.fixture
def store(tmp_path, clock):
    with tokenkeep.TokenStore(str(tmp_path / "tokens.db"), clock=clock) as s:
        yield s


@pytest.fixture
def app(store):
    guard = TokenGuard(store)
    app = fastapi.FastAPI()

    def who(token: tokenkeep.TokenInfo) -> dict:
        return {
            "id": token.id,
            "owner": token.owner,
            "name": token.name,
            "scopes": sorted(token.scopes),
        }

    @app.get("/devices")
    async def read_devices(
        token: tokenkeep.TokenInfo = fastapi.Depends(guard.require("device:read")),
    ):
        return who(token)

    @app.post("/devices")
    async def write_devices(
        token: tokenkeep.TokenInfo = fastapi.Depends(guard.require("device:write")),
    ):
        return who(token)

    @app.get("/both")
    async def both(
        token: tokenkeep.TokenInfo = fastapi.Depends(guard.require("device:read policy:read")),
    ):
        return who(token)

    @app.get("/any")
    def any_token(token: tokenkeep.TokenInfo = fastapi.Depends(guard.require())):  # a sync handler
        return who(token)

    @app.get("/threadpool")
    async def threadpool(
        token: tokenkeep.TokenInfo = fastapi.Depends(
            TokenGuard(store, threadpool=True).require("device:read")
        ),
    ):
        return who(token)

    @app.get("/shortcut")
    async def shortcut(
        token: tokenkeep.TokenInfo = fastapi.Depends(require_scopes("policy:read", store=store)),
    ):
        return who(token)

    @app.get("/lazy")
    async def lazy(
        token: tokenkeep.TokenInfo = fastapi.Depends(
            TokenGuard(lambda: store).require("device:read")
        ),
    ):
        return who(token)

    @app.get("/realm")
    async def realm(
        token: tokenkeep.TokenInfo = fastapi.Depends(
            TokenGuard(store, realm="edge").require("device:read")
        ),
    ):
        return who(token)

    return app


@pytest.fixture
def client(app):
    return TestClient(app)


@pytest.fixture
def reader(store):
    return store.create(owner="alice", name="reader", scopes={"device:read"})


def bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


def challenge(response) -> dict:
    """The WWW-Authenticate header as {param: value}, with the scheme under "scheme"."""
    value = response.headers["www-authenticate"]
    scheme, _, rest = value.partition(" ")
    params = dict(re.findall(r'(\w+)="([^"]*)"', rest))
    params["scheme"] = scheme
    return params


def assert_not_echoed(response, secret: str) -> None:
    assert secret not in response.text
    assert all(secret not in v for v in response.headers.values())


# -- 200 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/devices", "/threadpool", "/lazy", "/realm", "/any"])
def test_valid_token_reaches_the_handler_with_its_token_info(client, reader, path):
    r = client.get(path, headers=bearer(reader.secret))
    assert r.status_code == 200
    assert r.json() == {
        "id": reader.info.id,
        "owner": "alice",
        "name": "reader",
        "scopes": ["device:read"],
    }
    assert "www-authenticate" not in r.headers


def test_bare_scope_grants_its_actions(client, store):
    issued = store.create(owner="bob", name="full", scopes={"device", "policy"})
    for method, path in [
        ("GET", "/devices"),
        ("POST", "/devices"),
        ("GET", "/both"),
        ("GET", "/shortcut"),
    ]:
        assert client.request(method, path, headers=bearer(issued.secret)).status_code == 200


def test_scheme_name_is_case_insensitive_and_blanks_are_tolerated(client, reader):
    assert (
        client.get("/devices", headers={"Authorization": f"bearer   {reader.secret} "}).status_code
        == 200
    )
    assert (
        client.get("/devices", headers={"Authorization": f"BEARER {reader.secret}"}).status_code
        == 200
    )


# -- 401 without a token -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": ""}, {"Authorization": "Basic YWxpY2U6c2VjcmV0"}]
)
def test_missing_bearer_token_is_401_with_a_bare_challenge(client, headers):
    r = client.get("/devices", headers=headers)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"  # RFC 6750 §3.1: no error code without a token
    assert r.headers["content-type"].startswith("application/json")
    assert "error" not in r.json()
    assert "bearer token is required" in r.json()["error_description"]


def test_realm_is_announced_when_configured(client):
    r = client.get("/realm")
    assert r.status_code == 401 and r.headers["www-authenticate"] == 'Bearer realm="edge"'


# -- 401 invalid_token ---------------------------------------------------------------------------


def _wrong_secret(secret: str) -> str:
    # Same id and checksum shape, different secret: flips one body character, so the
    # checksum no longer matches (bad checksum) — and a well-formed unknown token.
    body = secret[3:]
    return "tk_" + ("A" if body[0] != "A" else "B") + body[1:]


@pytest.mark.parametrize(
    "make",
    [
        lambda s: "",  # "Bearer " and nothing
        lambda s: "garbage",
        lambda s: s[:-1],  # truncated
        lambda s: _wrong_secret(s),  # bad checksum
        lambda s: s + "x",
        lambda s: s + " trailing-junk",
        lambda s: "tk_" + "a" * 5000,  # huge
    ],
    ids=["empty", "garbage", "truncated", "bad-checksum", "too-long", "two-words", "huge"],
)
def test_bad_token_is_401_invalid_token(client, reader, make):
    presented = make(reader.secret)
    r = client.get("/devices", headers={"Authorization": f"Bearer {presented}"})
    assert r.status_code == 401
    c = challenge(r)
    assert c["scheme"] == "Bearer" and c["error"] == "invalid_token"
    assert r.json() == {
        "error": "invalid_token",
        "error_description": "The access token is invalid",
    }
    if presented:
        assert_not_echoed(r, presented.strip())
    assert_not_echoed(r, reader.secret)


def test_unknown_but_well_formed_token_is_401(client, store, tmp_path):
    with tokenkeep.TokenStore(str(tmp_path / "other.db")) as other:
        foreign = other.create(owner="alice", name="elsewhere", scopes={"device"}).secret
    r = client.get("/devices", headers=bearer(foreign))
    assert r.status_code == 401 and challenge(r)["error"] == "invalid_token"
    assert_not_echoed(r, foreign)


def test_expired_token_is_401_invalid_token(client, store, clock):
    issued = store.create(
        owner="alice", name="short", scopes={"device:read"}, expires_in=timedelta(days=1)
    )
    assert client.get("/devices", headers=bearer(issued.secret)).status_code == 200
    clock.advance(timedelta(days=1, seconds=1))
    r = client.get("/devices", headers=bearer(issued.secret))
    assert r.status_code == 401
    assert challenge(r)["error"] == "invalid_token"
    assert r.json()["error_description"] == "The access token has expired"
    assert_not_echoed(r, issued.secret)


def test_revoked_token_is_401_invalid_token(client, store, reader):
    store.revoke(owner="alice", token_id=reader.info.id)
    r = client.get("/devices", headers=bearer(reader.secret))
    assert r.status_code == 401
    assert challenge(r)["error"] == "invalid_token"
    assert r.json()["error_description"] == "The access token has been revoked"
    assert_not_echoed(r, reader.secret)


# -- 403 insufficient_scope ----------------------------------------------------------------------


def test_missing_scope_is_403_insufficient_scope_with_the_required_scope(client, reader):
    r = client.post("/devices", headers=bearer(reader.secret))
    assert r.status_code == 403
    c = challenge(r)
    assert (
        c["scheme"] == "Bearer"
        and c["error"] == "insufficient_scope"
        and c["scope"] == "device:write"
    )
    assert r.json()["error"] == "insufficient_scope"
    assert r.json()["scope"] == "device:write"
    assert_not_echoed(r, reader.secret)


def test_every_required_scope_must_be_granted(client, reader):
    r = client.get("/both", headers=bearer(reader.secret))
    assert r.status_code == 403
    assert challenge(r)["scope"] == "device:read policy:read"


def test_scope_edit_is_seen_by_the_next_request(client, store, reader):
    assert client.post("/devices", headers=bearer(reader.secret)).status_code == 403
    store.update_scopes(owner="alice", token_id=reader.info.id, scopes={"device:write"})
    assert client.post("/devices", headers=bearer(reader.secret)).status_code == 200
    assert client.get("/devices", headers=bearer(reader.secret)).status_code == 403


# -- tokens in URLs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query", ["access_token={t}", "page=2&access_token={t}", "ACCESS_TOKEN={t}", "key={t}"]
)
def test_token_in_query_string_is_refused_even_with_a_good_header(client, reader, query):
    r = client.get("/devices?" + query.format(t=reader.secret), headers=bearer(reader.secret))
    assert r.status_code == 400
    c = challenge(r)
    assert c["error"] == "invalid_request"
    assert "not accepted in the URL" in r.json()["error_description"]
    assert_not_echoed(r, reader.secret)


def test_harmless_query_strings_pass(client, reader):
    r = client.get("/devices?page=2&name=tk_short&token_type=bearer", headers=bearer(reader.secret))
    assert r.status_code == 200


# -- API shape -----------------------------------------------------------------------------------


def test_unknown_scope_fails_when_the_route_is_declared(store):
    with pytest.raises(tokenkeep.UnknownScope):
        TokenGuard(store).require("devices:read")


def test_guard_raises_a_fastapi_http_exception_with_the_rfc_6750_code(client):
    assert issubclass(BearerHTTPException, fastapi.HTTPException)


def test_openapi_declares_the_bearer_scheme(app):
    spec = app.openapi()
    assert spec["components"]["securitySchemes"]["tokenkeep"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "tokenkeep personal access token",
    }
    assert spec["paths"]["/devices"]["get"]["security"] == [{"tokenkeep": []}]


def test_guard_rejects_a_non_store():
    with pytest.raises(TypeError):
        TokenGuard("tokens.db")


def _encoded_queries(t: str) -> list:
    pct = "".join(f"%{ord(c):02X}" for c in t)
    return [
        f"x=Bearer+{t}",  # '+' decodes to a space
        f"x=Bearer%20{t}",
        f"q={pct}",  # every character percent-encoded
        f"q={t[:2]}%5F{t[3:]}",  # only the underscore encoded
        f"q={pct.replace('%', '%25')}",  # encoded twice
        f"{t}=1",  # in a key
        f"next=%2Fdevices%3Ftoken%3D{t}",  # inside an encoded URL
    ]


@pytest.mark.parametrize("index", range(7))
def test_encoded_tokens_in_any_query_parameter_are_refused(client, reader, index):
    query = _encoded_queries(reader.secret)[index]
    r = client.get("/devices?" + query, headers=bearer(reader.secret))
    assert r.status_code == 400, query
    assert challenge(r)["error"] == "invalid_request"
    assert_not_echoed(r, reader.secret)


def test_two_authorization_headers_are_a_bad_request_not_first_wins(client, reader):
    headers = [("Authorization", f"Bearer {reader.secret}"), ("Authorization", "Bearer tk_other")]
    r = client.get("/devices", headers=headers)
    assert r.status_code == 400
    assert challenge(r)["error"] == "invalid_request"
    assert "one Authorization header" in r.json()["error_description"]
    assert_not_echoed(r, reader.secret)


def test_a_store_that_cannot_answer_is_503_not_401_or_200(client, reader, store):
    store.close()  # every verification now raises StoreError, as with the database down
    r = client.get("/devices", headers=bearer(reader.secret))
    assert r.status_code == 503
    assert r.headers["retry-after"] == "1" and "www-authenticate" not in r.headers
    assert_not_echoed(r, reader.secret)
