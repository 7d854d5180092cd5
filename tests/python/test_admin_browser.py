"""The Access Token page in a real browser: Debian's Chromium, headless, driven by Playwright.

The page runs under uvicorn in a background thread on a free loopback port, against a
temporary database holding 10,000 tokens of the user (one create_many), that the test also
opens with the library, so what the browser does is checked where it matters: the secret
read from the dialog verifies, the edited scope is what verification grants, the revoked
token is refused.

Screenshots of every dialog go to tests/artifacts/ (gitignored). Chromium is
$TOKENKEEP_CHROMIUM, else /usr/bin/chromium (Debian package ``chromium``, installed by
``make setup``); Playwright's own browser download is not used. A missing browser fails.
"""

import re
from datetime import UTC, datetime, timedelta

import pytest
import tokenkeep
from browser_kit import DESKTOP, PHONE, Server, launch, new_page, shot
from playwright import sync_api as playwright_api
from tokenkeep.web.admin import create_app

pytestmark = pytest.mark.browser

USER = "alice"
SEEDED = 10_000
expect = playwright_api.expect


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("admin-browser") / "tokens.db"
    with tokenkeep.TokenStore(str(path)) as s:
        s.create_many(
            USER,
            [(f"seed-{i:05d}", {"device:read"} if i % 2 else {"policy"}) for i in range(SEEDED)],
        )
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


@pytest.fixture
def page(browser, server):
    context, pg = new_page(browser, server.url, DESKTOP)
    yield pg
    context.close()


@pytest.fixture
def phone(browser, server):
    context, pg = new_page(
        browser, server.url, PHONE, is_mobile=True, has_touch=True, device_scale_factor=2
    )
    yield pg
    context.close()


def _date(dt: datetime) -> str:
    return f"{dt:%b} {dt.day}, {dt.year}"


def _row(page, name: str):
    return page.locator("#tokens-table tbody tr").filter(
        has=page.locator(".token-name", has_text=re.compile(f"^{re.escape(name)}$"))
    )


def _create_in_page(page, name: str, scopes=("device",)):
    page.get_by_role("link", name="Create Access Token").click()
    dialog = page.locator("#create-dialog")
    dialog.get_by_label("Token Name").fill(name)
    for s in scopes:
        dialog.locator(f'input[value="{s}"]').check()
    dialog.get_by_role("button", name="Create", exact=True).click()
    created = page.locator("#created-dialog")
    expect(created).to_be_visible()
    return created, page.locator("#new-token").inner_text()


def _close_secret(page):
    """Close the secret dialog the way a user does: Close, then confirm."""
    created = page.locator("#created-dialog")
    created.get_by_role("link", name="Close").click()
    expect(created.get_by_text("Did you copy it?")).to_be_visible()
    created.get_by_role("link", name="Yes, close").click()
    expect(page.locator("#created-dialog")).to_have_count(0)


def _inside(box, outer) -> bool:
    return (
        box["x"] >= outer["x"] - 0.5
        and box["y"] >= outer["y"] - 0.5
        and box["x"] + box["width"] <= outer["x"] + outer["width"] + 0.5
        and box["y"] + box["height"] <= outer["y"] + outer["height"] + 0.5
    )


def _on_screen(page, locator) -> bool:
    box = locator.bounding_box()
    vp = page.viewport_size
    return box is not None and _inside(
        box, {"x": 0, "y": 0, "width": vp["width"], "height": vp["height"]}
    )


def test_create_verify_edit_revoke_in_the_browser(page, store):
    store.create(owner=USER, name="grafana-readonly", scopes={"device:read", "policy:read"})
    store.create(
        owner=USER, name="nightly-backup", scopes={"collection"}, expires_in=timedelta(hours=20)
    )  # its last day: "Expires soon" (a token created for 5 days would not be, yet)

    page.goto("/")
    expect(page).to_have_url(re.compile(r"/profile/access-tokens$"))
    expect(page.locator("h1")).to_have_text("User Profile")
    expect(page.locator(".tab.active")).to_have_text("Access Token")

    # Create Access Token: name, two scopes (all of Device, read on Policy), 90 days.
    page.get_by_role("link", name="Create Access Token").click()
    dialog = page.locator("#create-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Token Name").fill("ci-deploy")
    dialog.locator('input[value="device"]').check()
    expect(
        dialog.locator('input[value="device:write"]')
    ).to_be_checked()  # the bare scope covers its actions
    dialog.locator('input[value="policy:read"]').check()
    dialog.get_by_label("Expiration", exact=True).select_option("90")
    expected_expiry = _date(datetime.now(UTC) + timedelta(days=90))
    expect(dialog.locator("#expiry-preview")).to_have_text(
        f"The token will expire on {expected_expiry}."
    )
    shot(page, "01-create-dialog")
    dialog.get_by_role("button", name="Create", exact=True).click()

    # The secret, once, in a monospace box that holds all of it, with a copy button.
    created = page.locator("#created-dialog")
    expect(created).to_be_visible()
    expect(created.get_by_role("heading")).to_have_text("Access token created successfully")
    expect(created).to_contain_text("cannot be viewed again")
    box = page.locator("#new-token")
    secret = box.inner_text()
    assert re.fullmatch(r"tk_[A-Za-z0-9]+", secret) and len(secret) == 63
    assert "mono" in box.evaluate("e => getComputedStyle(e).fontFamily").lower()
    assert box.evaluate("e => e.scrollWidth <= e.clientWidth && e.scrollHeight <= e.clientHeight")
    assert box.evaluate(
        "e => e.getBoundingClientRect().height"
        " < 2 * parseFloat(getComputedStyle(e).lineHeight) + 24"
    )
    created.get_by_role("button", name="Copy").click()
    expect(created.locator("[data-copy-label]")).to_have_text("Copied")
    status = created.locator("[data-copy-status]")
    expect(status).to_have_text("Copied")
    assert status.get_attribute("aria-live") == "polite"
    assert page.evaluate("navigator.clipboard.readText()") == secret
    shot(page, "02-token-created")

    info = store.verify(secret, "device:write", "policy:read")
    assert info.name == "ci-deploy" and info.scopes == {"device", "policy:read"}

    # Copied: Close closes at once; the list comes back by GET and the secret is gone.
    created.get_by_role("link", name="Close").click()
    expect(page).to_have_url(re.compile(r"/profile/access-tokens$"))
    expect(page.locator("#created-dialog")).to_have_count(0)
    assert secret not in page.content()

    row = _row(page, "ci-deploy")
    expect(row).to_have_count(1)
    expect(row.locator(".chip")).to_have_text(["Device", "Policy (read)"])
    expect(row.locator(".created-cell")).to_have_text(_date(info.created_at))
    expect(row.locator(".expires-cell time")).to_have_text(expected_expiry)
    expect(row.locator(".used-cell")).to_contain_text(_date(datetime.now(UTC)))  # verified above
    expect(page.locator("#tokens-table thead th")).to_have_text(
        ["Token Name", "Scope", "Date of Creation", "Date of Expiration", "Last Used", "Actions"]
    )
    expect(_row(page, "nightly-backup").locator(".badge")).to_have_text("Expires soon")
    expect(
        _row(page, "nightly-backup").get_by_role("link", name="Regenerate", exact=True)
    ).to_be_visible()
    shot(page, "03-list")

    # Edit: the one edit dialog, filled for this row. Device -> Collection (read).
    row.get_by_role("link", name="Edit ci-deploy").click()
    edit = page.locator("#edit-dialog")
    expect(edit).to_be_visible()
    expect(edit.locator("[data-fill=name]")).to_have_text("ci-deploy")
    expect(edit.locator('input[name="name"]')).to_have_count(0)  # the name cannot change
    expect(edit.locator('input[value="device"]')).to_be_checked()
    expect(edit.locator('input[value="policy:read"]')).to_be_checked()
    expect(edit.locator('input[value="collection:read"]')).not_to_be_checked()
    edit.locator('input[value="device"]').uncheck()
    expect(edit.locator('input[value="device:read"]')).not_to_be_checked()
    edit.locator('input[value="collection:read"]').check()
    shot(page, "04-edit-dialog")
    edit.get_by_role("button", name="Save Changes").click()

    updated = page.locator("#updated-dialog")
    expect(updated).to_contain_text("Access token updated successfully")
    expect(updated.locator(".chip")).to_have_text(["Collection (read)", "Policy (read)"])
    updated.get_by_role("link", name="Close").click()
    expect(page).to_have_url(re.compile(r"/profile/access-tokens$"))
    expect(_row(page, "ci-deploy").locator(".chip")).to_have_text(
        ["Collection (read)", "Policy (read)"]
    )
    assert store.verify(secret, "collection:read", "policy:read").id == info.id

    # The same edit dialog, now for another row: filled for that one.
    _row(page, "grafana-readonly").get_by_role("link", name="Edit grafana-readonly").click()
    expect(edit.locator("[data-fill=name]")).to_have_text("grafana-readonly")
    expect(edit.locator('input[value="collection:read"]')).not_to_be_checked()
    expect(edit.locator('input[value="device:read"]')).to_be_checked()
    edit.get_by_role("button", name="Cancel").click()

    # Delete: asks to confirm; Cancel keeps it, Revoke revokes it.
    _row(page, "ci-deploy").get_by_role("link", name="Delete ci-deploy").click()
    confirm = page.locator("#revoke-dialog")
    expect(confirm).to_contain_text("Are you sure you want to revoke ci-deploy?")
    shot(page, "06-revoke-confirm")
    confirm.get_by_role("button", name="Cancel").click()
    expect(confirm).to_be_hidden()
    assert store.check(secret)
    _row(page, "ci-deploy").get_by_role("link", name="Delete ci-deploy").click()
    confirm.get_by_role("button", name="Revoke").click()
    expect(page.locator(".banner-ok")).to_contain_text("revoked")
    expect(_row(page, "ci-deploy")).to_have_count(0)
    with pytest.raises(tokenkeep.RevokedToken):
        store.verify(secret)

    # The Inactive view lists it, read only.
    page.get_by_role("link", name="Inactive").click()
    expect(_row(page, "ci-deploy").locator(".status-cell")).to_have_text(
        f"Revoked on {_date(datetime.now(UTC))}"  # when, from TokenInfo.revoked_at
    )
    expect(page.locator("#tokens-table [data-action]")).to_have_count(0)
    assert not page.dialogs_seen and not page.console_errors


def test_actions_stay_visible_after_a_use_at_1280_px(page, store):
    issued = store.create(
        owner=USER,
        name="used-by-a-very-long-running-deployment-pipeline",
        scopes={"device", "policy"},
    )
    store.verify(issued.secret)
    store._e.uses_flush()
    page.goto("/profile/access-tokens")
    row = _row(page, issued.info.name)
    expect(row.locator(".used-cell time")).to_be_visible()
    wrap = page.locator(".table-wrap").bounding_box()
    for label in ("Edit", "Regenerate", "Delete"):
        button = row.get_by_role("link", name=f"{label} {issued.info.name}")
        box = button.bounding_box()
        assert _inside(box, wrap) and box["x"] + box["width"] <= DESKTOP["width"], (
            label,
            box,
            wrap,
        )
        # nothing covers it: the element at its centre is the button itself
        assert button.evaluate(
            "e => { const r = e.getBoundingClientRect();"
            " const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);"
            " return e.contains(hit); }"
        )
    assert page.evaluate("document.documentElement.scrollWidth") <= DESKTOP["width"]
    assert page.locator(".table-wrap").evaluate("e => e.scrollWidth <= e.clientWidth")
    shot(page, "10-used-1280")


def test_phone_has_no_horizontal_scroll_and_dialogs_on_screen(phone, store):
    issued = store.create(
        owner=USER, name="phone-token", scopes={"device:read", "policy:read", "collection"}
    )
    store.verify(issued.secret)
    store._e.uses_flush()
    phone.goto("/profile/access-tokens")
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    row = _row(phone, "phone-token")
    assert row.evaluate("e => getComputedStyle(e).display") == "block"  # a stacked card
    assert row.bounding_box()["width"] <= PHONE["width"]
    expect(row.get_by_role("link", name="Delete phone-token")).to_be_visible()
    shot(phone, "11-phone-list")

    phone.get_by_role("link", name="Create Access Token").click()
    create = phone.locator("#create-dialog")
    expect(create).to_be_visible()
    assert _on_screen(phone, create)
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(phone, "12-phone-create")
    create.get_by_role("button", name="Cancel").click()

    row.get_by_role("link", name="Edit phone-token").click()
    edit = phone.locator("#edit-dialog")
    expect(edit).to_be_visible()
    assert _on_screen(phone, edit)
    edit.get_by_role("button", name="Cancel").click()

    created, secret = _create_in_page(phone, "phone-new")
    assert _on_screen(phone, created)
    box = phone.locator("#new-token")
    assert box.evaluate("e => e.scrollWidth <= e.clientWidth")  # wraps inside its box, all visible
    assert _inside(box.bounding_box(), created.bounding_box())
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(phone, "13-phone-secret")
    _close_secret(phone)
    assert store.verify(secret).name == "phone-new"
    assert not phone.console_errors


def test_search_and_paging(page, store):
    page.goto("/profile/access-tokens")
    total = store.list(USER, state="active", limit=1).total  # the page opens on "active"
    expect(page.locator("#token-count")).to_have_text(f"{total:,}")
    expect(page.locator("#tokens-table tbody tr")).to_have_count(50)
    expect(page.locator("#pager-status")).to_have_text(f"1–50 of {total:,}")
    first_page = page.locator(".token-name").all_inner_texts()
    page.get_by_role("link", name="Next").click()
    expect(page.locator("#pager-status")).to_have_text(f"51–100 of {total:,}")
    assert set(page.locator(".token-name").all_inner_texts()).isdisjoint(first_page)
    page.get_by_role("link", name="Previous").click()
    expect(page.locator("#pager-status")).to_have_text(f"1–50 of {total:,}")

    page.get_by_role("searchbox", name="Search by name").fill("SEED-0999")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#token-count")).to_have_text("10")
    expect(page.locator(".token-name")).to_have_text([f"seed-0999{i}" for i in range(9, -1, -1)])

    # Sorting by name, then the scope filter, keeps the search.
    page.get_by_role("link", name="Token Name").click()
    expect(page.locator(".token-name").first).to_have_text("seed-09990")
    expect(page.locator("th.col-name")).to_have_attribute("aria-sort", "ascending")
    page.get_by_label("Filter by scope").select_option("policy")
    expect(page.locator("#token-count")).to_have_text("5")
    expect(page.locator(".token-name")).to_have_text([f"seed-0999{i}" for i in (0, 2, 4, 6, 8)])
    assert not page.console_errors


def test_regenerate_shows_the_new_secret_once(page, store):
    old = store.create(
        owner=USER, name="to-regenerate", scopes={"policy:read"}, expires_in=timedelta(hours=20)
    )
    page.goto("/profile/access-tokens")
    row = _row(page, "to-regenerate")
    expect(row.locator(".badge")).to_have_text("Expires soon")
    # From the row's actions: the same date is proposed ...
    row.get_by_role("link", name="Regenerate to-regenerate").click()
    confirm = page.locator("#rotate-dialog")
    expect(confirm).to_contain_text("Regenerate to-regenerate?")
    lifetime = confirm.get_by_label("Expiration")
    expect(lifetime).to_have_value("keep")
    expect(lifetime.locator("option").first).to_have_text(
        f"Keep the current date ({_date(old.info.expires_at)})"
    )
    confirm.get_by_role("button", name="Cancel").click()
    # ... and from the link next to "Expires soon", a renewal: 30 days from now.
    row.get_by_role("link", name="Regenerate", exact=True).click()
    expect(lifetime).to_have_value("30")
    shot(page, "14-regenerate-confirm")
    confirm.get_by_role("button", name="Regenerate").click()
    created = page.locator("#created-dialog")
    expect(created.get_by_role("heading")).to_have_text("Access token regenerated")
    secret = page.locator("#new-token").inner_text()
    assert secret != old.secret and len(secret) == 63
    renewed = store.verify(secret, "policy:read")
    assert renewed.name == "to-regenerate"
    assert (
        timedelta(days=29, hours=23) < renewed.expires_at - datetime.now(UTC) <= timedelta(days=30)
    )
    with pytest.raises(tokenkeep.RevokedToken):
        store.verify(old.secret)
    _close_secret(page)
    expect(_row(page, "to-regenerate")).to_have_count(1)
    expect(_row(page, "to-regenerate").locator(".badge")).to_have_count(
        0
    )  # no longer expiring soon
    assert secret not in page.content()


def test_secret_dialog_asks_did_you_copy_it_once(page, store):
    page.goto("/profile/access-tokens")
    created, secret = _create_in_page(page, "esc-test")
    page.keyboard.press("Escape")
    expect(created).to_be_visible()
    question = created.get_by_text("Did you copy it?")
    expect(question).to_be_visible()
    expect(page.locator("#new-token")).to_have_text(secret)  # still on screen
    shot(page, "15-did-you-copy")
    page.keyboard.press("Escape")  # asked once: now it closes
    expect(page.locator("#created-dialog")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"/profile/access-tokens$"))
    assert secret not in page.content()

    created, secret = _create_in_page(page, "close-test")
    created.get_by_role("link", name="Close").click()
    expect(created.get_by_text("Did you copy it?")).to_be_visible()
    created.get_by_role("button", name="Back to the token").click()
    expect(created).to_be_visible()
    created.get_by_role("link", name="Yes, close").click()
    expect(page.locator("#created-dialog")).to_have_count(0)
    assert not page.console_errors


def test_form_errors_are_tied_to_their_fields_and_shown_together(page, store):
    page.goto("/profile/access-tokens")
    page.get_by_role("link", name="Create Access Token").click()
    dialog = page.locator("#create-dialog")
    dialog.get_by_label("Token Name").fill("   ")
    dialog.get_by_label("Expiration", exact=True).select_option("custom")
    dialog.get_by_role("button", name="Create", exact=True).click()
    expect(dialog).to_be_visible()
    name = dialog.get_by_label("Token Name")
    expect(name).to_have_attribute("aria-invalid", "true")
    expect(name).to_have_accessible_description(re.compile("A token name must not be empty"))
    picker = dialog.locator("[data-scope-picker]")
    expect(picker).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#" + picker.get_attribute("aria-describedby"))).to_have_text(
        "At least one scope is required."
    )
    expiry = dialog.get_by_label("Expiration", exact=True)
    expect(expiry).to_have_attribute("aria-invalid", "true")
    expect(expiry).to_have_accessible_description(re.compile("Choose an expiration date"))
    expect(dialog.locator(".form-error")).to_have_text("Correct the 3 fields marked below.")
    shot(page, "08-errors")

    hostile = "<img src=x onerror=alert(1)>"
    name.fill(hostile)
    dialog.get_by_label("Expiration", exact=True).select_option("30")
    dialog.locator('input[value="device:read"]').check()
    dialog.get_by_role("button", name="Create", exact=True).click()
    expect(page.locator("#created-dialog strong").first).to_have_text(hostile)  # shown as text
    _close_secret(page)
    expect(_row(page, hostile)).to_have_count(1)
    assert page.locator("#tokens-table img").count() == 0
    assert not page.dialogs_seen and not page.console_errors


def test_dark_mode_follows_the_system(browser, server):
    colours = {}
    for scheme in ("light", "dark"):
        context, pg = new_page(browser, server.url, DESKTOP, color_scheme=scheme)
        pg.goto("/profile/access-tokens")
        colours[scheme] = pg.evaluate("getComputedStyle(document.body).backgroundColor")
        if scheme == "dark":
            shot(pg, "16-dark")
        context.close()
    assert colours["light"] != colours["dark"]
    assert colours["dark"] == "rgb(15, 19, 28)"
