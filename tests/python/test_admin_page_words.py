"""The Access Token page over HTTP (issue 22): what each scope grants next to its checkbox,
in the deployment's words or a default; and "Revoke all" for the signed-in owner."""

from __future__ import annotations

import html
import re
import warnings
from datetime import UTC, datetime

import pytest
import tokenkeep
from tokenkeep.web.admin import create_app
from tokenkeep.web.scope_words import scope_descriptions

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

BASE = "http://127.0.0.1:8000"
CLOCK_START = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
PAGE = "/profile/access-tokens"


def client(app, user: str) -> TestClient:
    c = TestClient(app, base_url=BASE, follow_redirects=False)
    c.headers["X-User"] = user
    return c


def app_of(store, **options):
    return create_app(store, current_user=lambda r: r.headers.get("x-user"), **options)


def csrf_of(text: str) -> str:
    return re.search(r'name="csrf_token" value="([0-9a-f]+)"', text).group(1)


def descriptions(text: str, prefix: str) -> dict[str, str]:
    """Each scope checkbox of a picker -> the text its aria-describedby points at."""
    out = {}
    for value, desc_id in re.findall(
        rf'id="{prefix}-[^"]+" name="scopes" value="([^"]+)" data-scope-main\s+'
        r'aria-describedby="([^"]+)"',
        text,
    ):
        found = re.search(rf'<p class="scope-desc" id="{desc_id}">([^<]*)</p>', text)
        out[value] = html.unescape(found.group(1))
    return out


def test_default_words_come_from_the_vocabulary():
    vocabulary = {"device": ["read", "write"], "audit_log": ["read"], "admin": []}
    words = scope_descriptions(vocabulary)
    assert words == {
        "device": "Every action on Device: read and write",
        "device:read": "Read access to Device",
        "device:write": "Write access to Device",
        "audit_log": "Every action on Audit log: read",
        "audit_log:read": "Read access to Audit log",
        "admin": "Full access to Admin",
    }


def test_each_scope_says_what_it_grants_in_create_and_edit(store):
    vocab = store.vocabulary
    alice = client(app_of(store), "alice")
    issued = store.create("alice", "ci", {"device"})
    text = alice.get(PAGE, params={"edit": issued.info.id}).text
    defaults = scope_descriptions(vocab)
    for picker in ("create-scope", "edit-scope"):
        shown = descriptions(text, picker)
        assert shown == {name: defaults[name] for name in vocab}, picker
    for name, actions in vocab.items():
        for action in actions:  # each action's words on its label
            assert f'title="{defaults[f"{name}:{action}"]}"' in text


def test_a_deployment_words_its_scopes_and_a_typo_is_refused(store):
    name = sorted(store.vocabulary)[0]
    action = store.vocabulary[name][0]
    hostile = "Read & manage <b>devices</b>"
    alice = client(
        app_of(store, scope_descriptions={name: hostile, f"{name}:{action}": "Only look"}),
        "alice",
    )
    text = alice.get(PAGE).text
    assert descriptions(text, "create-scope")[name] == hostile  # escaped, shown as written
    assert "<b>devices</b>" not in text
    assert 'title="Only look"' in text
    with pytest.raises(tokenkeep.InvalidArgument, match="not in the vocabulary"):
        app_of(store, scope_descriptions={"no_such_scope": "x"})
    with pytest.raises(tokenkeep.InvalidArgument, match="non-empty"):
        app_of(store, scope_descriptions={name: " "})


def test_revoke_all_confirms_the_count_revokes_only_the_owners_and_is_audited(store):
    app = app_of(store)
    alice, bob = client(app, "alice"), client(app, "bob")
    mine = [store.create("alice", f"t{i}", {"device"}) for i in range(3)]
    gone = store.create("alice", "already-gone", {"device"})
    store.revoke("alice", gone.info.id)
    theirs = store.create("bob", "bobs", {"device"})

    text = alice.get(PAGE, params={"revoke_all": "1"}).text  # the dialog, also without script
    assert re.search(r'<dialog id="revoke-all-dialog"[^>]* open data-autoshow', text)
    assert 'name="count" value="3"' in text and ">Revoke 3 tokens</button>" in text

    # A count that no longer matches (a token made meanwhile) revokes nothing.
    late = store.create("alice", "late", {"device"})
    r = alice.post(PAGE + "/revoke-all", data={"csrf_token": csrf_of(text), "count": "3"})
    assert r.status_code == 409 and "nothing was revoked" in r.text
    assert all(store.check(t.secret) for t in [*mine, late])

    # Without the CSRF token: refused.
    r = alice.post(PAGE + "/revoke-all", data={"count": "4"})
    assert r.status_code == 403 and all(store.check(t.secret) for t in [*mine, late])

    r = alice.post(PAGE + "/revoke-all", data={"csrf_token": csrf_of(text), "count": "4"})
    assert r.status_code == 303
    assert r.headers["location"] == PAGE + "?revoked_all=4"
    assert not any(store.check(t.secret) for t in [*mine, late])
    assert store.check(theirs.secret)  # bob's token is not alice's to revoke
    events = store.audit("alice", limit=4)
    assert [e.action for e in events] == ["revoke"] * 4
    assert {e.token_id for e in events} == {t.info.id for t in [*mine, late]}
    assert {e.actor for e in events} == {"alice"}

    after = alice.get(r.headers["location"]).text
    assert "All 4 of your access tokens were revoked." in after
    assert 'id="revoke-all-dialog"' not in after and ">Revoke all</a>" not in after  # none left
    # The banner states a count only when the audit log bears it out.
    forged = alice.get(PAGE, params={"revoked_all": "40"}).text
    assert "All 40" not in forged and "Your access tokens were revoked." in forged
    assert ">Revoke all</a>" in bob.get(PAGE).text


def test_revoke_all_with_nothing_to_revoke_says_so(store):
    alice = client(app_of(store), "alice")
    text = alice.get(PAGE).text
    assert ">Revoke all</a>" not in text
    r = alice.post(PAGE + "/revoke-all", data={"csrf_token": csrf_of(text), "count": "0"})
    assert r.status_code == 409 and "no active access tokens" in r.text
