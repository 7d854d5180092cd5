"""Network-bound tokens and recent clients (issue 21, parts 1-3): ``verify(..., client=)``,
``create(..., networks=)``, ``update_networks``, ``TokenInfo.networks``, ``NetworkNotAllowed``,
``recent_clients``; stored on both backends, edits seen by another process's next
verification, bad input leaving the store as it was, and the migration from schema 6.

Every test that takes `db_path` (or `store`) runs on an SQLite file and on a fresh schema of
the PostgreSQL test server.
"""

from __future__ import annotations

import ipaddress
import sqlite3
import subprocess
import sys
import textwrap
from datetime import timedelta

import pytest
import tokenkeep
from conftest import db_path_both_backends
from tokenkeep import InvalidArgument, NetworkNotAllowed, NotFound, PermissionDenied

db_path = db_path_both_backends  # every test here on SQLite and on PostgreSQL


def test_a_bound_token_verifies_only_from_inside_its_networks(store):
    bound = store.create("alice", "lan", {"device"}, networks={"10.0.0.0/8", "2001:db8::/32"})
    assert bound.info.networks == {"10.0.0.0/8", "2001:db8::/32"}
    for inside in (
        "10.0.0.0",
        "10.255.255.255",
        "::ffff:10.1.2.3",  # a dual-stack socket's spelling of an IPv4 peer
        "2001:db8::1",
        "2001:DB8:FFFF::",
        ipaddress.ip_address("10.9.8.7"),
        ipaddress.ip_address("2001:db8::7"),
    ):
        assert store.verify(bound.secret, "device:read", client=inside).name == "lan", inside
        assert store.check(bound.secret, client=inside)
    refused = 0
    for outside in (
        None,
        "9.255.255.255",
        "11.0.0.0",
        "2001:db9::",
        "::a00:1",
        "testclient",
        "",
        "fe80::1%lo",
    ):
        with pytest.raises(NetworkNotAllowed) as caught:
            store.verify(bound.secret, "device:read", client=outside)
        assert caught.value.field == "client"
        assert isinstance(caught.value, PermissionDenied)
        assert not store.check(bound.secret, client=outside)
        refused += 1
    assert refused == 8
    # Outside, the token tells nothing more: not which scope it lacks.
    with pytest.raises(NetworkNotAllowed):
        store.verify(bound.secret, "policy", client="192.0.2.1")


def test_unbound_tokens_verify_with_or_without_a_client(store):
    plain = store.create("alice", "plain", {"device"})
    assert plain.info.networks == frozenset()
    assert store.verify(plain.secret).networks == frozenset()
    for client in (None, "192.0.2.1", "2001:db8::1", "not an address", ipaddress.ip_address("::1")):
        assert store.verify(plain.secret, "device:read", client=client).name == "plain"


def test_client_of_another_type_or_an_unknown_keyword_is_refused(store):
    plain = store.create("alice", "plain", {"device"})
    for wrong in (42, b"10.0.0.1", ["10.0.0.1"], ipaddress.ip_network("10.0.0.0/8")):
        with pytest.raises(InvalidArgument) as caught:
            store.verify(plain.secret, client=wrong)
        assert caught.value.field == "client"
    with pytest.raises(TypeError, match="unexpected keyword argument 'clients'"):
        store.verify(plain.secret, clients="10.0.0.1")


def test_update_networks_binds_rebinds_and_unbinds_audited(store):
    issued = store.create("alice", "ci", {"device"})
    assert store.verify(issued.secret).networks == frozenset()  # cached now
    info = store.update_networks(
        "alice", issued.info.id, ["192.0.2.0/24", "::ffff:10.0.0.0/104"], actor="admin"
    )
    assert info.networks == {"10.0.0.0/8", "192.0.2.0/24"}  # canonical: the mapped one is IPv4
    assert store.get("alice", issued.info.id).networks == info.networks
    assert {t.name: t.networks for t in store.list("alice")} == {"ci": info.networks}
    with pytest.raises(NetworkNotAllowed):
        store.verify(issued.secret)  # the next verification sees the edit
    assert store.verify(issued.secret, client="192.0.2.9").networks == info.networks
    event = store.audit(owner="alice", limit=1)[0]
    assert (event.action, event.actor, event.token_id, event.detail) == (
        "update_networks",
        "admin",
        issued.info.id,
        "any -> 10.0.0.0/8 192.0.2.0/24",
    )
    assert store.update_networks("alice", issued.info.id, set()).networks == frozenset()
    assert store.verify(issued.secret).name == "ci"
    assert store.audit(owner="alice", limit=1)[0].detail == "10.0.0.0/8 192.0.2.0/24 -> any"
    with pytest.raises(NotFound):
        store.update_networks("bob", issued.info.id, {"10.0.0.0/8"})


def test_rotate_keeps_the_networks(store):
    issued = store.create("alice", "ci", {"device"}, networks="192.0.2.0/24")
    fresh = store.rotate("alice", issued.info.id)
    assert fresh.info.networks == {"192.0.2.0/24"}
    assert store.verify(fresh.secret, client="192.0.2.1").name == "ci"
    with pytest.raises(NetworkNotAllowed):
        store.verify(fresh.secret, client="198.51.100.1")


@pytest.mark.parametrize(
    "bad",
    [
        "10.0.0.1/8",  # host bits set: refused, not masked
        "10.0.0.0/33",
        "2001:db8::/129",
        "fe80::/10%eth0",
        "fe80::1%eth0",
        "example.com",
        "10.0.0.0/8 ",
        "",
        ["10.0.0.0/8", 8],
        [f"10.{i}.0.0/16" for i in range(33)],  # more than 32
        42,
    ],
)
def test_bad_networks_are_invalid_argument_about_networks_and_change_nothing(store, bad):
    existing = store.create("alice", "existing", {"device"}, networks={"10.0.0.0/8"})
    before = (store.list("alice"), store.audit(owner="alice"))
    with pytest.raises(InvalidArgument) as caught:
        store.create("alice", "new", {"device"}, networks=bad)
    assert caught.value.field == "networks"
    with pytest.raises(InvalidArgument) as caught:
        store.update_networks("alice", existing.info.id, bad)
    assert caught.value.field == "networks"
    assert (store.list("alice"), store.audit(owner="alice")) == before
    problems = store.create_problems("alice", "new", {"device"}, networks=bad)
    assert [p.field for p in problems] == ["networks"]


def test_error_messages_never_repeat_a_secret_given_as_a_network(store):
    leaked = store.create("alice", "leaked", {"device"})
    with pytest.raises(InvalidArgument) as caught:
        store.create("alice", "new", {"device"}, networks={"10.0.0.0/8", leaked.secret})
    assert leaked.secret not in str(caught.value)
    assert "entry" in str(caught.value)


def test_recent_clients_are_distinct_newest_first_and_persisted(db_path):
    with tokenkeep.TokenStore(db_path) as store:
        issued = store.create("alice", "ci", {"device"})
        order = ["10.0.0.1", "2001:db8::1", "10.0.0.2", "::ffff:10.0.0.1", "10.0.0.3", "10.0.0.4"]
        for client in order:
            store.verify(issued.secret, client=client)
        store.verify(issued.secret)  # no client: records nothing
        seen = store.recent_clients("alice", issued.info.id)  # from memory, before any flush
        assert isinstance(seen[0], tokenkeep.RecentClient)
        assert {c.address for c in seen} == {
            "10.0.0.1",
            "10.0.0.2",
            "10.0.0.3",
            "10.0.0.4",
            "2001:db8::1",
        }
        assert [c.last_seen for c in seen] == sorted((c.last_seen for c in seen), reverse=True)
        assert all(c.last_seen.tzinfo is not None for c in seen)
        with pytest.raises(NotFound):
            store.recent_clients("bob", issued.info.id)
    with tokenkeep.TokenStore(db_path) as store:  # another store: only what was persisted
        again = store.recent_clients("alice", issued.info.id)
        assert {c.address for c in again} == {c.address for c in seen}
        assert len(again) >= 5


def test_recent_clients_many_answers_as_recent_clients_for_the_owners_live_tokens(db_path):
    with tokenkeep.TokenStore(db_path) as store:
        used = store.create_many("alice", [(f"t{i}", {"device"}) for i in range(5)])
        for k, t in enumerate(used):
            store.verify(t.secret, client=f"10.0.{k}.1")
            store.verify(t.secret, client=f"2001:db8::{k + 1}")
        never = store.create("alice", "never", {"device"})
        revoked = store.create("alice", "gone", {"device"})
        store.verify(revoked.secret, client="192.0.2.9")
        store.revoke("alice", revoked.info.id)
        bobs = store.create("bob", "b", {"device"})
        store.verify(bobs.secret, client="192.0.2.7")
        ids = [t.info.id for t in used] + [never.info.id, revoked.info.id, bobs.info.id, "nope"]
        seen = store.recent_clients_many("alice", ids)  # from memory, before any flush
        assert set(seen) == {t.info.id for t in used} | {never.info.id}
        assert seen[never.info.id] == []
        for t in used:
            assert seen[t.info.id] == store.recent_clients("alice", t.info.id)
            assert len(seen[t.info.id]) == 2
        assert store.recent_clients_many("alice", []) == {}
    with tokenkeep.TokenStore(db_path) as store:  # another store: what was persisted, the same
        again = store.recent_clients_many("alice", ids)
        assert {i: [c.address for c in v] for i, v in again.items()} == {
            i: [c.address for c in v] for i, v in seen.items()
        }


def test_recent_clients_keep_the_ten_newest_and_go_with_purge(db_path):
    with tokenkeep.TokenStore(db_path) as store:
        issued = store.create("alice", "ci", {"device"}, expires_in=timedelta(seconds=2))
        for i in range(25):
            store.verify(issued.secret, client=f"192.0.2.{i}")
    with tokenkeep.TokenStore(db_path) as store:
        kept = store.recent_clients("alice", issued.info.id)
        assert len(kept) == 10
        store.revoke("alice", issued.info.id)
        assert store.purge() == 1
    if not db_path.startswith("postgresql"):
        con = sqlite3.connect(db_path)
        try:
            assert con.execute("SELECT count(*) FROM token_client").fetchone()[0] == 0
        finally:
            con.close()
    else:
        out = subprocess.run(
            ["psql", "-qtA", db_path, "-c", "SELECT count(*) FROM tokenkeep_token_client"],
            check=True,
            capture_output=True,
            text=True,
        )
        assert out.stdout.strip() == "0"


def test_network_edits_in_another_process_are_seen_by_the_next_verify(db_path):
    """A child process rebinds the token 40 times; after each edit returns, this process's
    very next verification must follow it. Violations (an old binding honoured) are counted."""
    child_code = textwrap.dedent(
        """
        import sys, tokenkeep
        store = tokenkeep.TokenStore(sys.argv[1])
        for line in sys.stdin:
            store.update_networks("alice", sys.argv[2], line.split())
            print("done", flush=True)
        store.close()
        """
    )
    with tokenkeep.TokenStore(db_path) as store:
        issued = store.create("alice", "ci", {"device"})
        child = subprocess.Popen(
            [sys.executable, "-c", child_code, db_path, issued.info.id],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            violations = 0
            for round_ in range(40):
                allowed, other = ("10.0.0.0/8", "192.0.2.0/24")[:: 1 if round_ % 2 else -1]
                assert store.check(issued.secret, client="10.0.0.1") or store.check(
                    issued.secret, client="192.0.2.1"
                )  # warm: the cache holds the old binding
                child.stdin.write(allowed + "\n")
                child.stdin.flush()
                assert child.stdout.readline().strip() == "done"
                inside = "10.0.0.1" if allowed.startswith("10.") else "192.0.2.1"
                outside = "192.0.2.1" if inside == "10.0.0.1" else "10.0.0.1"
                violations += not store.check(issued.secret, client=inside)
                violations += store.check(issued.secret, client=outside)
            child.stdin.write("\n")  # unbind
            child.stdin.flush()
            assert child.stdout.readline().strip() == "done"
            violations += not store.check(issued.secret)
        finally:
            child.stdin.close()
            child.wait(timeout=30)
        assert violations == 0
        assert child.returncode == 0


def test_a_database_of_schema_6_gains_networks_and_recent_clients(db_path):
    with tokenkeep.TokenStore(db_path) as store:
        old = store.create("alice", "old", {"device"})
    if db_path.startswith("postgresql:"):
        sql = (
            "DROP TABLE tokenkeep_token_client; ALTER TABLE tokenkeep_tokens DROP COLUMN networks; "
            # ... nor version 8's partial leak index, but the (owner, action, seq) index.
            "DROP TABLE tokenkeep_audit_batch; "
            "DROP INDEX tokenkeep_audit_owner_leaked; DROP INDEX tokenkeep_tokens_recent; "
            "CREATE INDEX tokenkeep_audit_owner_action_seq ON tokenkeep_audit(owner, action, seq); "
            "UPDATE tokenkeep_schema SET version = 6"
        )
        subprocess.run(["psql", "-q", db_path, "-c", sql], check=True)
    else:
        con = sqlite3.connect(db_path)
        con.executescript(
            "DROP INDEX tokens_warm; DROP TABLE token_client; ALTER TABLE tokens DROP COLUMN networks; "
            "PRAGMA user_version = 6;"
        )
        con.close()
    with tokenkeep.TokenStore(db_path) as store:
        assert store.get("alice", old.info.id).networks == frozenset()
        assert store.verify(old.secret, client="10.0.0.1").id == old.info.id
        store.update_networks("alice", old.info.id, {"10.0.0.0/8"})
        with pytest.raises(NetworkNotAllowed):
            store.verify(old.secret, client="192.0.2.1")
    with tokenkeep.TokenStore(db_path) as store:
        assert [c.address for c in store.recent_clients("alice", old.info.id)] == ["10.0.0.1"]
    if not db_path.startswith("postgresql:"):
        con = sqlite3.connect(db_path)
        try:
            assert (
                con.execute("PRAGMA user_version").fetchone()[0] == tokenkeep._core.SCHEMA_VERSION
            )
        finally:
            con.close()
