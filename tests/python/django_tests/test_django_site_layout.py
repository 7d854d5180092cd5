"""The Access Token tab inside the Django site's own layout (issue 22): by default it extends the
site's ``base.html`` (its header, sign-out and navigation stay), else tokenkeep's own layout;
the deployment's scope words and "Revoke all" inside a site."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

pytestmark = pytest.mark.django_db

PAGE = "/profile/access-tokens"
SITE_BASE = (
    "<!doctype html><html><head><title>Acme site</title></head><body>"
    '<header id="site-header">Signed in as {{ request.user.get_username }}'
    ' <a href="/logout/">Sign out</a> <a href="/">Home</a></header>'
    '<main id="site-main">{% block content %}{% endblock %}</main>'
    '<aside id="site-body">{% block body %}{% endblock %}</aside></body></html>'
)


@pytest.fixture
def alice(users):
    client = Client(enforce_csrf_checks=True)
    client.force_login(users["alice"])
    return client


@pytest.fixture
def site_templates(settings, tmp_path):
    """The site's Django templates folder, with a base.html."""
    folder = tmp_path / "site-templates"
    folder.mkdir()
    (folder / "base.html").write_text(SITE_BASE)
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [str(folder)]},
    ]
    return folder


def configure(settings, tk_db, clock, **more):
    from tokenkeep.django import get_store

    settings.TOKENKEEP = {"DB": tk_db, "CLOCK": clock, **more}
    return get_store()


def csrf_of(html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def test_the_tab_extends_the_sites_base_html(alice, settings, tk_db, clock, site_templates):
    store = configure(settings, tk_db, clock)
    store.create("alice", "grafana-readonly", {"device"})
    r = alice.get(PAGE)
    html = r.content.decode()
    assert r.status_code == 200
    assert html.startswith("<!doctype html>") and html.count("<html") == 1
    assert '<header id="site-header">Signed in as alice' in html and ">Sign out</a>" in html
    main = html.split('<main id="site-main">', 1)[1].split("</main>", 1)[0]
    assert "grafana-readonly" in main and 'id="create-dialog"' in main  # the tab, in the block
    assert 'class="topbar"' not in html  # tokenkeep's own header is not used
    assert 'href="/profile/static/admin.css"' in main and 'src="/profile/static/admin.js"' in main
    assert "script-src 'self'" in r["Content-Security-Policy"]  # still the page's headers
    assert r["Cache-Control"] == "no-store, max-age=0"

    # The forms still work inside the site's layout: create shows the secret once.
    r = alice.post(
        PAGE,
        {"csrfmiddlewaretoken": csrf_of(html), "name": "ci", "scopes": "device", "expiry": "30"},
    )
    page = r.content.decode()
    (secret,) = set(re.findall(r"tk_[A-Za-z0-9]{40,}", page))
    assert store.verify(secret).name == "ci" and 'id="site-header"' in page
    assert 'id="site-header"' in alice.get("/profile/").content.decode()  # the Profile tab too


def test_without_a_site_base_or_when_told_the_tab_keeps_its_own_layout(
    alice, settings, tk_db, clock, site_templates
):
    configure(settings, tk_db, clock, BASE_TEMPLATE=None)
    html = alice.get(PAGE).content.decode()
    assert 'class="topbar"' in html and 'id="site-header"' not in html
    configure(settings, tk_db, clock, BASE_TEMPLATE="no/such.html")
    assert 'class="topbar"' in alice.get(PAGE).content.decode()
    (site_templates / "base.html").unlink()
    configure(settings, tk_db, clock)
    html = alice.get(PAGE).content.decode()
    assert 'class="topbar"' in html and 'id="site-header"' not in html


def test_the_block_the_tab_fills_is_a_setting(alice, settings, tk_db, clock, site_templates):
    configure(settings, tk_db, clock, BASE_BLOCK="body")
    html = alice.get(PAGE).content.decode()
    aside = html.split('<aside id="site-body">', 1)[1].split("</aside>", 1)[0]
    assert 'id="create-dialog"' in aside and 'id="create-dialog"' not in html.split("<aside", 1)[0]
    settings.TOKENKEEP = {"DB": tk_db, "BASE_BLOCK": "content %}{% load x"}
    with pytest.raises(ImproperlyConfigured, match="BASE_BLOCK"):
        alice.get(PAGE)


def test_scope_words_and_revoke_all_inside_a_site(alice, settings, tk_db, clock, users):
    store = configure(settings, tk_db, clock)
    name = sorted(store.vocabulary)[0]
    store = configure(settings, tk_db, clock, SCOPE_DESCRIPTIONS={name: "Manage the fleet"})
    html = alice.get(PAGE).content.decode()
    assert f'<p class="scope-desc" id="create-scope-{name}-desc">Manage the fleet</p>' in html
    issued = [store.create("alice", f"t{i}", {name}) for i in range(2)]
    theirs = store.create("sam", "sams", {name})
    html = alice.get(PAGE).content.decode()
    assert 'name="count" value="2"' in html
    r = alice.post(PAGE + "/revoke-all", {"csrfmiddlewaretoken": csrf_of(html), "count": "2"})
    assert r.status_code == 303 and r["Location"] == PAGE + "?revoked_all=2"
    assert not any(store.check(t.secret) for t in issued) and store.check(theirs.secret)
    assert "All 2 of your access tokens were revoked." in alice.get(r["Location"]).content.decode()
    configure(settings, tk_db, clock, SCOPE_DESCRIPTIONS={"no_such_scope": "x"})
    with pytest.raises(ImproperlyConfigured, match="not in the vocabulary"):
        alice.get(PAGE)
