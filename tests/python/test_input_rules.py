"""The engine's input rules as every surface sees them (issue 10 items 8 and 9, and `.field`).

Look-alike, invisible and reversed names; secrets pasted where a name, owner or actor goes;
and the structured ``field`` every argument error carries so surfaces need not parse text.
"""

from __future__ import annotations

import os
import subprocess
import sys
import unicodedata
from datetime import timedelta

import pytest
from tokenkeep import InvalidArgument, NameTaken, NotFound, UnknownScope

# -- item 8: look-alike and invisible names ------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "dep\u200bloy",  # zero-width space
        "dep\u200dloy",  # zero-width joiner
        "\u202eyolped-dorp",  # right-to-left override: renders as "prod-deploy"
        "prod\u2066deploy\u2069",  # isolates
        "\ufeffdeploy",  # BOM
        "deploy\U000e0041",  # tag character
    ],
)
def test_names_with_format_characters_are_refused(store, name):
    with pytest.raises(InvalidArgument, match="invisible format characters") as e:
        store.create("alice", name, {"device"})
    assert e.value.field == "name"
    assert store.list("alice") == []


@pytest.mark.parametrize(
    "name", ["\u3164", "\u115f\u1160", "\u2800\u2800", "\u0301\u0302", "\ufe0f", "\u3000x"[:1]]
)
def test_names_without_a_visible_character_are_refused(store, name):
    with pytest.raises(InvalidArgument) as e:
        store.create("alice", name, {"device"})
    assert e.value.field == "name"
    assert store.list("alice") == []


def test_composed_and_decomposed_names_are_one_name(store):
    composed = "d\u00e9ploy"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    first = store.create("alice", decomposed, {"device"})
    assert first.info.name == composed  # stored in NFC
    with pytest.raises(NameTaken) as e:
        store.create("alice", composed, {"device"})
    assert e.value.field == "name"
    with pytest.raises(NameTaken):
        store.create_many("alice", [(decomposed, {"device"})])


def test_ordinary_unicode_names_still_work(store):
    for name in ["déploy", "部署", "Ünïcödé ✓", "emoji 🚀", "Ελληνικά", "日本語 テスト"]:
        assert store.create("alice", name, {"device"}).info.name == unicodedata.normalize(
            "NFC", name
        )


def test_owners_and_actors_with_format_characters_are_refused(store):
    with pytest.raises(InvalidArgument) as e:
        store.create("ali\u200bce", "ci", {"device"})
    assert e.value.field == "owner"
    with pytest.raises(InvalidArgument) as e:
        store.create("alice", "ci", {"device"}, actor="ad\u202emin")
    assert e.value.field == "actor"
    assert store.audit() == []


# -- item 9: secret-shaped input -------------------------------------------------------------


def test_a_name_owner_or_actor_holding_a_token_is_refused_without_repeating_it(store):
    secret = store.create("alice", "real", {"device"}).secret
    attempts = [
        lambda: store.create("alice", secret, {"device"}),
        lambda: store.create("alice", f"copy of {secret} here", {"device"}),
        lambda: store.create_many("alice", [("ok", {"device"}), (secret, {"device"})]),
        lambda: store.list(secret),
        lambda: store.create(secret, "x", {"device"}),
        lambda: store.create("alice", "x", {"device"}, actor=secret),
        lambda: store.revoke("alice", store.list("alice")[0].id, actor=f"by {secret}"),
    ]
    fields = ["name", "name", "name", "owner", "owner", "actor", "actor"]
    for attempt, field in zip(attempts, fields, strict=True):
        with pytest.raises(InvalidArgument) as e:
            attempt()
        assert e.value.field == field
        assert secret not in str(e.value) and secret[3:20] not in str(e.value)
        assert "contains a token secret" in str(e.value)
    assert [t.name for t in store.list("alice")] == ["real"]
    assert store.verify(secret).name == "real"  # still live: refusing never revoked anything


def test_a_near_miss_of_a_token_is_an_ordinary_name(store):
    secret = store.create("alice", "real", {"device"}).secret
    typo = secret[:-1] + ("a" if secret[-1] != "a" else "b")  # checksum no longer matches
    assert store.create("alice", typo, {"device"}).info.name == typo


def test_cli_owner_holding_a_token_is_not_printed(tmp_path, db_path):
    from tokenkeep import TokenStore

    with TokenStore(db_path) as s:
        secret = s.create("alice", "real", {"device"}).secret
    run = subprocess.run(
        [sys.executable, "-m", "tokenkeep", "--db", db_path, "--owner", secret, "list"],
        capture_output=True,
        text=True,
        env={**os.environ},
        timeout=60,
    )
    assert run.returncode != 0
    assert secret not in run.stdout + run.stderr
    assert "contains a token secret" in run.stderr


# -- structured fields -------------------------------------------------------------------------


def test_argument_errors_name_their_field(store):
    cases = [
        (lambda: store.create("alice", " ", {"device"}), InvalidArgument, "name"),
        (lambda: store.create("", "ci", {"device"}), InvalidArgument, "owner"),
        (lambda: store.create("alice", "ci", {"nope"}), UnknownScope, "scopes"),
        (lambda: store.create("alice", "ci", set()), InvalidArgument, "scopes"),
        (
            lambda: store.create("alice", "ci", {"device"}, expires_in=timedelta(days=999)),
            InvalidArgument,
            "expires_in",
        ),
        (
            lambda: store.create(
                "alice", "ci", {"device"}, expires_at=store.now() - timedelta(days=1)
            ),
            InvalidArgument,
            "expires_at",
        ),
        (
            lambda: store.create("alice", "ci", {"device"}, never_expires=True),
            InvalidArgument,
            "never_expires",
        ),
        (lambda: store.get("alice", "nosuchtoken"), NotFound, "token_id"),
    ]
    for call, cls, field in cases:
        with pytest.raises(cls) as e:
            call()
        assert e.value.field == field, (field, str(e.value))
    store.create("alice", "ci", {"device"})
    with pytest.raises(NameTaken) as e:
        store.create("alice", "ci", {"device"})
    assert e.value.field == "name"
