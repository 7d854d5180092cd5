"""The page's dialogs in Chromium, as a first-time user meets them: one way out of the secret
dialog until it asks, a Copy button that does not move the secret, every text readable in
light and dark mode (WCAG AA, 4.5:1), and a past custom date said in the page's words.

Helpers (server, Chromium, contrast measurement): browser_kit.py."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import tokenkeep
from browser_kit import DESKTOP, PHONE, Server, contrast, launch, new_page, shot
from playwright import sync_api as playwright_api
from tokenkeep.web.admin import create_app

USER = "alice"
AA = 4.5
expect = playwright_api.expect

# Elements that carry `hidden` yet are laid out: each one is a control or message on screen
# that the markup says is not there.
SHOWN_THOUGH_HIDDEN = """
() => Array.from(document.querySelectorAll("[hidden]"))
  .filter((e) => getComputedStyle(e).display !== "none")
  .map((e) => e.outerHTML.slice(0, 80))
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("admin-dialogs") / "tokens.db"
    with tokenkeep.TokenStore(str(path)) as s:
        s.create_many(USER, [(f"seed-{i:03d}", {"device:read"}) for i in range(60)])
        s.create(USER, "nightly-backup", {"collection"}, expires_in=timedelta(days=3))
        used = s.create(USER, "grafana-readonly", {"device:read", "policy:read"})
        s.verify(used.secret)
        s.revoke(USER, s.create(USER, "old-ci", {"policy"}).info.id)
        yield s


@pytest.fixture(scope="module")
def server(store):
    srv = Server(create_app(store, current_user=lambda request: USER))
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


def _create(page, name: str, scopes=("device",)):
    page.get_by_role("link", name="Create Access Token").click()
    dialog = page.locator("#create-dialog")
    dialog.get_by_label("Token Name").fill(name)
    for s in scopes:
        dialog.locator(f'input[value="{s}"]').check()
    dialog.get_by_role("button", name="Create", exact=True).click()
    created = page.locator("#created-dialog")
    expect(created).to_be_visible()
    return created


def _lines(locator) -> float:
    """How many lines of text a box holds (its height over its line height)."""
    return locator.evaluate(
        "e => { const s = getComputedStyle(e);"
        " return (e.getBoundingClientRect().height - parseFloat(s.paddingTop)"
        " - parseFloat(s.paddingBottom) - parseFloat(s.borderTopWidth)"
        " - parseFloat(s.borderBottomWidth)) / parseFloat(s.lineHeight); }"
    )


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
def test_secret_dialog_has_one_way_out_until_it_asks(browser, server, store, viewport):
    context, page = new_page(browser, server.url, viewport)
    try:
        page.goto("/profile/access-tokens")
        assert page.evaluate(SHOWN_THOUGH_HIDDEN) == []
        if viewport == PHONE:  # the headings are a row of sort links there: it says so
            label = page.locator(".tokens thead tr").evaluate(
                "e => getComputedStyle(e, '::before').content"
            )
            assert label == '"Sort by"'
        created = _create(page, f"one-way-out-{viewport['width']}")
        # Before anything was asked: Close, and nothing else, in the footer.
        footer = created.locator(".dialog-foot")
        expect(footer.get_by_role("button", name="Back to the token")).to_be_hidden()
        visible = [el.inner_text() for el in footer.locator("a, button").all() if el.is_visible()]
        assert visible == ["Close"]
        assert page.evaluate(SHOWN_THOUGH_HIDDEN) == []
        # Asked: both choices, the question, and the secret still there.
        created.get_by_role("link", name="Close").click()
        expect(created.get_by_text("Did you copy it?")).to_be_visible()
        expect(footer.get_by_role("button", name="Back to the token")).to_be_visible()
        expect(footer.get_by_role("link", name="Yes, close")).to_be_visible()
        footer.get_by_role("button", name="Back to the token").click()
        expect(page.locator("#new-token")).to_be_focused()
        shot(page, f"20-secret-asked-{viewport['width']}")
        assert page.evaluate(SHOWN_THOUGH_HIDDEN) == []
        assert not page.console_errors
    finally:
        context.close()


def test_copy_does_not_move_the_secret_at_1280_px(browser, server, store):
    context, page = new_page(browser, server.url, DESKTOP)
    try:
        page.goto("/profile/access-tokens")
        created = _create(page, "copy-keeps-its-width", scopes=("device", "policy"))
        secret = page.locator("#new-token")
        button = created.locator("#copy-token")
        before = (button.bounding_box(), secret.bounding_box())
        assert _lines(secret) < 1.5, "the secret should sit on one line at 1280 px"
        button.click()
        expect(created.locator("[data-copy-label]")).to_have_text("Copied")
        expect(button).to_have_accessible_name("Copied")
        after = (button.bounding_box(), secret.bounding_box())
        assert after == before, (before, after)
        assert _lines(secret) < 1.5
        assert page.evaluate("navigator.clipboard.readText()") == secret.inner_text()
        shot(page, "21-copied-1280")
        expect(created.locator("[data-copy-label]")).to_have_text("Copy", timeout=5000)
        assert button.bounding_box() == before[0]
    finally:
        context.close()


def _low(page, scope, state: str) -> list[str]:
    return [
        f"{state}: {m['what']} {m['text']!r} {m['fg']} on {m['bg']} = {m['ratio']}:1"
        for m in contrast(scope)
        if m["ratio"] < AA
    ]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_text_meets_aa_contrast(browser, server, store, scheme):
    """Every visible text on the list and in each dialog, in both colour schemes, >= 4.5:1."""
    context, page = new_page(browser, server.url, DESKTOP, color_scheme=scheme)
    low: list[str] = []
    measured = 0
    try:
        page.goto("/profile/access-tokens")
        measured += len(contrast(page.locator("body")))
        low += _low(page, page.locator("body"), "list")

        page.get_by_role("link", name="Create Access Token").click()
        dialog = page.locator("#create-dialog")
        low += _low(page, dialog, "create")
        dialog.get_by_label("Expiration", exact=True).select_option("custom")
        dialog.get_by_role("button", name="Create", exact=True).click()  # all three errors
        expect(page.locator("#create-error")).to_be_visible()
        low += _low(page, page.locator("#create-dialog"), "create with errors")
        page.locator("#create-dialog").get_by_role("button", name="Cancel").click()

        page.goto("/profile/access-tokens")
        row = page.locator("#tokens-table tbody tr").filter(has_text="grafana-readonly")
        for action, name in (("edit", "Edit"), ("revoke", "Delete"), ("rotate", "Regenerate")):
            row.get_by_role("link", name=f"{name} grafana-readonly").click()
            opened = page.locator(f"#{action}-dialog")
            expect(opened).to_be_visible()
            measured += len(contrast(opened))
            low += _low(page, opened, action)
            if action in ("revoke", "rotate"):  # each dialog's dangerous action looks it
                confirm = opened.locator("button[type=submit]")
                expect(confirm).to_have_class(re.compile(r"\bbutton-danger\b"))
            opened.get_by_role("button", name="Cancel").click()

        created = _create(page, f"contrast-{scheme}")
        measured += len(contrast(created))
        low += _low(page, created, "secret")
        created.get_by_role("button", name=re.compile("Copy")).click()
        expect(created.locator("[data-copy-label]")).to_have_text("Copied")
        created.get_by_role("link", name="Close").click()  # copied: closes at once
        expect(page.locator("#created-dialog")).to_have_count(0)

        page.get_by_role("link", name="Inactive").click()
        low += _low(page, page.locator("body"), "inactive")
        shot(page, f"22-contrast-{scheme}")
    finally:
        context.close()
    assert measured > 50  # the measurement saw the page
    assert low == []


def test_a_past_custom_date_is_said_in_the_pages_words(browser, server, store):
    context, page = new_page(browser, server.url, DESKTOP)
    try:
        page.goto("/profile/access-tokens")
        page.get_by_role("link", name="Create Access Token").click()
        dialog = page.locator("#create-dialog")
        dialog.get_by_label("Token Name").fill("from-the-past")
        dialog.locator('input[value="device:read"]').check()
        dialog.get_by_label("Expiration", exact=True).select_option("custom")
        date_field = dialog.get_by_label("Expiration date")
        date_field.fill("2020-01-01")
        date_field.dispatch_event("change")
        preview = dialog.locator("#expiry-preview")
        expect(preview).to_have_text("That date has passed: choose today or a later date.")
        expect(preview).not_to_contain_text("will expire")

        # A date in the future is previewed as before.
        later = (datetime.now(UTC) + timedelta(days=40)).date()
        date_field.fill(later.isoformat())
        date_field.dispatch_event("change")
        expect(preview).to_have_text(
            f"The token will expire on {later:%b} {later.day}, {later.year}."
        )

        date_field.fill("2020-01-01")
        date_field.dispatch_event("change")
        dialog.get_by_role("button", name="Create", exact=True).click()
        dialog = page.locator("#create-dialog")
        expect(dialog).to_be_visible()
        error = dialog.locator("#token-expiry-error")
        expect(error).to_have_text("The expiration date must be in the future.")
        expect(dialog).not_to_contain_text("expires_at", ignore_case=True)
        expect(dialog.locator("#expiry-preview")).not_to_contain_text("will expire")
        assert store.list(USER, search="from-the-past").total == 0
        assert not page.console_errors
    finally:
        context.close()


def test_create_works_without_javascript(browser, server, store):
    """Like the rows' actions, "Create Access Token" is a link to the same dialog (?create=1)."""
    context, page = new_page(browser, server.url, DESKTOP, java_script_enabled=False)
    try:
        page.goto("/profile/access-tokens")
        dialog = page.locator("#create-dialog")
        expect(dialog).to_be_hidden()
        page.get_by_role("link", name="Create Access Token").click()
        expect(page).to_have_url(re.compile(r"\?create=1$"))
        expect(dialog).to_be_visible()
        dialog.get_by_label("Token Name").fill("made-without-script")
        dialog.locator('input[value="device:read"]').check()
        dialog.get_by_role("button", name="Create", exact=True).click()
        created = page.locator("#created-dialog")
        expect(created).to_be_visible()
        secret = page.locator("#new-token").inner_text()
        assert store.verify(secret, "device:read").name == "made-without-script"
        shot(page, "23-created-without-script")
    finally:
        context.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
def test_each_row_shows_the_token_id_the_cli_uses(browser, server, store, viewport):
    """issue 22, item 6: the id (what `tokenkeep show ID` and the API take) is on the row."""
    context, page = new_page(browser, server.url, viewport)
    try:
        page.goto("/profile/access-tokens?q=grafana")
        (info,) = list(store.list(USER, search="grafana-readonly"))
        row = page.locator("#tokens-table tbody tr").filter(has_text="grafana-readonly")
        shown = row.locator(".token-id")
        expect(shown).to_be_visible()
        expect(shown).to_have_text(f"id {info.id}")  # "id " for screen readers only
        assert shown.locator(".sr-only").inner_text().strip() == "id"
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    finally:
        context.close()
