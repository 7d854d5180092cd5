"""tokenkeep.flask: the bearer-token decorator answers as RFC 6750 says, for every status."""

import re
from datetime import UTC, datetime, timedelta

import flask  # the [web] extra, installed by make setup
import pytest
import tokenkeep
from tokenkeep.flask import TokenGuard, current_token, require_scopes

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
    app = flask.Flask(__name__)
    calls = app.config["VIEW_CALLS"] = []

    def who() -> dict:
        token = flask.g.token_info
        assert current_token() is token
        calls.append(flask.request.path)
        return {
            "id": token.id,
            "owner": token.owner,
            "name": token.name,
            "scopes": sorted(token.scopes),
        }

    @app.get("/devices")
    @guard.require("device:read")
    def read_devices():
        return who()

    @app.post("/devices")
    @guard.require("device:write")
    def write_devices():
        return who()

    @app.get("/both")
    @guard.require("device:read", "policy:read")
    def both():
        return who()

    @app.get("/any")
    @guard.require()
    def any_token():
        return who()

    @app.get("/shortcut")
    @require_scopes("policy:read", store=store)
    def shortcut():
        return who()

    @app.get("/lazy/<int:item>")
    @TokenGuard(lambda: store, realm="edge").require("device:read")
    def lazy(item):
        return {**who(), "item": item}

    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def reader(store):
    return store.create(owner="alice", name="reader", scopes={"device:read"})


def bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


def challenge(response) -> dict:
    value = response.headers["WWW-Authenticate"]
    scheme, _, rest = value.partition(" ")
    params = dict(re.findall(r'(\w+)="([^"]*)"', rest))
    params["scheme"] = scheme
    return params


def assert_refused(app, response, secret: str) -> None:
    """Not echoed anywhere, JSON, and the view never ran."""
    assert secret not in response.get_data(as_text=True)
    assert all(secret not in v for _, v in response.headers.items())
    assert response.is_json
    assert app.config["VIEW_CALLS"] == []


# -- 200 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/devices", "/any"])
def test_valid_token_reaches_the_view_with_token_info_on_g(client, reader, path):
    r = client.get(path, headers=bearer(reader.secret))
    assert r.status_code == 200
    assert r.json == {
        "id": reader.info.id,
        "owner": "alice",
        "name": "reader",
        "scopes": ["device:read"],
    }
    assert "WWW-Authenticate" not in r.headers


def test_view_arguments_pass_through(client, reader):
    r = client.get("/lazy/7", headers=bearer(reader.secret))
    assert r.status_code == 200 and r.json["item"] == 7


def test_bare_scope_grants_its_actions(client, store):
    issued = store.create(owner="bob", name="full", scopes={"device", "policy"})
    for method, path in [
        ("GET", "/devices"),
        ("POST", "/devices"),
        ("GET", "/both"),
        ("GET", "/shortcut"),
    ]:
        assert client.open(path, method=method, headers=bearer(issued.secret)).status_code == 200


def test_decorator_keeps_the_view_name(app):
    assert app.view_functions["read_devices"].__name__ == "read_devices"


# -- 401 without a token -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": ""}, {"Authorization": "Basic YWxpY2U6c2VjcmV0"}]
)
def test_missing_bearer_token_is_401_with_a_bare_challenge(app, client, headers):
    r = client.get("/devices", headers=headers)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == "Bearer"
    assert "error" not in r.json and "bearer token is required" in r.json["error_description"]
    assert_refused(app, r, "Basic")


def test_realm_is_announced_when_configured(client):
    r = client.get("/lazy/1")
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == 'Bearer realm="edge"'


# -- 401 invalid_token ---------------------------------------------------------------------------


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
def test_bad_token_is_401_invalid_token(app, client, reader, make):
    presented = make(reader.secret)
    r = client.get("/devices", headers={"Authorization": f"Bearer {presented}"})
    assert r.status_code == 401
    c = challenge(r)
    assert c["scheme"] == "Bearer" and c["error"] == "invalid_token"
    assert r.json == {"error": "invalid_token", "error_description": "The access token is invalid"}
    assert_refused(app, r, reader.secret)
    if presented:
        assert_refused(app, r, presented.strip())


def test_expired_token_is_401_invalid_token(app, client, store, clock):
    issued = store.create(
        owner="alice", name="short", scopes={"device:read"}, expires_in=timedelta(hours=1)
    )
    clock.advance(timedelta(hours=1, seconds=1))
    r = client.get("/devices", headers=bearer(issued.secret))
    assert r.status_code == 401
    assert challenge(r)["error"] == "invalid_token"
    assert r.json["error_description"] == "The access token has expired"
    assert_refused(app, r, issued.secret)


def test_revoked_token_is_401_invalid_token(app, client, store, reader):
    store.revoke(owner="alice", token_id=reader.info.id)
    r = client.get("/devices", headers=bearer(reader.secret))
    assert r.status_code == 401
    assert challenge(r)["error"] == "invalid_token"
    assert r.json["error_description"] == "The access token has been revoked"
    assert_refused(app, r, reader.secret)


# -- 403 insufficient_scope ----------------------------------------------------------------------


def test_missing_scope_is_403_insufficient_scope_with_the_required_scope(app, client, reader):
    r = client.post("/devices", headers=bearer(reader.secret))
    assert r.status_code == 403
    c = challenge(r)
    assert c["error"] == "insufficient_scope" and c["scope"] == "device:write"
    assert r.json == {
        "error": "insufficient_scope",
        "error_description": "The access token lacks the required scope",
        "scope": "device:write",
    }
    assert_refused(app, r, reader.secret)


def test_every_required_scope_must_be_granted(client, reader):
    r = client.get("/both", headers=bearer(reader.secret))
    assert r.status_code == 403 and challenge(r)["scope"] == "device:read policy:read"


# -- tokens in URLs ------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["access_token={t}", "a=1&access_token={t}", "token={t}"])
def test_token_in_query_string_is_refused(app, client, reader, query):
    r = client.get("/devices?" + query.format(t=reader.secret), headers=bearer(reader.secret))
    assert r.status_code == 400
    assert challenge(r)["error"] == "invalid_request"
    assert_refused(app, r, reader.secret)


# -- API shape -----------------------------------------------------------------------------------


def test_unknown_scope_fails_when_the_view_is_decorated(store):
    with pytest.raises(tokenkeep.UnknownScope):
        TokenGuard(store).require("fleet:read")


def test_current_token_outside_a_guarded_request_is_an_error(app):
    with app.test_request_context("/"), pytest.raises(RuntimeError):
        current_token()


@pytest.mark.parametrize(
    "query",
    ["x=Bearer+{t}", "q={pct}", "q={pct2}", "{t}=1", "next=%2Fd%3Ftoken%3D{t}", "q={u}"],
)
def test_encoded_tokens_in_any_query_parameter_are_refused(app, client, reader, query):
    t = reader.secret
    pct = "".join(f"%{ord(c):02X}" for c in t)
    query = query.format(t=t, pct=pct, pct2=pct.replace("%", "%25"), u=t[:2] + "%5F" + t[3:])
    r = client.get("/devices?" + query, headers=bearer(t))
    assert r.status_code == 400, query
    assert challenge(r)["error"] == "invalid_request"
    assert_refused(app, r, t)


def test_two_authorization_headers_are_a_bad_request_not_first_wins(app, client, reader):
    headers = [("Authorization", f"Bearer {reader.secret}"), ("Authorization", "Bearer tk_other")]
    r = client.get("/devices", headers=headers)
    assert r.status_code == 400
    assert challenge(r)["error"] == "invalid_request"


def test_a_store_that_cannot_answer_is_503_not_401_or_200(app, client, reader, store):
    store.close()  # every verification now raises StoreError, as with the database down
    r = client.get("/devices", headers=bearer(reader.secret))
    assert r.status_code == 503
    assert r.headers["Retry-After"] == "1" and "WWW-Authenticate" not in r.headers
