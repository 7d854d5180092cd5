"""The page in Chromium (issue 22): a token's name in a dialog moves to the next line whole
rather than break at one of its hyphens ("nightly-" / "backup"); "Revoke all", confirmed
with the count, then the banner.

Helpers (server, Chromium): browser_kit.py."""

from __future__ import annotations

import pytest
import tokenkeep
from browser_kit import DESKTOP, PHONE, Server, launch, new_page
from playwright import sync_api as playwright_api
from tokenkeep.web.admin import create_app

USER = "alice"
expect = playwright_api.expect

# Hyphenated names of every length from short to nearly a phone's line: wherever the
# sentence puts them, some reach a line's end.
NAMES = [
    "-".join(["ci", "deploy", "eu", "west", "nightly", "backup", "grafana", "read"][: 2 + i % 7])
    + f"-{i}"
    for i in range(14)
]

# For each name shown in a dialog: its text, the lines it spans (distinct tops of its text's
# boxes), its width on one line, and the room its block gives it.
LINES_OF_NAMES = """
(root) => Array.from(root.querySelectorAll(".name-unit")).filter((e) => e.offsetParent)
  .map((e) => { const r = document.createRange(); r.selectNodeContents(e);
    const tops = new Set(Array.from(r.getClientRects()).map((b) => Math.round(b.top)));
    e.style.whiteSpace = "nowrap"; const natural = e.getBoundingClientRect().width;
    e.style.whiteSpace = "";
    const p = e.parentElement, s = getComputedStyle(p);
    const room = p.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight);
    return [e.textContent, tops.size, natural, room]; })
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("admin-names") / "tokens.db"
    with tokenkeep.TokenStore(str(path)) as s:
        for name in NAMES:
            s.create(USER, name, {"device"})
        yield s


@pytest.fixture(scope="module")
def server(store):
    srv = Server(create_app(store, current_user=lambda r: r.headers.get("x-user") or USER))
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
def test_names_do_not_break_at_hyphens_in_dialogs(browser, server, store, viewport):
    context, page = new_page(browser, server.url, viewport)
    try:
        page.goto("/profile/access-tokens")
        broken, seen = [], 0
        for name in NAMES:
            for action, dialog_id in (
                ("Delete", "#revoke-dialog"),
                ("Regenerate", "#rotate-dialog"),
                ("Edit", "#edit-dialog"),
            ):
                page.get_by_role("link", name=f"{action} {name}", exact=True).click()
                dialog = page.locator(dialog_id)
                expect(dialog).to_be_visible()
                for text, lines, width, room in dialog.evaluate(LINES_OF_NAMES):
                    assert text == name
                    seen += 1
                    if lines != 1 and width < room:  # it would fit on a line, yet it broke
                        broken.append(f"{action}: {name!r} on {lines} lines")
                dialog.locator("[data-close]").first.click()
                expect(dialog).to_be_hidden()
        assert seen >= 3 * len(NAMES)
        assert broken == []
        assert not page.console_errors
    finally:
        context.close()


def test_revoke_all_confirms_the_count_then_says_it_is_done(browser, server, store):
    owner = "revoke-all-user"
    issued = [store.create(owner, f"job-{i}", {"device"}) for i in range(5)]
    other = store.create("someone-else", "theirs", {"device"})
    context, page = new_page(browser, server.url, DESKTOP, extra_http_headers={"X-User": owner})
    try:
        page.goto("/profile/access-tokens")
        expect(page.locator("#token-count")).to_have_text("5")
        page.get_by_role("link", name="Revoke all").click()
        dialog = page.locator("#revoke-all-dialog")
        expect(dialog).to_be_visible()
        expect(dialog).to_contain_text("Revoke all 5 of your active access tokens?")
        # Cancel first: nothing happens.
        dialog.get_by_role("button", name="Cancel").click()
        expect(dialog).to_be_hidden()
        assert all(store.check(t.secret) for t in issued)
        page.get_by_role("link", name="Revoke all").click()
        dialog.get_by_role("button", name="Revoke 5 tokens").click()
        banner = page.locator(".banner-ok")
        expect(banner).to_contain_text("All 5 of your access tokens were revoked.")
        expect(page.locator("#token-count")).to_have_text("0")
        expect(page.get_by_role("link", name="Revoke all")).to_have_count(0)
        assert not any(store.check(t.secret) for t in issued)
        assert store.check(other.secret)
        assert [e.action for e in store.audit(owner, limit=5)] == ["revoke"] * 5
        assert not page.console_errors
    finally:
        context.close()
