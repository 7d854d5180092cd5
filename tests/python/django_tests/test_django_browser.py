"""The Access Token tab of a Django site in Debian's Chromium (headless, Playwright), served
by pytest-django's live server: a logged-in Django user creates a token (the secret shown
once, and it verifies), edits its scope and revokes it; the library sees each step."""

from __future__ import annotations

import os
import re
import shutil

import pytest
import tokenkeep
from playwright import sync_api as playwright_api

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("TOKENKEEP_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "artifacts"
)
expect = playwright_api.expect


@pytest.fixture
def site(settings, tk_db, live_server, transactional_db, django_user_model):
    """The live site on this test's token database, and alice's session cookie (made before
    Playwright starts: Django's ORM refuses to run beside its event loop)."""
    from django.test import Client
    from tokenkeep.django import get_store

    settings.TOKENKEEP = {"DB": tk_db}
    alice = django_user_model.objects.create_user("alice", password="pw-alice")
    client = Client()
    client.force_login(alice)
    return live_server.url, client.cookies["sessionid"].value, get_store()


@pytest.fixture
def page(site):
    url, session, _ = site
    assert os.path.exists(CHROMIUM), (
        f"no Chromium at {CHROMIUM}: make setup installs the Debian package chromium"
    )
    os.makedirs(ARTIFACTS, exist_ok=True)
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        context = browser.new_context(base_url=url, viewport={"width": 1280, "height": 860})
        context.add_cookies([{"name": "sessionid", "value": session, "url": url}])
        pg = context.new_page()
        pg.set_default_timeout(10_000)
        pg.errors = []
        pg.on("pageerror", lambda e: pg.errors.append(str(e)))
        pg.on("console", lambda m: pg.errors.append(m.text) if m.type == "error" else None)
        yield pg
        browser.close()


def row(page, name: str):
    return page.locator("#tokens-table tbody tr").filter(
        has=page.locator(".token-name", has_text=re.compile(f"^{re.escape(name)}$"))
    )


def test_create_show_once_edit_revoke_in_chromium(page, site):
    _, _, store = site
    page.goto("/profile/access-tokens")
    expect(page.locator(".whoami-name")).to_have_text("alice")

    page.get_by_role("link", name="Create Access Token").click()
    dialog = page.locator("#create-dialog")
    dialog.get_by_label("Token Name").fill("django-ci")
    dialog.locator('input[value="device"]').check()
    dialog.get_by_role("button", name="Create", exact=True).click()
    created = page.locator("#created-dialog")
    expect(created).to_be_visible()
    secret = page.locator("#new-token").inner_text()
    page.screenshot(path=os.path.join(ARTIFACTS, "django-01-created.png"))
    info = store.verify(secret, "device:write")
    assert info.owner == "alice" and info.name == "django-ci"

    created.get_by_role("link", name="Close").click()
    created.get_by_role("link", name="Yes, close").click()
    expect(page.locator("#created-dialog")).to_have_count(0)
    assert secret not in page.content()

    row(page, "django-ci").get_by_role("link", name="Edit django-ci").click()
    edit = page.locator("#edit-dialog")
    edit.locator('input[value="device"]').uncheck()
    edit.locator('input[value="policy:read"]').check()
    edit.get_by_role("button", name="Save Changes").click()
    expect(page.locator("#updated-dialog")).to_contain_text("Access token updated successfully")
    assert store.verify(secret, "policy:read").scopes == {"policy:read"}
    page.locator("#updated-dialog").get_by_role("link", name="Close").click()

    row(page, "django-ci").get_by_role("link", name="Delete django-ci").click()
    page.locator("#revoke-dialog").get_by_role("button", name="Revoke").click()
    expect(page.locator(".banner-ok")).to_contain_text("revoked")
    expect(row(page, "django-ci")).to_have_count(0)
    with pytest.raises(tokenkeep.RevokedToken):
        store.verify(secret)
    page.screenshot(path=os.path.join(ARTIFACTS, "django-02-revoked.png"))
    assert page.errors == []  # no script error, no CSP violation
