"""The Python API on a PostgreSQL URL: the options reach the engine, nodes share one store,
and no repr or error shows the password. Needs TOKENKEEP_TEST_PG (fails without it)."""

import os
import subprocess
import sys
import threading
import time

import pytest
import tokenkeep
from tokenkeep import InvalidArgument, StoreError, TokenStore

PEPPER = "ab" * 32


def test_a_revoke_on_one_node_is_refused_by_the_next_verify_on_another(pg_url):
    with TokenStore(pg_url, pepper=PEPPER) as a, TokenStore(pg_url, pepper=PEPPER, lease=1.0) as b:
        issued = a.create("alice", "ci", scopes=["device"])
        assert b.verify(issued.secret, "device:read").name == "ci"
        a.revoke("alice", issued.info.id)
        with pytest.raises(tokenkeep.RevokedToken):
            b.verify(issued.secret)


def test_bounded_mode_is_accepted_and_converges(pg_url):
    with (
        TokenStore(pg_url, pepper=PEPPER, consistency="bounded") as a,
        TokenStore(pg_url, pepper=PEPPER, consistency="bounded") as b,
    ):
        issued = a.create("alice", "ci", scopes=["device"])
        b.verify(issued.secret)
        a.revoke("alice", issued.info.id)
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            try:
                b.verify(issued.secret)
            except tokenkeep.RevokedToken:
                break
            time.sleep(0.01)
        else:
            pytest.fail("bounded node still accepted a revoked token after 2 s")


def test_options_are_checked():
    with pytest.raises(InvalidArgument):
        TokenStore(":memory:", consistency="eventual")
    with pytest.raises(InvalidArgument):
        TokenStore(":memory:", lease=0)


def test_another_pepper_is_refused(pg_url):
    with TokenStore(pg_url, pepper=PEPPER), pytest.raises(StoreError, match="another pepper"):
        TokenStore(pg_url, pepper="cd" * 32)


def test_no_password_in_repr_or_errors():
    url = "postgresql://tk:hunter2secret@/nodb?host=/nonexistent&port=1"
    with pytest.raises(StoreError) as err:
        TokenStore(url, pepper=PEPPER)
    assert "hunter2secret" not in str(err.value)
    assert "hunter2secret" not in tokenkeep.store._redacted(url)
    assert "hunter2secret" not in tokenkeep.store._redacted(
        "host=/x password=hunter2secret dbname=y"
    )
    assert "hunter2secret" not in tokenkeep.store._redacted(
        "postgresql:///db?password=hunter2secret&x=1"
    )


def test_a_store_opened_before_fork_works_in_the_child_and_stays_working_in_the_parent(pg_url):
    with TokenStore(pg_url, pepper=PEPPER) as store:
        issued = store.create("alice", "ci", scopes=["device"])
        store.verify(issued.secret)  # the parent's connections and cache are warm
        other = store.create("alice", "other", scopes=["device"])
        pid = os.fork()
        if pid == 0:  # the child: its own connections, never the parent's
            code = 1
            try:
                store.verify(issued.secret)
                store.revoke("alice", other.info.id)
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        # The child's exit did not end the parent's sessions, and its revoke reached us.
        assert store.verify(issued.secret).name == "ci"
        with pytest.raises(tokenkeep.RevokedToken):
            store.verify(other.secret)


def test_the_cli_reads_a_postgresql_url(pg_url):
    env = dict(os.environ, TOKENKEEP_PEPPER=PEPPER, TOKENKEEP_DB=pg_url)
    cli = [sys.executable, "-m", "tokenkeep"]
    made = subprocess.run(
        cli + ["create", "-n", "ci", "-s", "device"], env=env, capture_output=True, text=True
    )
    assert made.returncode == 0, made.stderr
    listed = subprocess.run(cli + ["list"], env=env, capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr  # not "no token database at <the URL>"
    assert "ci" in listed.stdout


def test_read_only_url_store_refuses_changes_and_never_migrates(pg_url):
    with pytest.raises(StoreError, match="no tokenkeep schema but is opened read-only"):
        TokenStore(pg_url, pepper=PEPPER, read_only=True)
    with TokenStore(pg_url, pepper=PEPPER) as rw:
        issued = rw.create("alice", "ci", scopes=["device"])
    with TokenStore(pg_url, pepper=PEPPER, read_only=True) as ro:
        assert ro.verify(issued.secret, "device:read").name == "ci"
        for change in (
            lambda: ro.create("alice", "more", scopes=["device"]),
            lambda: ro.update_scopes("alice", issued.info.id, ["policy"]),
            lambda: ro.revoke("alice", issued.info.id),
            lambda: ro.rotate("alice", issued.info.id),
            lambda: ro.purge(),
        ):
            with pytest.raises(StoreError, match="read-only"):
                change()
        ro._engine.uses_flush()
    with TokenStore(pg_url, pepper=PEPPER) as rw:
        (info,) = rw.list("alice")
        assert info.scopes == issued.info.scopes and info.last_used_at is None  # nothing changed


def test_concurrent_use_flushes_of_the_same_tokens_never_deadlock(pg_url):
    # Two stores (two pools, as two nodes) record uses of the same 300 tokens and their scopes,
    # flushing from four threads at once: the touches once locked rows in the join's arbitrary
    # order and PostgreSQL answered "deadlock detected" (40P01) to one of them.
    a = TokenStore(pg_url, pepper=PEPPER)
    b = TokenStore(pg_url, pepper=PEPPER)
    secrets = [
        i.secret for i in a.create_many("alice", [(f"d{i}", ["device"]) for i in range(300)])
    ]
    errors = []

    def flush_loop(store, order):
        try:
            for round_ in range(40):
                for s in order:
                    store.verify(s, "device:read" if round_ % 2 else "device:write")
                store._engine.uses_flush()
        except Exception as e:  # noqa: BLE001 - reported by the assertion below
            errors.append(repr(e))

    threads = [
        threading.Thread(target=flush_loop, args=(s, o))
        for s in (a, b)
        for o in (secrets, secrets[::-1])
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert all(t.last_used_at is not None for t in a.list("alice"))
    a.close()
    b.close()


def test_a_schema_9_database_keeps_its_audit_and_stores_new_bulk_creates_as_batches(pg_url):
    """Schema 10 writes a bulk create's events as one tokenkeep_audit_batch row per owner.
    A database of schema 9 (an audit row per token, no batch table) migrates on open: its
    rows read as before, and a bulk create after it reads as one event per token, newest
    first among them."""

    def psql(sql: str) -> str:  # the URL's options set the test's schema as search_path
        return subprocess.run(
            ["psql", "-qtA", "-v", "ON_ERROR_STOP=1", pg_url, "-c", sql],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()

    with TokenStore(pg_url, pepper="ab" * 32) as store:
        old = store.create_many("alice", [(f"old-{i}", {"device"}) for i in range(100)])
    # Schema 9 wrote those 100 events as rows of tokenkeep_audit: move them there.
    psql(
        "INSERT INTO tokenkeep_audit(seq, at, actor, action, token_id, owner, name, old_scopes,"
        " new_scopes, detail) SELECT u.seq, b.at, b.actor, 'create', u.id, b.owner, u.name, '',"
        " u.scopes, u.detail FROM tokenkeep_audit_batch b,"
        " unnest(b.seqs, b.token_ids, b.names, b.scopes, b.details) AS u(seq, id, name, scopes, detail);"
        " DROP TABLE tokenkeep_audit_batch; UPDATE tokenkeep_schema SET version = 9"
    )
    assert psql("SELECT count(*) FROM tokenkeep_audit") == ["100"]
    with TokenStore(pg_url, pepper="ab" * 32) as store:
        new = store.create_many("alice", [(f"new-{i}", {"policy"}) for i in range(80)])
        store.revoke("alice", old[0].info.id)
        events = store.audit("alice", limit=1000)
        assert [(e.action, e.name) for e in events] == (
            [("revoke", "old-0")]
            + [("create", t.info.name) for t in reversed(new)]
            + [("create", t.info.name) for t in reversed(old)]
        )
        seqs = [e.seq for e in events]
        assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == len(seqs)
        assert [e.name for e in store.audit("alice", limit=3)] == ["old-0", "new-79", "new-78"]
    assert psql("SELECT version FROM tokenkeep_schema") == ["10"]
    assert psql("SELECT count(*), sum(n) FROM tokenkeep_audit_batch") == ["1|80"]
