"""tokenkeep.django.urls: the Access Token tab inside a Django site, through Django's test
client with a logged-in user and Django's CSRF enforced: create (the secret once), edit,
regenerate, revoke, only the user's own tokens, the same security headers as tokenkeep serve."""

from __future__ import annotations

import re

import pytest
import tokenkeep
from django.test import Client

pytestmark = pytest.mark.django_db

PAGE = "/profile/access-tokens"


@pytest.fixture
def browser(tk, users):
    """A logged-in alice whose client enforces CSRF, as a browser's requests are checked."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(users["alice"])
    return client


def csrf(client: Client, path: str = PAGE) -> str:
    html = client.get(path).content.decode()
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def post(client: Client, path: str, **fields):
    return client.post(path, {"csrfmiddlewaretoken": csrf(client), **fields})


def secrets_in(html: str) -> list:
    return re.findall(r"tk_[A-Za-z0-9]{40,}", html)


def test_signed_out_is_sent_to_the_sites_login(client, tk):
    r = client.get(PAGE)
    assert r.status_code == 302 and r["Location"] == f"/accounts/login/?next={PAGE}"
    assert client.post(PAGE, {"name": "x"}).status_code == 302  # nothing created
    assert tk.list(all_owners=True).total == 0


def test_the_page_lists_the_users_tokens_with_the_serve_pages_headers(browser, tk):
    tk.create(owner="alice", name="grafana", scopes={"device:read"})
    tk.create(owner="bob", name="bobs-token", scopes={"device"})
    r = browser.get(PAGE)
    html = r.content.decode()
    assert r.status_code == 200 and r["Content-Type"] == "text/html; charset=utf-8"
    assert "grafana" in html and "bobs-token" not in html
    assert '<span class="whoami-name">alice</span>' in html
    assert r["Cache-Control"] == "no-store, max-age=0"
    assert "script-src 'self'" in r["Content-Security-Policy"] and r["X-Frame-Options"] == "DENY"
    assert f'action="{PAGE}"' in html and 'href="/profile/static/admin.css"' in html


def test_profile_tab_counts_active_tokens(browser, tk):
    tk.create(owner="alice", name="a", scopes={"device"})
    html = browser.get("/profile/").content.decode()
    assert "Active access tokens" in html and f'<a href="{PAGE}">1</a>' in html


def test_create_shows_the_secret_once_and_it_verifies(browser, tk):
    r = post(browser, PAGE, name="ci-deploy", scopes=["device", "policy:read"], expiry="90")
    assert r.status_code == 200 and r["Cache-Control"] == "no-store, max-age=0"
    (secret,) = set(secrets_in(r.content.decode()))
    info = tk.verify(secret, "device:write", "policy:read")
    assert info.owner == "alice" and info.name == "ci-deploy"
    assert tk.audit("alice", limit=1)[0].actor == "alice"
    assert secrets_in(browser.get(PAGE).content.decode()) == []  # never shown again


def test_create_errors_come_back_in_the_form(browser, tk):
    tk.create(owner="alice", name="taken", scopes={"device"})
    r = post(browser, PAGE, name="taken", scopes=["device"], expiry="30")
    assert (
        r.status_code == 409
        and "You already have an access token named “taken”" in r.content.decode()
    )
    r = post(browser, PAGE, name="", scopes=[], expiry="30")
    assert r.status_code == 400 and secrets_in(r.content.decode()) == []
    assert tk.list("alice").total == 1


def test_edit_then_revoke_are_seen_by_verification(browser, tk):
    issued = tk.create(owner="alice", name="t", scopes={"device:read"})
    r = post(browser, f"{PAGE}/{issued.info.id}/scopes", scopes=["policy"])
    assert r.status_code == 303 and r["Location"] == f"{PAGE}?updated={issued.info.id}"
    assert "Access token updated successfully" in browser.get(r["Location"]).content.decode()
    assert tk.verify(issued.secret, "policy:write").scopes == {"policy"}
    r = post(browser, f"{PAGE}/{issued.info.id}/revoke")
    assert r.status_code == 303 and r["Location"] == f"{PAGE}?revoked={issued.info.id}"
    assert (
        "The access token \u201ct\u201d was revoked" in browser.get(r["Location"]).content.decode()
    )
    with pytest.raises(tokenkeep.RevokedToken):
        tk.verify(issued.secret)


def test_regenerate_shows_a_new_secret_and_the_old_one_stops(browser, tk):
    issued = tk.create(owner="alice", name="t", scopes={"device"})
    r = post(browser, f"{PAGE}/{issued.info.id}/rotate")
    (fresh,) = set(secrets_in(r.content.decode()))
    assert r.status_code == 200 and fresh != issued.secret
    assert tk.verify(fresh).name == "t"
    with pytest.raises(tokenkeep.AuthenticationError):
        tk.verify(issued.secret)


def test_another_users_token_cannot_be_touched(browser, tk):
    bobs = tk.create(owner="bob", name="b", scopes={"device"})
    for action in ("revoke", "scopes", "rotate"):
        r = post(browser, f"{PAGE}/{bobs.info.id}/{action}", scopes=["policy"])
        assert r.status_code == 404 and "That access token no longer exists." in r.content.decode()
    assert tk.verify(bobs.secret).scopes == {"device"}


def test_djangos_csrf_refuses_a_form_without_its_token(browser, tk):
    issued = tk.create(owner="alice", name="t", scopes={"device"})
    assert browser.post(f"{PAGE}/{issued.info.id}/revoke").status_code == 403
    assert (
        browser.post(PAGE, {"name": "x", "scopes": ["device"], "expiry": "30"}).status_code == 403
    )
    assert tk.verify(issued.secret) and tk.list("alice").total == 1


def test_a_cross_site_form_is_refused_even_with_a_token(browser, tk):
    issued = tk.create(owner="alice", name="t", scopes={"device"})
    token = csrf(browser)
    r = browser.post(
        f"{PAGE}/{issued.info.id}/revoke",
        {"csrfmiddlewaretoken": token},
        HTTP_SEC_FETCH_SITE="cross-site",
    )
    assert r.status_code == 403 and "This form has expired" in r.content.decode()
    assert tk.check(issued.secret)


def test_static_files_are_served_and_cacheable(client, tk):
    r = client.get("/profile/static/admin.css")
    assert r.status_code == 200 and r["Content-Type"] == "text/css"
    assert "Cache-Control" not in r and "Content-Security-Policy" in r
    assert b"".join(r.streaming_content)
    assert client.get("/profile/static/../urls.py").status_code == 404
    assert client.get("/profile/static/nope.js").status_code == 404
    assert client.post("/profile/static/admin.css").status_code == 405


def test_a_site_template_folder_replaces_the_base_and_the_title(
    browser, settings, tk_db, clock, tmp_path
):
    folder = tmp_path / "site-templates"
    folder.mkdir()
    (folder / "base.html").write_text(
        "<!doctype html><title>{% block title %}{% endblock %}</title>"
        '<div id="site-layout">{{ user }}</div>{% block content %}{% endblock %}'
    )
    settings.TOKENKEEP = {"DB": tk_db, "CLOCK": clock, "TEMPLATE_DIRS": [folder], "TITLE": "Acme"}
    html = browser.get(PAGE).content.decode()
    assert '<div id="site-layout">alice</div>' in html and "Acme" in html
    assert 'class="topbar"' not in html  # tokenkeep's own base is not used


def test_regenerate_can_set_a_new_expiry(browser, tk, clock):
    from datetime import timedelta

    issued = tk.create(owner="alice", name="t", scopes={"device"}, expires_in=timedelta(days=2))
    r = post(browser, f"{PAGE}/{issued.info.id}/rotate", expiry="90")
    (fresh,) = set(secrets_in(r.content.decode()))
    assert tk.verify(fresh).expires_at == clock.now() + timedelta(days=90)
    r = post(browser, f"{PAGE}/{tk.verify(fresh).id}/rotate", expiry="12")
    assert r.status_code == 400 and tk.check(fresh)  # not a lifetime the page offers


def test_the_trailing_slash_url_leads_to_the_tab_with_its_query(browser, tk):
    """issue 22: /profile/access-tokens/ (Django's usual trailing slash) was a 404."""
    r = browser.get(PAGE + "/?q=ci&view=inactive")
    assert r.status_code == 302
    assert r["Location"] == PAGE + "?q=ci&view=inactive"
    assert browser.get(PAGE + "/", follow=True).status_code == 200


def test_signed_out_goes_to_the_login_url_the_site_sets(client, tk, settings):
    settings.LOGIN_URL = "/admin/login/"  # what the README tells a new project to set
    r = client.get(PAGE)
    assert r.status_code == 302
    assert r["Location"] == f"/admin/login/?next={PAGE}"
