"""The Access Token page's leak banner and least-privilege hints (web/hygiene_view.py,
templates/_leak_banner.html and _scope_usage.html, admin.js fillUsage/narrowScopes).

Over HTTP with TestClient: the banner after store.revoke_leaked, only to the owner, never a
secret; the edit dialog's per-row data and sentence; "Narrow to what it used" without script.
In Chromium (Playwright, /usr/bin/chromium as in test_admin_browser.py): Edit, the sentence,
Narrow, Save, and the library sees the narrowed scopes.
"""

import html
import re
import warnings
from datetime import timedelta

import pytest
import tokenkeep

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from test_admin_page import BASE, START
from tokenkeep.web.admin import create_app

CLOCK_START = START  # the page tests' clock (conftest's clock and store fixtures read it)
PAGE = "/profile/access-tokens"
ONLY_READ = "In the last 30 days this token used only device:read."


def client(store, user):
    c = TestClient(
        create_app(store, current_user=lambda request: request.headers.get("x-user")),
        base_url=BASE,
        follow_redirects=False,
    )
    c.headers["X-User"] = user
    return c


def banner_of(page_html: str) -> str:
    m = re.search(
        r'<div class="banner banner-warn banner-leak"[^>]*>(.*?)</div>\s*</div>',
        page_html,
        re.DOTALL,
    )
    return (
        html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", m.group(1)))).strip() if m else ""
    )


def row_of(page_html: str, name: str) -> dict:
    """The data attributes of the table row of the token ``name``."""
    for tag in re.findall(r"<tr data-token-id=[^>]*>", page_html):
        attrs = {k: html.unescape(v) for k, v in re.findall(r'(data-[a-z-]+)(?:="([^"]*)")?', tag)}
        if attrs.get("data-name") == name:
            return attrs
    raise AssertionError(f"no row for {name}")


def edit_dialog_of(page_html: str) -> str:
    return re.search(r'<dialog id="edit-dialog".*?</dialog>', page_html, re.DOTALL).group(0)


def checked_in(dialog_html: str) -> set:
    boxes = re.findall(r'<input type="checkbox"[^>]*>', dialog_html, re.DOTALL)
    return {
        re.search(r'value="([^"]+)"', b).group(1) for b in boxes if re.search(r"\schecked\b", b)
    }


def csrf_of(page_html: str) -> str:
    return re.search(r'name="csrf_token" value="([0-9a-f]+)"', page_html).group(1)


# -- the leak banner ---------------------------------------------------------------------------


def test_banner_tells_the_owner_a_token_was_revoked_as_leaked_without_its_secret(store, clock):
    leaked = store.create("alice", "ci-deploy", {"device"})
    kept = store.create("alice", "laptop", {"device:read"})
    bobs = store.create("bob", "backup", {"collection"})
    alice, bob = client(store, "alice"), client(store, "bob")
    assert 'id="leak-banner"' not in alice.get(PAGE).text  # nothing leaked yet

    log = f"12:00 deploy started\n12:01 Authorization: Bearer {leaked.secret}\n"
    assert [i.name for i in store.revoke_leaked(log, source="build log")] == ["ci-deploy"]
    page = alice.get(PAGE)
    assert page.status_code == 200
    banner = banner_of(page.text)
    assert (
        "ci-deploy was revoked because it was found in build log, line 2 on Jan 1, 2030." in banner
    )
    assert "laptop" not in banner and "See them in the Inactive view" in banner
    assert re.search(r'id="leak-banner"', page.text) and 'role="alert"' in page.text
    assert f'href="{PAGE}?view=inactive"' in page.text
    for secret in (leaked.secret, kept.secret, bobs.secret):
        assert secret not in page.text
    assert 'id="leak-banner"' not in bob.get(PAGE).text  # another owner's leak is not bob's news

    clock.advance(timedelta(days=31))  # a 30-day window
    assert 'id="leak-banner"' not in alice.get(PAGE).text


def test_banner_names_a_few_tokens_and_counts_the_rest(store, clock):
    issued = [store.create("alice", f"svc-{i}", {"device"}) for i in range(5)]
    for i, t in enumerate(issued):
        clock.advance(timedelta(minutes=1))
        store.revoke_leaked(f"token={t.secret}", source=f"paste {i}")
    banner = banner_of(client(store, "alice").get(PAGE).text)
    assert banner.startswith("Access tokens were revoked because they were found leaked")
    names = re.findall(r"(svc-\d) was revoked", banner)
    assert names == ["svc-4", "svc-3", "svc-2"]  # newest first, at most three
    assert "And 2 more in the last 30 days." in banner


# -- scope usage in the edit dialog -------------------------------------------------------------


def used_tokens(store):
    """grafana holds device:read + policy:read and uses device:read; idle is never verified;
    reader holds and uses device:read."""
    grafana = store.create("alice", "grafana", {"device:read", "policy:read"})
    idle = store.create("alice", "idle", {"collection"})
    reader = store.create("alice", "reader", {"device:read"})
    for _ in range(3):
        store.verify(grafana.secret, "device:read")
    store.verify(reader.secret, "device:read")
    with pytest.raises(tokenkeep.InsufficientScope):
        store.verify(grafana.secret, "collection:read")  # a refused check exercises nothing
    return grafana, idle, reader


def test_each_row_carries_the_scopes_it_used_and_the_sentence(store):
    used_tokens(store)
    for i in range(60):  # a full page of 50 rows beside them (one scope_report for the page)
        store.create("alice", f"seed-{i:02d}", {"policy"})
    page = client(store, "alice").get(PAGE + "?sort=name&dir=asc").text
    grafana = row_of(page, "grafana")
    assert grafana["data-used"] == "device:read" and grafana["data-usage"] == ONLY_READ
    assert "data-narrow" in grafana
    idle = row_of(page, "idle")
    assert (
        idle["data-used"] == ""
        and idle["data-usage"] == "In the last 30 days this token used no scope."
    )
    assert "data-narrow" not in idle  # narrowing to nothing would leave no scope: not offered
    reader = row_of(page, "reader")
    assert reader["data-used"] == "device:read" and reader["data-usage"] == ""  # used all it holds
    assert row_of(page, "seed-00")["data-usage"] == "In the last 30 days this token used no scope."
    rows = re.findall(r"<tr data-token-id=[^>]*>", page)
    assert len(rows) == 50 and all(" data-used=" in r for r in rows)


def test_no_script_edit_page_shows_the_sentence_and_narrows_on_save(store):
    grafana, _, reader = used_tokens(store)
    alice = client(store, "alice")
    dialog = edit_dialog_of(alice.get(f"{PAGE}?edit={grafana.info.id}").text)
    assert ONLY_READ in dialog and "Narrow to what it used" in dialog
    assert checked_in(dialog) == {"device:read", "policy:read"}
    link = html.unescape(
        re.search(
            r'<a class="button button-small" data-narrow[^>]*href="([^"]*)"', dialog, re.DOTALL
        ).group(1)
    )
    assert link == f"{PAGE}?edit={grafana.info.id}&narrow=1"

    narrowed = alice.get(link).text
    dialog = edit_dialog_of(narrowed)
    assert checked_in(dialog) == {"device:read"}  # checked, not saved yet
    assert store.get("alice", grafana.info.id).scopes == {"device:read", "policy:read"}
    r = alice.post(
        f"{PAGE}/{grafana.info.id}/scopes",
        data={"csrf_token": csrf_of(narrowed), "scopes": ["device:read"]},
    )
    assert r.status_code == 303
    assert store.get("alice", grafana.info.id).scopes == {"device:read"}
    assert store.check(grafana.secret, "device:read") and not store.check(
        grafana.secret, "policy:read"
    )

    # A token that used all it holds: no sentence, and narrow=1 changes nothing.
    dialog = edit_dialog_of(alice.get(f"{PAGE}?edit={reader.info.id}&narrow=1").text)
    assert "In the last 30 days" not in dialog and checked_in(dialog) == {"device:read"}


def test_usage_is_the_owners_and_the_inactive_view_has_none(store):
    grafana, _, _ = used_tokens(store)
    bob = client(store, "bob")
    assert "In the last 30 days" not in edit_dialog_of(
        bob.get(f"{PAGE}?edit={grafana.info.id}").text
    )
    store.revoke("alice", grafana.info.id)
    inactive = client(store, "alice").get(PAGE + "?view=inactive").text
    rows = re.findall(r"<tr data-token-id=[^>]*>", inactive)
    assert len(rows) == 1 and 'data-name="grafana"' in rows[0] and "data-used=" not in rows[0]


# -- in Chromium ---------------------------------------------------------------------------------


@pytest.mark.browser
def test_narrow_to_what_it_used_in_the_browser(tmp_path):
    from browser_kit import TIMEOUT_MS, Server, launch
    from playwright import sync_api as playwright_api

    expect = playwright_api.expect
    with tokenkeep.TokenStore(str(tmp_path / "tokens.db")) as store:
        store.create_many("alice", [(f"seed-{i:02d}", {"policy"}) for i in range(20)])
        grafana = store.create("alice", "grafana-readonly", {"device:read", "policy:read"})
        store.verify(grafana.secret, "device:read")
        server = Server(create_app(store, current_user=lambda request: "alice"))
        try:
            with playwright_api.sync_playwright() as p:
                b = launch(p)  # fails, never skips, without Chromium
                page = b.new_page(base_url=server.url)
                page.set_default_timeout(TIMEOUT_MS)
                errors = []
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.goto(PAGE)
                page.get_by_role("link", name="Edit grafana-readonly").click()
                edit = page.locator("#edit-dialog")
                expect(edit).to_be_visible()
                expect(edit.locator("[data-usage-text]")).to_have_text(ONLY_READ)
                expect(edit.locator('input[value="policy:read"]')).to_be_checked()
                edit.get_by_role("link", name="Narrow to what it used").click()
                expect(edit.locator('input[value="policy:read"]')).not_to_be_checked()
                expect(edit.locator('input[value="device:read"]')).to_be_checked()
                assert page.url.endswith(PAGE)  # checked in place, nothing saved yet
                assert store.get("alice", grafana.info.id).scopes == {"device:read", "policy:read"}
                edit.get_by_role("button", name="Save Changes").click()
                expect(page.locator("#updated-dialog")).to_be_visible()
                assert errors == []
                b.close()
        finally:
            server.close()
        assert store.get("alice", grafana.info.id).scopes == {"device:read"}
        assert not store.check(grafana.secret, "policy:read")
