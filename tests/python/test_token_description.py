"""A token's optional description (GitHub's token "Note", issue 22 item 6): stored on both
backends, checked by the engine like a name, audited when changed, kept by rotate, and added
to a database of the previous schema version by its migration.

Every test that takes `db_path` (or `store`) runs on an SQLite file and on a fresh schema of
the PostgreSQL test server.
"""

from __future__ import annotations

import sqlite3
import subprocess
from datetime import timedelta

import pytest
import tokenkeep
from conftest import T0, db_path_both_backends
from tokenkeep import InvalidArgument, NotFound

db_path = db_path_both_backends  # every test here on SQLite and on PostgreSQL


def test_create_stores_the_description_and_every_read_returns_it(store, clock):
    issued = store.create("alice", "ci", {"device"}, description="  Deploys from CI  ")
    plain = store.create("alice", "plain", {"device"})
    assert issued.info.description == "Deploys from CI"  # stripped, as a name
    assert plain.info.description == ""
    assert store.get("alice", issued.info.id).description == "Deploys from CI"
    assert store.verify(issued.secret).description == "Deploys from CI"
    listed = {t.name: t.description for t in store.list("alice")}
    assert listed == {"ci": "Deploys from CI", "plain": ""}
    clock.advance(timedelta(minutes=1))
    rotated = store.rotate("alice", issued.info.id)
    assert rotated.info.description == "Deploys from CI"  # kept, like the name and scopes
    assert store.get("alice", rotated.info.id).description == "Deploys from CI"


def test_update_description_is_audited_and_seen_by_the_next_verification(store):
    issued = store.create("alice", "ci", {"device"})
    assert store.verify(issued.secret).description == ""  # cached now
    edited = store.update_description("alice", issued.info.id, "nightly backup", actor="admin")
    assert edited.description == "nightly backup"
    assert store.verify(issued.secret).description == "nightly backup"
    event = store.audit(owner="alice", limit=1)[0]
    assert (event.action, event.actor, event.token_id, event.detail) == (
        "update_description",
        "admin",
        issued.info.id,
        "nightly backup",
    )
    assert store.update_description("alice", issued.info.id, "").description == ""
    with pytest.raises(NotFound):
        store.update_description("bob", issued.info.id, "mine now")  # another owner's
    store.revoke("alice", issued.info.id)
    with pytest.raises(NotFound):
        store.update_description("alice", issued.info.id, "too late")


def test_bad_descriptions_are_refused_with_their_field_and_change_nothing(store):
    secret = store.create("alice", "ci", {"device"}).secret
    target = store.create("alice", "target", {"device"}).info
    bad = {
        "control character": "line one\nline two",
        "format character": "invisible\u200bjoin",
        "200 characters": "x" * 201,
        "token secret": f"copy of {secret}",
    }
    refused = 0
    for reason, text in bad.items():
        for call in (
            lambda text=text: store.create("alice", "new", {"device"}, description=text),
            lambda text=text: store.update_description("alice", target.id, text),
        ):
            with pytest.raises(InvalidArgument) as e:
                call()
            assert e.value.field == "description", reason
            assert secret not in str(e.value)
            refused += 1
        problems = store.create_problems("alice", "new", {"device"}, description=text)
        assert [p.field for p in problems] == ["description"], reason
    assert refused == 2 * len(bad)
    assert sorted(t.name for t in store.list("alice")) == ["ci", "target"]
    assert store.get("alice", target.id).description == ""
    assert store.create("alice", "max", {"device"}, description="é" * 200).info.description == (
        "é" * 200
    )


def test_a_database_of_the_previous_schema_gains_the_column(db_path):
    with tokenkeep.TokenStore(db_path) as store:
        old = store.create("alice", "old", {"device"})
    if db_path.startswith("postgresql:"):
        # Version 5 had neither the description nor what version 7 added (networks).
        sql = (
            "DROP TABLE tokenkeep_token_client; ALTER TABLE tokenkeep_tokens DROP COLUMN networks; "
            # ... nor version 8's partial leak index, but the (owner, action, seq) index.
            "DROP TABLE tokenkeep_audit_batch; "
            "DROP INDEX tokenkeep_audit_owner_leaked; DROP INDEX tokenkeep_tokens_recent; "
            "CREATE INDEX tokenkeep_audit_owner_action_seq ON tokenkeep_audit(owner, action, seq); "
            "ALTER TABLE tokenkeep_tokens DROP COLUMN description; UPDATE tokenkeep_schema SET version = 5"
        )
        subprocess.run(["psql", "-q", db_path, "-c", sql], check=True)
    else:
        con = sqlite3.connect(db_path)
        con.executescript(
            "DROP INDEX tokens_warm; DROP TABLE token_client; ALTER TABLE tokens DROP COLUMN networks; "
            "ALTER TABLE tokens DROP COLUMN description; PRAGMA user_version = 5;"
        )
        con.close()
    with tokenkeep.TokenStore(db_path) as store:
        assert store.get("alice", old.info.id).description == ""
        assert store.verify(old.secret).id == old.info.id
        new = store.create("alice", "new", {"device"}, description="after the upgrade")
        assert store.get("alice", new.info.id).description == "after the upgrade"
    if not db_path.startswith("postgresql:"):
        con = sqlite3.connect(db_path)
        try:
            assert (
                con.execute("PRAGMA user_version").fetchone()[0] == tokenkeep._core.SCHEMA_VERSION
            )
        finally:
            con.close()


def test_created_at_is_unchanged_by_a_description_edit(store):
    info = store.create("alice", "ci", {"device"}, description="a").info
    assert info.created_at == T0
    assert store.update_description("alice", info.id, "b")._replace(description="a") == info
