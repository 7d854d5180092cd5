"""Leak response: store.scan_leaked / revoke_leaked / leaked_notices on a realistic mixed text
(log lines, a diff, JSON, URL query strings) with near-miss strings around the real tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest
import tokenkeep
from leak_corpus import make_world
from tokenkeep.errors import InvalidArgument, RevokedToken


@pytest.fixture
def world(tmp_path):
    store, t, text, clock = make_world(tmp_path)
    yield store, t, text, clock
    store.close()


def test_scan_revokes_every_valid_token_and_reports_the_rest(world):
    store, t, text, _ = world
    report = store.scan_leaked(text, source="incident-42.txt")
    assert not report.dry_run
    assert [(f.token_id, f.outcome, f.line) for f in report.findings] == [
        (t["log"].info.id, "revoked", 1),
        (t["diff"].info.id, "revoked", 7),
        (t["json"].info.id, "revoked", 9),
        (t["url"].info.id, "revoked", 10),
        (t["revoked"].info.id, "already_revoked", 11),
        (t["expired"].info.id, "expired", 11),
        (t["forged"].info.id, "unknown", 12),
    ]
    assert {i.name for i in report.revoked} == {"ci-deploy", "laptop", "backup", "dashboard"}
    assert {i.owner for i in report.revoked} == {"alice", "bob", "carol"}  # whatever the owner
    assert [i.name for i in report.already_revoked] == ["old"]
    assert [i.name for i in report.expired] == ["short"]
    assert [f.token_id for f in report.unknown] == [t["forged"].info.id]
    assert report.unknown[0].token is None  # a forgery learns nothing about the real token
    for key in ("log", "diff", "json", "url"):
        with pytest.raises(RevokedToken):
            store.verify(t[key].secret)
    assert store.check(t["forged"].secret) and store.check(t["near"].secret)
    assert text.encode().find(t["log"].secret.encode()) == report.findings[0].offset


def test_audit_says_leaked_and_where_and_no_secret_reaches_the_database(world, tmp_path):
    store, t, text, _ = world
    store.revoke_leaked(text, actor="secops", source="incident-42.txt")
    events = [e for e in store.audit(limit=100) if e.action == "leaked"]
    assert sorted((e.owner, e.name, e.detail, e.actor) for e in events) == [
        ("alice", "ci-deploy", "incident-42.txt, line 1", "secops"),
        ("alice", "laptop", "incident-42.txt, line 7", "secops"),
        ("bob", "backup", "incident-42.txt, line 9", "secops"),
        ("carol", "dashboard", "incident-42.txt, line 10", "secops"),
    ]
    store.close()
    files = [p for p in tmp_path.iterdir() if p.name.startswith("tokens.db") and p.is_file()]
    blob = b"".join(p.read_bytes() for p in files)
    for issued in t.values():
        assert issued.secret.encode() not in blob
        assert issued.secret[-49:].encode() not in blob  # secret part and checksum alone


def test_revoke_leaked_returns_what_it_revoked_and_a_second_scan_revokes_nothing(world):
    store, t, text, _ = world
    first = store.revoke_leaked(text)
    assert sorted(i.name for i in first) == ["backup", "ci-deploy", "dashboard", "laptop"]
    assert all(isinstance(i, tokenkeep.TokenInfo) for i in first)
    assert store.revoke_leaked(text) == []
    again = store.scan_leaked(text)
    assert len(again.already_revoked) == 5 and again.revoked == []
    assert store.audit(limit=1)[0].detail == "line 10"  # no source given: the line alone


def test_dry_run_reports_the_same_and_changes_nothing(world):
    store, t, text, _ = world
    before = store.audit(limit=1000)
    report = store.scan_leaked(text, dry_run=True)
    assert report.dry_run and len(report.revoked) == 4
    assert store.audit(limit=1000) == before
    assert store.check(t["log"].secret)


def test_text_may_be_bytes_or_undecodable_and_other_types_are_refused(world):
    store, t, _, _ = world
    raw = b"\xff\xfe binary junk " + t["log"].secret.encode() + b"\x00\n"
    assert [i.name for i in store.revoke_leaked(raw)] == ["ci-deploy"]
    surrogate = "\udcff " + t["diff"].secret
    assert [i.name for i in store.revoke_leaked(surrogate)] == ["laptop"]
    with pytest.raises(InvalidArgument):
        store.revoke_leaked(42)
    assert store.scan_leaked("nothing here").findings == ()


def test_a_source_holding_a_secret_is_refused_and_nothing_revoked(world):
    store, t, text, _ = world
    with pytest.raises(InvalidArgument) as e:
        store.revoke_leaked(text, source=f"paste {t['log'].secret}")
    assert e.value.field == "source"
    assert t["log"].secret not in str(e.value)
    with pytest.raises(InvalidArgument) as e:
        store.revoke_leaked(text, source="two\nlines")
    assert e.value.field == "source"
    assert store.check(t["log"].secret)


def test_leaked_notices_tell_the_owner_what_was_revoked_as_leaked(world):
    store, t, text, clock = world
    store.revoke("alice", t["near"].info.id)  # an ordinary revoke is no notice
    store.revoke_leaked(text, source="gist")
    notices = store.leaked_notices("alice")
    assert [(n.name, n.where) for n in notices] == [
        ("laptop", "gist, line 7"),
        ("ci-deploy", "gist, line 1"),
    ]
    assert notices[0].token_id == t["diff"].info.id and notices[0].actor == "leak-scan"
    assert [n.name for n in store.leaked_notices("bob")] == ["backup"]
    clock.advance(timedelta(days=31))
    assert store.leaked_notices("alice") == []
    assert len(store.leaked_notices("alice", within=timedelta(days=60))) == 2


def test_another_store_on_the_same_file_refuses_a_leaked_token_at_once(world):
    store, t, text, _ = world
    other = tokenkeep.TokenStore(store.path)
    assert other.check(t["url"].secret)  # cached there
    store.revoke_leaked(text)
    assert not other.check(t["url"].secret)
    other.close()


def test_leak_on_postgresql_revokes_whatever_the_owner_and_every_node_refuses_at_once(pg_url):
    pepper = "cd" * 32
    node = lambda: tokenkeep.TokenStore(pg_url, pepper=pepper)  # noqa: E731
    with node() as a, node() as b:
        mine = a.create("alice", "ci", {"device"})
        theirs = a.create("bob", "cd", {"device"})
        assert b.check(mine.secret) and b.check(theirs.secret)  # cached on node b
        text = f'POST /x Authorization: Bearer {mine.secret}\n{{"token": "{theirs.secret}"}}\n'
        report = a.scan_leaked(text, source="pg.log")
        assert [(f.outcome, f.token.owner, f.line) for f in report.findings] == [
            ("revoked", "alice", 1),
            ("revoked", "bob", 2),
        ]
        assert not b.check(mine.secret) and not b.check(theirs.secret)  # strict: at once
        assert [n.where for n in b.leaked_notices("bob")] == ["pg.log, line 2"]
        assert a.scan_leaked(text).already_revoked == report.revoked


def test_a_schema_4_database_gains_the_index_the_banner_reads(tmp_path):
    """leaked_notices reads audit(owner, action, seq): one owner's leaks without their whole
    history (100,000 tokens: ~150 ms without it). A database from before it is migrated."""
    import sqlite3

    path = str(tmp_path / "old.db")
    with tokenkeep.TokenStore(path) as store:
        t = store.create("alice", "ci-deploy", {"device"})
    con = sqlite3.connect(path)
    con.executescript(
        "DROP INDEX tokens_warm; DROP INDEX audit_owner_action_seq;"
        " ALTER TABLE tokens DROP COLUMN description;"
        " DROP TABLE token_client; ALTER TABLE tokens DROP COLUMN networks;"
        " PRAGMA user_version = 4;"
    )
    con.close()
    with tokenkeep.TokenStore(path) as store:
        store.revoke_leaked(f"Bearer {t.secret}", source="old log")
        assert [n.name for n in store.leaked_notices("alice")] == ["ci-deploy"]
    con = sqlite3.connect(path)
    try:
        assert con.execute("PRAGMA user_version").fetchone()[0] == tokenkeep._core.SCHEMA_VERSION
        plan = con.execute(
            "EXPLAIN QUERY PLAN SELECT seq FROM audit WHERE owner = 'alice' AND action = 'leaked'"
            " AND at >= 0 ORDER BY seq DESC LIMIT 100"
        ).fetchall()
        assert "audit_owner_action_seq" in str(plan)
    finally:
        con.close()


def test_leaked_notices_on_postgresql_read_the_partial_leak_index(pg_url):
    """Schema 8: only leak events are indexed for the banner (tokenkeep_audit_owner_leaked,
    WHERE action = 'leaked'); the (owner, action, seq) index every audit row paid for is gone,
    and the banner's query plans through the partial one."""
    import subprocess

    with tokenkeep.TokenStore(pg_url, pepper="ab" * 32) as store:
        t = store.create("alice", "ci-deploy", {"device"})
        store.create("bob", "backup", {"device"})
        store.revoke_leaked(f"Bearer {t.secret}", source="pg log")
        notices = store.leaked_notices("alice")
        assert [(n.name, n.where) for n in notices] == [("ci-deploy", "pg log, line 1")]
        assert store.leaked_notices("bob") == []
    found = subprocess.run(
        [
            "psql",
            "-qtA",
            pg_url,
            "-c",
            "SELECT indexname || ': ' || indexdef FROM pg_indexes WHERE tablename = 'tokenkeep_audit'"
            " AND schemaname = current_schema() ORDER BY indexname;"
            " SET enable_seqscan = off;"
            " EXPLAIN SELECT seq FROM tokenkeep_audit WHERE owner = 'alice' AND action = 'leaked'"
            " AND action = 'leaked' AND at >= 0 ORDER BY seq DESC LIMIT 100",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "tokenkeep_audit_owner_action_seq" not in found
    assert "tokenkeep_audit_owner_leaked: " in found
    assert "(owner, seq) WHERE (action = 'leaked'::text)" in found
    assert "Index Scan Backward using tokenkeep_audit_owner_leaked" in found


def test_a_postgresql_schema_7_gets_the_partial_leak_index_and_keeps_its_notices(pg_url):
    """7 -> 8 on a database that already holds leak events: they are still the banner's."""
    import subprocess

    def psql(sql):
        return subprocess.run(
            ["psql", "-qtA", "-v", "ON_ERROR_STOP=1", pg_url, "-c", sql],
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    with tokenkeep.TokenStore(pg_url, pepper="ab" * 32) as store:
        t = store.create("alice", "ci-deploy", {"device"})
        store.revoke_leaked(f"Bearer {t.secret}", source="pg log")
    psql(
        "DROP TABLE tokenkeep_audit_batch;"
        " DROP INDEX tokenkeep_audit_owner_leaked; DROP INDEX tokenkeep_tokens_recent;"
        " CREATE INDEX tokenkeep_audit_owner_action_seq ON tokenkeep_audit(owner, action, seq);"
        " UPDATE tokenkeep_schema SET version = 7"
    )
    with tokenkeep.TokenStore(pg_url, pepper="ab" * 32) as store:
        assert [n.name for n in store.leaked_notices("alice")] == ["ci-deploy"]
    names = psql(
        "SELECT version FROM tokenkeep_schema;"
        " SELECT indexname FROM pg_indexes WHERE tablename = 'tokenkeep_audit'"
        " AND schemaname = current_schema() ORDER BY indexname"
    ).split()
    assert names == [
        "10",  # PostgreSQL schema 10: bulk creates' audit batches (tokenkeep_audit_batch)
        "tokenkeep_audit_owner_leaked",
        "tokenkeep_audit_owner_seq",
        "tokenkeep_audit_pkey",
    ]
