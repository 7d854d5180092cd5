"""The Access Token page in a real browser: Debian's Chromium, headless, driven by Playwright.

The page runs under uvicorn in a background thread on a free loopback port, against a
temporary database that the test also opens with the library, so what the browser does is
checked where it matters: the secret read from the dialog verifies, the edited scope is what
verification grants, the revoked token is refused.

Screenshots of every dialog go to tests/artifacts/ (gitignored). Chromium is found at
$TOKENKEEP_CHROMIUM, else /usr/bin/chromium (Debian package ``chromium``); Playwright's own
browser download is not used.
"""

import os
import re
import shutil
import socket
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import tokenkeep

playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
uvicorn = pytest.importorskip("uvicorn")
from tokenkeep.web.admin import create_app

CHROMIUM = os.environ.get("TOKENKEEP_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "artifacts")
USER = "alice"
TIMEOUT_MS = 10_000

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Server:
    """uvicorn in a thread, on a free loopback port; stopped by ``close()``."""

    def __init__(self, app) -> None:
        self.port = _free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="admin-page", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the admin page did not start")
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("admin-browser") / "tokens.db"
    with tokenkeep.TokenStore(str(path)) as s:
        yield s


@pytest.fixture(scope="module")
def server(store):
    srv = _Server(create_app(store, current_user=lambda request: USER))
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def browser():
    os.makedirs(ARTIFACTS, exist_ok=True)
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 860}, base_url=server.url)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    pg.dialogs_seen = []  # window.alert & co.: an injected script would show up here
    pg.on("dialog", lambda d: (pg.dialogs_seen.append(d.message), d.dismiss()))
    pg.console_errors = []  # script errors and CSP violations; 4xx answers to forms are expected
    pg.on("pageerror", lambda e: pg.console_errors.append(str(e)))
    pg.on(
        "console",
        lambda m: (
            pg.console_errors.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    yield pg
    context.close()


def _shot(page, name: str) -> str:
    path = os.path.join(ARTIFACTS, f"{name}.png")
    page.screenshot(path=path)
    return path


def _date(dt: datetime) -> str:
    return f"{dt:%b} {dt.day}, {dt.year}"


def _row(page, name: str):
    return page.locator("#tokens-table tbody tr").filter(
        has=page.locator(".token-name", has_text=re.compile(f"^{re.escape(name)}$"))
    )


def test_create_verify_edit_revoke_in_the_browser(page, store):
    # Two tokens made with the library, so the table has neighbours.
    store.create(owner=USER, name="grafana-readonly", scopes={"device:read", "policy:read"})
    store.create(
        owner=USER, name="nightly-backup", scopes={"collection"}, expires_in=timedelta(days=5)
    )

    page.goto("/")
    expect = playwright_api.expect
    expect(page).to_have_url(re.compile(r"/profile/access-tokens$"))
    expect(page.locator("h1")).to_have_text("User Profile")
    expect(page.locator(".tab.active")).to_have_text("Access Token")

    # Create Access Token: name, two scopes (all of Device, read on Policy), 90 days.
    page.get_by_role("button", name="Create Access Token").click()
    dialog = page.locator("#create-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading")).to_have_text("Create Access Token")
    dialog.get_by_label("Token Name").fill("ci-deploy")
    dialog.locator('input[value="device"]').check()
    expect(
        dialog.locator('input[value="device:write"]')
    ).to_be_checked()  # the bare scope covers its actions
    dialog.locator('input[value="policy:read"]').check()
    dialog.get_by_label("Expiration", exact=True).select_option("90")
    _shot(page, "01-create-dialog")
    dialog.get_by_role("button", name="Create", exact=True).click()

    # The secret, once, with a copy button and the caution.
    created = page.locator("#created-dialog")
    expect(created).to_be_visible()
    expect(created.get_by_role("heading")).to_have_text("Access token created successfully")
    expect(created).to_contain_text("cannot be viewed again")
    secret = page.locator("#new-token").input_value()
    assert re.fullmatch(r"tk_[A-Za-z0-9]+", secret)
    created.get_by_role("button", name="Copy").click()
    expect(created.locator("[data-copy-label]")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == secret
    _shot(page, "02-token-created")

    info = store.verify(secret, "device:write", "policy:read")
    assert info.name == "ci-deploy" and info.scopes == {"device", "policy:read"}
    with pytest.raises(tokenkeep.InsufficientScope):
        store.verify(secret, "policy:write")

    # Close: back to the list by GET; the secret is gone from the page.
    created.get_by_role("link", name="Close").click()
    expect(page).to_have_url(re.compile(r"/profile/access-tokens$"))
    expect(page.locator("#created-dialog")).to_have_count(0)
    assert secret not in page.content()

    row = _row(page, "ci-deploy")
    expect(row).to_have_count(1)
    expect(row.locator(".chip")).to_have_text(["Device", "Policy (read)"])
    expect(row.locator(".created-cell")).to_have_text(_date(info.created_at))
    expect(row.locator(".expires-cell time")).to_have_text(_date(info.expires_at))
    assert info.expires_at - info.created_at == timedelta(days=90)
    expect(row.locator(".used-cell")).to_contain_text(
        _date(datetime.now(timezone.utc))
    )  # verified above
    expect(page.locator("#tokens-table thead th")).to_have_text(
        ["Token Name", "Scope", "Date of Creation", "Date of Expiration", "Last Used", "Actions"]
    )
    expect(_row(page, "nightly-backup").locator(".badge")).to_have_text("Expires soon")
    _shot(page, "03-list")

    # Edit Access Token: only the scope. Device -> Collection (read); Policy (read) stays.
    row.get_by_role("button", name="Edit ci-deploy").click()
    edit = page.locator(f"#edit-{info.id}")
    expect(edit).to_be_visible()
    expect(edit.get_by_role("heading")).to_have_text("Edit Access Token")
    expect(edit.locator('input[name="name"]')).to_have_count(0)  # the name cannot change
    expect(edit.locator('input[value="device"]')).to_be_checked()
    expect(edit.locator('input[value="policy:read"]')).to_be_checked()
    edit.locator('input[value="device"]').uncheck()
    expect(edit.locator('input[value="device:read"]')).not_to_be_checked()
    edit.locator('input[value="collection:read"]').check()
    _shot(page, "04-edit-dialog")
    edit.get_by_role("button", name="Save Changes").click()

    updated = page.locator("#updated-dialog")
    expect(updated).to_be_visible()
    expect(updated).to_contain_text("Access token updated successfully")
    expect(updated.locator(".chip")).to_have_text(["Collection (read)", "Policy (read)"])
    _shot(page, "05-edit-saved")
    updated.get_by_role("link", name="Close").click()
    expect(page).to_have_url(re.compile(r"/profile/access-tokens$"))
    expect(_row(page, "ci-deploy").locator(".chip")).to_have_text(
        ["Collection (read)", "Policy (read)"]
    )
    assert store.verify(secret, "collection:read", "policy:read").id == info.id
    with pytest.raises(tokenkeep.InsufficientScope):
        store.verify(secret, "device:read")

    # Delete: asks to confirm; Cancel keeps it, Revoke revokes it.
    _row(page, "ci-deploy").get_by_role("button", name="Delete ci-deploy").click()
    confirm = page.locator(f"#revoke-{info.id}")
    expect(confirm).to_be_visible()
    expect(confirm).to_contain_text("Are you sure you want to revoke ci-deploy?")
    _shot(page, "06-revoke-confirm")
    confirm.get_by_role("button", name="Cancel").click()
    expect(confirm).to_be_hidden()
    assert store.check(secret)

    _row(page, "ci-deploy").get_by_role("button", name="Delete ci-deploy").click()
    confirm.get_by_role("button", name="Revoke").click()
    expect(page.locator(".banner-ok")).to_contain_text("revoked")
    expect(_row(page, "ci-deploy")).to_have_count(0)
    expect(_row(page, "grafana-readonly")).to_have_count(1)
    _shot(page, "07-revoked")
    with pytest.raises(tokenkeep.RevokedToken):
        store.verify(secret)
    assert not page.dialogs_seen and not page.console_errors


def test_form_errors_and_escaping_in_the_browser(page, store):
    hostile = "<img src=x onerror=alert(1)>"
    page.goto("/profile/access-tokens")
    expect = playwright_api.expect

    # No scope selected: the dialog comes back with the message and what was typed.
    page.get_by_role("button", name="Create Access Token").click()
    dialog = page.locator("#create-dialog")
    dialog.get_by_label("Token Name").fill(hostile)
    dialog.get_by_role("button", name="Create", exact=True).click()
    expect(dialog).to_be_visible()
    expect(dialog.locator(".form-error")).to_have_text("Select at least one scope.")
    expect(dialog.get_by_label("Token Name")).to_have_value(hostile)
    _shot(page, "08-no-scope")

    dialog.locator('input[value="device:read"]').check()
    dialog.get_by_role("button", name="Create", exact=True).click()
    expect(page.locator("#created-dialog")).to_be_visible()
    expect(page.locator("#created-dialog strong").first).to_have_text(hostile)  # shown as text
    page.locator("#created-dialog").get_by_role("link", name="Close").click()
    expect(_row(page, hostile)).to_have_count(1)
    assert page.locator("#tokens-table img").count() == 0

    # The same name again: a clear message, nothing created.
    before = len(store.list(owner=USER))
    page.get_by_role("button", name="Create Access Token").click()
    dialog.get_by_label("Token Name").fill(hostile)
    dialog.locator('input[value="policy"]').check()
    dialog.get_by_role("button", name="Create", exact=True).click()
    expect(dialog.locator(".form-error")).to_contain_text(
        f"You already have an access token named “{hostile}”"
    )
    _shot(page, "09-duplicate-name")
    assert len(store.list(owner=USER)) == before
    assert not page.dialogs_seen and not page.console_errors
