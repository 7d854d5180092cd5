"""The Access Token page over HTTP (no browser): CSRF, caching, escaping, messages, isolation.

The browser walk-through is in test_admin_browser.py; these run in milliseconds.
"""

import html
import logging
import re
import warnings
from datetime import UTC, datetime, timedelta

import fastapi
import pytest
import tokenkeep

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from tokenkeep.web import admin
from tokenkeep.web.admin import create_app
from tokenkeep.web.security import SecurityMiddleware

HOSTILE = "<img src=x onerror=alert(1)>"
START = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
BASE = "http://127.0.0.1:8000"
CLOCK_START = START  # the conftest's clock and store fixtures start the page's clock here


def user_from_header(request):
    """Stands in for a host application's session: the user is whoever X-User says."""
    return request.headers.get("x-user")


@pytest.fixture
def app(store):
    return create_app(store, current_user=user_from_header)


def browser(app, user="alice"):
    c = TestClient(app, base_url=BASE, follow_redirects=False)
    c.headers["X-User"] = user
    return c


@pytest.fixture
def alice(app):
    return browser(app, "alice")


def csrf_of(response) -> str:
    return re.search(r'name="csrf_token" value="([0-9a-f]+)"', response.text).group(1)


def new_token_of(response) -> str:
    return html.unescape(
        re.search(r'<code id="new-token" class="secret"[^>]*>([^<]+)</code>', response.text).group(
            1
        )
    )


def form_error_of(response) -> str:
    """The dialog's summary line."""
    m = re.search(
        r'class="form-error" role="alert"[^>]*>.*?<span>(.*?)</span>', response.text, re.DOTALL
    )
    return html.unescape(m.group(1)) if m else ""


def field_errors_of(response) -> dict:
    """Each control's message by the id of its error element ("token-name-error", ...)."""
    found = re.findall(
        r'<p class="field-error" id="([^"]+)">.*?<span>(.*?)</span></p>', response.text, re.DOTALL
    )
    return {k: html.unescape(v) for k, v in found}


def create(client, name="ci-deploy", scopes=("device",), expiry="30", **extra):
    token = csrf_of(client.get("/profile/access-tokens"))
    data = {"csrf_token": token, "name": name, "scopes": list(scopes), "expiry": expiry, **extra}
    return client.post("/profile/access-tokens", data=data)


# -- the page --------------------------------------------------------------------------------


def test_root_redirects_to_the_access_token_tab(alice):
    r = alice.get("/")
    assert r.status_code == 303 and r.headers["location"] == "/profile/access-tokens"
    page = alice.get("/profile/access-tokens")
    assert page.status_code == 200
    assert "User Profile" in page.text and 'aria-current="page">Access Token</a>' in page.text
    assert "You have no access tokens yet." in page.text


def test_profile_tab(alice, store):
    store.create(owner="alice", name="a", scopes={"device"})
    r = alice.get("/profile")
    assert r.status_code == 200 and ">1</a>" in r.text


def test_pages_are_no_store_and_carry_security_headers(alice):
    r = alice.get("/profile/access-tokens")
    assert r.headers["cache-control"].startswith("no-store")
    csp = r.headers["content-security-policy"]
    assert (
        "script-src 'self'" in csp
        and "frame-ancestors 'none'" in csp
        and "unsafe-inline" not in csp
    )
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in r.text  # no inline script: the CSP would block it anyway


def test_csrf_cookie_is_httponly_and_samesite(alice):
    cookie = alice.get("/profile/access-tokens").headers["set-cookie"]
    assert cookie.startswith("tokenkeep_csrf=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie


def test_static_files_are_served_and_cacheable(alice):
    for name in ("admin.css", "admin.js", "favicon.svg"):
        r = alice.get(f"/static/{name}")
        assert r.status_code == 200 and "no-store" not in r.headers.get("cache-control", "")


def test_nobody_signed_in_is_401(app):
    r = TestClient(app, base_url=BASE).get("/profile/access-tokens")
    assert r.status_code == 401 and "Not signed in" in r.text


# -- create and the secret -------------------------------------------------------------------


def test_create_shows_the_secret_once_with_no_store(alice, store):
    r = create(alice, scopes=["device", "policy:read"], expiry="60")
    assert r.status_code == 200
    assert r.headers["cache-control"].startswith("no-store")
    assert "Access token created successfully" in r.text
    assert "cannot be viewed again" in r.text
    secret = new_token_of(r)
    assert r.text.count(secret) == 1
    info = store.verify(secret, "device:write", "policy:read")
    assert info.owner == "alice" and info.expires_at == START + timedelta(days=60)

    listing = alice.get("/profile/access-tokens")
    assert secret not in listing.text
    assert secret[:12] not in listing.text  # not even a prefix of it
    assert "ci-deploy" in listing.text and "Policy (read)" in listing.text
    assert "Jan 1, 2030" in listing.text and "Mar 2, 2030" in listing.text


def test_secret_never_reaches_logs(alice, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    secret = new_token_of(create(alice))
    assert "access token created" in caplog.text
    assert secret not in caplog.text
    out, err = capsys.readouterr()
    assert secret not in out and secret not in err


def test_bare_scope_absorbs_its_actions(alice, store):
    secret = new_token_of(create(alice, scopes=["device", "device:read", "device:write"]))
    assert store.verify(secret).scopes == {"device"}


def test_custom_expiry_date(alice, store):
    secret = new_token_of(create(alice, expiry="custom", expires_on="2030-06-30"))
    assert store.verify(secret).expires_at == datetime(2030, 6, 30, 23, 59, 59, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kwargs", "control", "message"),
    [
        ({"scopes": []}, "create-scope-error", "At least one scope is required."),
        ({"name": "   "}, "token-name-error", "A token name must not be empty."),
        ({"name": "x" * 101}, "token-name-error", "A token name must be at most 100 characters."),
        (
            {"name": "bad\x01name"},
            "token-name-error",
            "A token name must not contain control characters.",
        ),
        (
            {"name": "bad\x85name"},
            "token-name-error",
            "A token name must not contain control characters.",
        ),
        ({"scopes": ["fleet"]}, "create-scope-error", "One of the selected scopes does not exist."),
        ({"expiry": "9999"}, "token-expiry-error", "Choose when the token expires."),
        (
            {"expiry": "custom", "expires_on": ""},
            "token-expiry-error",
            "Choose an expiration date.",
        ),
        (
            {"expiry": "custom", "expires_on": "2029-12-31"},
            "token-expiry-error",
            "The expiration date must be in the future.",
        ),
        (
            {"expiry": "custom", "expires_on": "2032-01-01"},
            "token-expiry-error",
            "The expiry exceeds this store's max_lifetime of 365 days.",
        ),
    ],
)
def test_create_errors_come_back_tied_to_their_field(alice, store, kwargs, control, message):
    r = create(alice, **kwargs)
    assert r.status_code == 400
    assert field_errors_of(r) == {control: message}
    assert form_error_of(r) == "Correct the field marked below."
    field_id = control[: -len("-error")]
    tag = re.search(
        rf'<[^>]*(?:id="{field_id}"|aria-labelledby="{field_id}-label")[^>]*>', r.text
    ).group(0)
    assert 'aria-invalid="true"' in tag and control in tag  # aria-describedby names the message
    assert 'id="create-dialog"' in r.text and "data-autoshow" in r.text
    assert 'id="new-token"' not in r.text
    assert store.list(owner="alice") == []


def test_every_create_error_is_shown_at_once(alice, store):
    r = create(alice, name="  ", scopes=[], expiry="custom", expires_on="")
    assert r.status_code == 400
    assert set(field_errors_of(r)) == {
        "token-name-error",
        "create-scope-error",
        "token-expiry-error",
    }
    assert form_error_of(r) == "Correct the 3 fields marked below."
    assert r.text.count('aria-invalid="true"') >= 3


def test_duplicate_name_is_409_with_a_clear_message(alice, store):
    create(alice, name="ci-deploy")
    r = create(alice, name="  ci-deploy ", scopes=["policy"])
    assert r.status_code == 409
    assert field_errors_of(r) == {
        "token-name-error": "You already have an access token named “ci-deploy”. "
        "Choose another name."
    }
    assert len(store.list(owner="alice")) == 1


def test_hostile_name_is_escaped_everywhere(alice, store):
    r = create(alice, name=HOSTILE)
    assert HOSTILE not in r.text and html.escape(HOSTILE, quote=False) in r.text
    listing = alice.get("/profile/access-tokens")
    assert HOSTILE not in listing.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in listing.text
    again = create(alice, name=HOSTILE)  # the duplicate message and the refilled input
    assert again.status_code == 409 and HOSTILE not in again.text
    assert store.list(owner="alice")[0].name == HOSTILE


# -- CSRF ------------------------------------------------------------------------------------


def _post_create(client, token, headers=None):
    data = {"name": "n", "scopes": ["device"], "expiry": "30"}
    if token is not None:
        data["csrf_token"] = token
    return client.post("/profile/access-tokens", data=data, headers=headers or {})


def test_csrf_missing_or_wrong_token_is_refused(alice, store):
    alice.get("/profile/access-tokens")
    assert _post_create(alice, None).status_code == 403
    assert _post_create(alice, "0" * 64).status_code == 403
    assert store.list(owner="alice") == []


def test_csrf_token_without_its_cookie_is_refused(app, alice, store):
    token = csrf_of(alice.get("/profile/access-tokens"))
    stranger = browser(app, "alice")  # same user, another browser: no cookie
    r = _post_create(stranger, token)
    assert r.status_code == 403 and "This form has expired" in r.text
    assert store.list(owner="alice") == []


def test_csrf_token_is_bound_to_the_user(app, alice, store):
    token = csrf_of(alice.get("/profile/access-tokens"))
    alice.headers["X-User"] = "mallory"  # same cookie jar, another signed-in user
    assert _post_create(alice, token).status_code == 403
    assert store.list(owner="mallory") == []


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
    ],
)
def test_cross_site_posts_are_refused_even_with_a_valid_token(alice, store, headers):
    token = csrf_of(alice.get("/profile/access-tokens"))
    assert _post_create(alice, token, headers).status_code == 403
    assert store.list(owner="alice") == []


def test_same_origin_post_with_fetch_metadata_passes(alice):
    token = csrf_of(alice.get("/profile/access-tokens"))
    headers = {"Sec-Fetch-Site": "same-origin", "Origin": BASE}
    assert _post_create(alice, token, headers).status_code == 200


def test_edit_and_revoke_need_csrf_too(alice, store):
    info = store.create(owner="alice", name="t", scopes={"device"}).info
    r = alice.post(f"/profile/access-tokens/{info.id}/scopes", data={"scopes": ["policy"]})
    assert r.status_code == 403
    r = alice.post(f"/profile/access-tokens/{info.id}/revoke", data={"csrf_token": "nope"})
    assert r.status_code == 403
    assert store.get(owner="alice", token_id=info.id).scopes == {"device"}


# -- edit and revoke -------------------------------------------------------------------------


def test_edit_changes_only_the_scope_then_confirms(alice, store):
    issued = store.create(owner="alice", name="t", scopes={"device"})
    token = csrf_of(alice.get("/profile/access-tokens"))
    r = alice.post(
        f"/profile/access-tokens/{issued.info.id}/scopes",
        data={"csrf_token": token, "scopes": ["policy:read", "collection"], "name": "renamed"},
    )
    assert (
        r.status_code == 303
        and r.headers["location"] == f"/profile/access-tokens?updated={issued.info.id}"
    )
    page = alice.get(r.headers["location"])
    assert "Access token updated successfully" in page.text and 'id="updated-dialog"' in page.text
    info = store.get(owner="alice", token_id=issued.info.id)
    assert info.scopes == {"policy:read", "collection"} and info.name == "t"
    assert store.check(issued.secret, "collection:write") and not store.check(
        issued.secret, "device:read"
    )


def test_edit_without_scope_keeps_the_dialog_open_with_a_message(alice, store):
    info = store.create(owner="alice", name="t", scopes={"device"}).info
    token = csrf_of(alice.get("/profile/access-tokens"))
    r = alice.post(f"/profile/access-tokens/{info.id}/scopes", data={"csrf_token": token})
    assert r.status_code == 400
    assert field_errors_of(r) == {"edit-scope-error": "At least one scope is required."}
    assert (
        'id="edit-dialog"' in r.text
        and f'action="/profile/access-tokens/{info.id}/scopes"' in r.text
    )
    assert store.get(owner="alice", token_id=info.id).scopes == {"device"}


def test_revoke_then_the_secret_is_refused(alice, store):
    issued = store.create(owner="alice", name="t", scopes={"device"})
    token = csrf_of(alice.get("/profile/access-tokens"))
    r = alice.post(f"/profile/access-tokens/{issued.info.id}/revoke", data={"csrf_token": token})
    assert (
        r.status_code == 303
        and r.headers["location"] == f"/profile/access-tokens?revoked={issued.info.id}"
    )
    assert "The access token \u201ct\u201d was revoked." in alice.get(r.headers["location"]).text
    with pytest.raises(tokenkeep.RevokedToken):
        store.verify(issued.secret)
    again = alice.post(
        f"/profile/access-tokens/{issued.info.id}/revoke", data={"csrf_token": token}
    )
    assert again.status_code == 404 and "no longer exists" in again.text


def test_users_see_and_change_only_their_own_tokens(app, store):
    mine = store.create(owner="alice", name="alice-token", scopes={"device"})
    bob = browser(app, "bob")
    listing = bob.get("/profile/access-tokens")
    assert "alice-token" not in listing.text
    token = csrf_of(listing)
    r = bob.post(f"/profile/access-tokens/{mine.info.id}/revoke", data={"csrf_token": token})
    assert r.status_code == 404
    r = bob.post(
        f"/profile/access-tokens/{mine.info.id}/scopes",
        data={"csrf_token": token, "scopes": ["policy"]},
    )
    assert r.status_code == 404
    assert store.verify(mine.secret, "device:write").scopes == {"device"}


def test_expired_and_expiring_tokens_are_marked(alice, store, clock):
    store.create(owner="alice", name="old", scopes={"device"}, expires_in=timedelta(days=1))
    store.create(owner="alice", name="soon", scopes={"device"}, expires_in=timedelta(days=10))
    clock.advance(timedelta(days=4))  # 6 of 10 days left: not in its last quarter yet
    assert ">Expires soon</span>" not in alice.get("/profile/access-tokens").text
    clock.advance(timedelta(days=4))  # 2 days left: its last quarter (2.5 days)
    text = alice.get("/profile/access-tokens").text
    assert ">Expires soon</span>" in text and ">Expired</span>" not in text and ">old<" not in text
    soon = store.list("alice", search="soon")[0]
    # Regenerate next to the badge (a link that opens the regenerate dialog, also without script)
    assert re.search(
        rf'Expires soon</span>\s*<a class="link-button" href="[^"]*rotate={soon.id}"', text
    )
    inactive = alice.get("/profile/access-tokens?view=inactive").text
    assert ">old<" in inactive and ">Expired</span>" in inactive and ">soon<" not in inactive
    assert 'data-action="edit"' not in inactive  # read only


def test_the_create_dialog_takes_an_optional_description_and_the_row_shows_it(alice, store):
    page = alice.get("/profile/access-tokens").text
    assert '<label for="token-description" class="label">Description (optional)</label>' in page
    assert 'name="description"' in page
    r = create(alice, name="ci", description=f"deploys {HOSTILE}")
    assert r.status_code == 200, r.text
    (info,) = store.list("alice")
    assert info.description == f"deploys {HOSTILE}"
    listing = alice.get("/profile/access-tokens").text
    assert f'<span class="token-description muted">deploys {html.escape(HOSTILE)}</span>' in listing
    assert HOSTILE not in listing  # escaped
    # a bad description is the description field's error; the form keeps what was typed
    r = create(alice, name="other", description="line\nbreak")
    assert r.status_code == 400
    assert field_errors_of(r).keys() == {"token-description-error"}
    assert (
        "description must not contain control characters"
        in field_errors_of(r)["token-description-error"]
    )
    assert [t.name for t in store.list("alice")] == ["ci"]


def test_the_inactive_view_says_when_a_token_was_revoked(alice, store, clock):
    gone = store.create(owner="alice", name="gone", scopes={"device"})
    store.create(owner="alice", name="old", scopes={"device"}, expires_in=timedelta(days=1))
    clock.advance(timedelta(days=3))
    store.revoke("alice", gone.info.id)
    page = alice.get("/profile/access-tokens?view=inactive").text
    rows = {
        m.group(1): m.group(2)
        for m in re.finditer(r'<tr data-token-id="[^"]*" data-name="([^"]*)"(.*?)</tr>', page, re.S)
    }
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", rows["gone"]))
    assert "Revoked on Jan 4, 2030" in text, text
    assert f'datetime="{(START + timedelta(days=3)).isoformat()}"' in rows["gone"]
    assert "Revoked" not in rows["old"]  # expired, not revoked


def test_a_new_token_is_not_expiring_soon_whatever_its_lifetime(alice, store, clock):
    """issue 22: a token created for 7 days showed "Expires soon" at once. The badge marks the
    last quarter of a token's life (at least its last day, at most 7 days)."""
    lifetimes = {"d1": 1, "d2": 2, "d5": 5, "d7": 7, "d30": 30, "d90": 90, "d365": 365}
    for name, days in lifetimes.items():
        store.create(owner="alice", name=name, scopes={"device"}, expires_in=timedelta(days=days))

    def soon() -> set[str]:
        text = alice.get("/profile/access-tokens").text
        rows = re.findall(r'class="token-name">(d\d+)<.*?</tr>', text, re.S)
        marked = re.findall(r'class="token-name">(d\d+)<(?:(?!</tr>).)*Expires soon', text, re.S)
        assert set(rows) == set(lifetimes) - {n for n, d in lifetimes.items() if d <= elapsed}
        return set(marked)

    elapsed = 0
    assert soon() == {"d1"}  # a 1-day token is in its last day from the start
    clock.advance(timedelta(days=1, hours=12))
    elapsed = 1.5
    assert soon() == {"d2"}  # 12 h of 2 days left; 5 and 7 days are not in their last quarter
    clock.advance(timedelta(days=4))  # 5.5 days in
    elapsed = 5.5
    assert soon() == {"d7"}  # 1.5 of 7 days left (window 1.75 days)
    clock.advance(timedelta(days=78))  # 83.5 days in: 6.5 of 90 days left (window 7 days)
    elapsed = 83.5
    assert soon() == {"d90"}


# -- hosting ---------------------------------------------------------------------------------


def test_mounted_in_a_host_app_with_an_async_current_user(store):
    async def current_user(request):
        return request.headers.get("x-user")

    host = fastapi.FastAPI()
    host.mount("/settings/tokens", create_app(store, current_user=current_user))
    c = browser(host, "alice")
    r = c.get("/settings/tokens/")
    assert (
        r.status_code == 303 and r.headers["location"] == "/settings/tokens/profile/access-tokens"
    )
    page = c.get("/settings/tokens/profile/access-tokens")
    assert 'action="/settings/tokens/profile/access-tokens"' in page.text
    assert 'href="/settings/tokens/static/admin.css"' in page.text
    assert "Path=/settings/tokens" in page.headers["set-cookie"]
    data = {"csrf_token": csrf_of(page), "name": "n", "scopes": ["device"], "expiry": "30"}
    secret = new_token_of(c.post("/settings/tokens/profile/access-tokens", data=data))
    assert store.verify(secret).owner == "alice"
    assert c.get("/settings/tokens/static/admin.js").status_code == 200


def test_allowed_hosts_refuses_other_host_headers(store):
    app = create_app(
        store, current_user=lambda request: "alice", allowed_hosts=["127.0.0.1", "localhost"]
    )
    assert TestClient(app, base_url="http://127.0.0.1:8000").get("/profile").status_code == 200
    assert TestClient(app, base_url="http://localhost:8000").get("/profile").status_code == 200
    assert (
        TestClient(app, base_url="http://rebound.example:8000").get("/profile").status_code == 400
    )


def test_serve_runs_uvicorn_on_loopback_for_one_user(tmp_path, monkeypatch):
    import uvicorn

    seen = {}

    def fake_run(app, **kw):  # what uvicorn would serve, while the store is open
        seen.update(kw)
        seen["profile"] = TestClient(app, base_url="http://127.0.0.1:8123").get("/profile").text
        seen["rebound"] = (
            TestClient(app, base_url="http://evil.example").get("/profile").status_code
        )

    monkeypatch.setattr(uvicorn, "run", fake_run)
    admin.serve(str(tmp_path / "t.db"), user="carol", port=8123)
    assert seen["host"] == "127.0.0.1" and seen["port"] == 8123
    assert ">carol<" in seen["profile"]
    assert seen["rebound"] == 400


def test_serve_needs_a_user(tmp_path):
    with pytest.raises(tokenkeep.InvalidArgument):
        admin.serve(str(tmp_path / "t.db"), user=" ")


def test_the_revoke_banner_names_the_token_from_the_audit_log_not_the_url(alice, store):
    """issue 22: the banner named no token; and a link must not make the page say anything."""
    mine = store.create(owner="alice", name="ci-deploy", scopes={"device"})
    store.revoke("alice", mine.info.id)
    theirs = store.create(owner="bob", name="bobs-secret-project", scopes={"device"})
    store.revoke("bob", theirs.info.id)
    named = alice.get(f"/profile/access-tokens?revoked={mine.info.id}").text
    assert "The access token \u201cci-deploy\u201d was revoked." in named
    for other in (theirs.info.id, "<b>forged</b>", "1"):
        text = alice.get("/profile/access-tokens", params={"revoked": other}).text
        assert "The access token was revoked." in text
        assert "bobs-secret-project" not in text
        assert "<b>forged</b>" not in text


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1:1@evil.com",  # userinfo: rsplit(":") read it as host 127.0.0.1
        "127.0.0.1@evil.com",
        "evil.com#@127.0.0.1",
        "127.0.0.1:8000/evil",
        "127.0.0.1:",
        "127.0.0.1:99999",
        "127.0.0.1:80:80",
        "127.0.0.1 ",
        "[::1",
        "[::1]x",
        "[evil.com]:80",
        "localhost:8o",
        "",
    ],
)
def test_allowed_hosts_refuses_a_malformed_host_header(store, host):
    middleware = SecurityMiddleware(
        create_app(store, current_user=lambda request: "alice"),
        allowed_hosts=["127.0.0.1", "localhost", "::1"],
    )
    assert middleware.host_allowed(host) is False


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.0.0.1:8000", "LOCALHOST:65535", "[::1]", "[::1]:8000", "[0::1]:1"]
)
def test_allowed_hosts_accepts_host_and_port(store, host):
    middleware = SecurityMiddleware(
        create_app(store, current_user=lambda request: "alice"),
        allowed_hosts=["127.0.0.1", "localhost", "::1"],
    )
    assert middleware.host_allowed(host) is True


def test_host_with_userinfo_is_refused_end_to_end(store):
    app = create_app(store, current_user=lambda request: "alice", allowed_hosts=["127.0.0.1"])
    client = TestClient(app, base_url="http://127.0.0.1:8000")
    assert client.get("/profile", headers={"host": "127.0.0.1:1@evil.com"}).status_code == 400
    assert client.get("/profile", headers={"host": "127.0.0.1:8000"}).status_code == 200
