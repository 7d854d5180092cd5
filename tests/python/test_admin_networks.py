"""The Access Token page's networks (issue 21): "Restrict to networks" in the create and edit
dialogs with its errors tied to the field, each row's networks and recent clients, and
"Restrict to the networks it used" — without script over HTTP, and clicked in Chromium."""

import html
import re

import pytest
import tokenkeep
from conftest import db_path_both_backends
from test_admin_hygiene import checked_in, client, csrf_of, edit_dialog_of, row_of
from test_admin_page import START
from tokenkeep.web.admin import create_app

CLOCK_START = START
PAGE = "/profile/access-tokens"
db_path = db_path_both_backends  # every test here on SQLite and on PostgreSQL


def create_form(page_html: str, **fields) -> dict:
    return {
        "csrf_token": csrf_of(page_html),
        "name": "ci",
        "scopes": ["device"],
        "expiry": "30",
        **fields,
    }


def networks_field(dialog_html: str, field_id: str) -> tuple[str, str]:
    """(the textarea's value, its tag) of a networks field."""
    m = re.search(rf'(<textarea id="{field_id}"[^>]*>)(.*?)</textarea>', dialog_html, re.DOTALL)
    assert m, field_id
    return html.unescape(m.group(2)), m.group(1)


def test_create_with_networks_binds_the_token(store):
    alice = client(store, "alice")
    page = alice.get(PAGE).text
    assert 'for="token-networks"' in page and "Restrict to networks (optional)" in page
    r = alice.post(
        PAGE, data=create_form(page, networks="198.51.100.0/24\r\n2001:db8::/32, 192.0.2.7")
    )
    assert r.status_code == 200, r.text
    (info,) = store.list("alice")
    assert info.networks == {"198.51.100.0/24", "2001:db8::/32", "192.0.2.7/32"}


def test_a_bad_network_is_an_error_of_the_field_and_creates_nothing(store):
    alice = client(store, "alice")
    page = alice.get(PAGE).text
    r = alice.post(PAGE, data=create_form(page, name=" ", networks="10.0.0.0/8\n300.0.0.0/8"))
    assert r.status_code == 400
    assert store.list("alice").total == 0
    value, tag = networks_field(r.text, "token-networks")
    assert value == "10.0.0.0/8\n300.0.0.0/8"  # given back as typed
    assert 'aria-invalid="true"' in tag and "token-networks-error" in tag
    error = re.search(
        r'<p class="field-error" id="token-networks-error">(.*?)</p>', r.text, re.DOTALL
    )
    assert error and "300.0.0.0/8" in html.unescape(error.group(1))
    # the name error is shown too, at once or once the networks are right
    r = alice.post(PAGE, data=create_form(page, name=" ", networks="10.0.0.0/8"))
    assert r.status_code == 400 and 'id="token-name-error">' in r.text
    assert 'aria-invalid="true"' not in networks_field(r.text, "token-networks")[1]


def test_rows_show_networks_and_recent_clients(store):
    bound = store.create(
        "alice", "bound", {"device:read"}, networks=["198.51.100.0/24", "2001:db8::/32"]
    )
    store.verify(bound.secret, client="198.51.100.7")
    store.verify(bound.secret, client="198.51.100.6")
    free = store.create("alice", "free", {"device:read"})
    page = client(store, "alice").get(PAGE).text
    row = row_of(page, "bound")
    assert row["data-networks"] == "198.51.100.0/24 2001:db8::/32"
    assert set(row["data-clients"].split(", ")) == {"198.51.100.7", "198.51.100.6"}
    assert row["data-suggested"] == "198.51.100.6/31"
    assert "Only from 198.51.100.0/24, 2001:db8::/32" in page
    assert "Used from 2 addresses" in page and "<code>198.51.100.7</code>" in page
    assert row_of(page, "free")["data-networks"] == "" and "data-clients" not in row_of(
        page, "free"
    )
    assert free.secret not in page and bound.secret not in page


def test_edit_saves_networks_and_a_bad_one_changes_nothing(store):
    token = store.create("alice", "t", {"device", "policy"})
    alice = client(store, "alice")
    page = alice.get(f"{PAGE}?edit={token.info.id}").text
    assert networks_field(edit_dialog_of(page), "edit-networks")[0] == ""
    url = f"{PAGE}/{token.info.id}/scopes"
    r = alice.post(
        url, data={"csrf_token": csrf_of(page), "scopes": ["device"], "networks": "nope"}
    )
    assert r.status_code == 400
    after = store.get("alice", token.info.id)
    assert after.networks == frozenset() and after.scopes == {"device", "policy"}  # nothing saved
    dialog = edit_dialog_of(r.text)
    value, tag = networks_field(dialog, "edit-networks")
    assert value == "nope" and 'aria-invalid="true"' in tag
    assert checked_in(dialog) >= {"device"}
    r = alice.post(
        url, data={"csrf_token": csrf_of(page), "scopes": ["device"], "networks": "10.0.0.0/8"}
    )
    assert r.status_code == 303
    after = store.get("alice", token.info.id)
    assert after.networks == {"10.0.0.0/8"} and after.scopes == {"device"}
    updated = alice.get(r.headers["location"]).text
    assert "It may be used only from" in updated and "10.0.0.0/8" in updated
    page = alice.get(f"{PAGE}?edit={token.info.id}").text
    assert networks_field(edit_dialog_of(page), "edit-networks")[0] == "10.0.0.0/8"
    # An empty field unbinds; a form without the field (an older page) leaves them alone.
    alice.post(url, data={"csrf_token": csrf_of(page), "scopes": ["device"]})
    assert store.get("alice", token.info.id).networks == {"10.0.0.0/8"}
    alice.post(url, data={"csrf_token": csrf_of(page), "scopes": ["device"], "networks": ""})
    assert store.get("alice", token.info.id).networks == frozenset()


def test_no_script_restrict_link_fills_the_field_with_the_suggestion(store):
    token = store.create("alice", "t", {"device"})
    for address in ("192.0.2.6", "192.0.2.7", "2001:db8::5"):
        store.verify(token.secret, client=address)
    alice = client(store, "alice")
    dialog = edit_dialog_of(alice.get(f"{PAGE}?edit={token.info.id}").text)
    assert "Restrict to the networks it used" in dialog
    link = html.unescape(
        re.search(
            r'<a class="button button-small" data-restrict[^>]*href="([^"]*)"', dialog, re.DOTALL
        ).group(1)
    )
    assert link == f"{PAGE}?edit={token.info.id}&restrict=1"
    page = alice.get(link).text
    value, _ = networks_field(edit_dialog_of(page), "edit-networks")
    assert value == "192.0.2.6/31\n2001:db8::5/128"
    assert store.get("alice", token.info.id).networks == frozenset()  # not saved yet
    never = store.create("alice", "never-used", {"device"})
    dialog = edit_dialog_of(alice.get(f"{PAGE}?edit={never.info.id}").text)
    assert re.search(r"data-restrict[^>]*hidden", dialog)


@pytest.mark.browser
def test_restrict_to_the_networks_it_used_in_the_browser(tmp_path):
    from browser_kit import TIMEOUT_MS, Server, launch, shot
    from playwright import sync_api as playwright_api

    expect = playwright_api.expect
    with tokenkeep.TokenStore(str(tmp_path / "tokens.db")) as store:
        store.create_many("alice", [(f"seed-{i:02d}", {"policy"}) for i in range(5)])
        deploy = store.create("alice", "deploy", {"device"})
        for address in ("198.51.100.6", "198.51.100.7", "2001:db8::5"):
            store.verify(deploy.secret, client=address)
        server = Server(create_app(store, current_user=lambda request: "alice"))
        try:
            with playwright_api.sync_playwright() as p:
                b = launch(p)  # fails, never skips, without Chromium
                page = b.new_page(base_url=server.url, viewport={"width": 1280, "height": 900})
                page.set_default_timeout(TIMEOUT_MS)
                errors = []
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.goto(PAGE)
                row = page.locator(f'tr[data-token-id="{deploy.info.id}"]')
                row.get_by_text("Used from 3 addresses").click()  # the row's detail opens
                expect(row.locator("code", has_text="2001:db8::5")).to_be_visible()
                page.get_by_role("link", name="Edit deploy").click()
                edit = page.locator("#edit-dialog")
                expect(edit).to_be_visible()
                field = edit.locator("#edit-networks")
                expect(field).to_have_value("")
                expect(edit.locator("[data-clients-text]")).to_contain_text("198.51.100.7")
                edit.get_by_role("link", name="Restrict to the networks it used").click()
                expect(field).to_have_value("198.51.100.6/31\n2001:db8::5/128")
                assert page.url.endswith(PAGE)  # filled in place, nothing saved yet
                assert store.get("alice", deploy.info.id).networks == frozenset()
                shot(page, "restrict-networks-dialog")
                edit.get_by_role("button", name="Save Changes").click()
                expect(page.locator("#updated-dialog")).to_be_visible()
                assert errors == []
                b.close()
        finally:
            server.close()
        assert store.get("alice", deploy.info.id).networks == {"198.51.100.6/31", "2001:db8::5/128"}
        with pytest.raises(tokenkeep.NetworkNotAllowed):
            store.verify(deploy.secret, client="198.51.100.8")
        assert store.verify(deploy.secret, client="198.51.100.6").id == deploy.info.id
