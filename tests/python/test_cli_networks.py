"""The command line's networks (issue 21): `create --allow-from`, `networks TOKEN` to show,
replace, clear or restrict to where the token was used, and `show` printing networks and
recent clients. Run for real in a subprocess, state checked through the API."""

from __future__ import annotations

import json

import pytest
from test_cli import assert_one_line_error, tk
from tokenkeep import TokenStore

CLOCK_START = None  # the CLI runs in a subprocess and reads the real time


def test_create_allow_from_is_repeatable_and_comma_separated(db):
    r = tk(
        db,
        "--json",
        "create",
        "--name",
        "ci",
        "--scope",
        "device",
        "--allow-from",
        "10.0.0.0/8,192.0.2.7",
        "--allow-from",
        "2001:db8::/32",
    )
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["token"]["networks"] == sorted(["10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32"])
    with TokenStore(db) as store:
        info = store.get("alice", doc["token"]["id"])
        assert info.networks == frozenset(doc["token"]["networks"])
        assert store.verify(doc["secret"], client="10.1.2.3").id == info.id


def test_create_with_a_bad_network_names_the_flag_and_creates_nothing(db):
    r = tk(db, "create", "--name", "ci", "--scope", "device", "--allow-from", "10.0.0.0/33")
    assert_one_line_error(r, 2, "--allow-from")
    r = tk(db, "--json", "create", "--name", "ci", "--scope", "device", "--allow-from", "nope")
    assert r.code == 2
    assert json.loads(r.err)["error"]["field"] == "--allow-from"
    with TokenStore(db) as store:
        assert store.list("alice", state="all").total == 0


def test_networks_shows_replaces_and_clears(db, store):
    issued = store.create("alice", "ci", {"device"})
    r = tk(db, "networks", "ci")
    assert r.code == 0 and r.out == "" and "any network" in r.err
    r = tk(db, "networks", "ci", "--allow-from", "198.51.100.0/24", "--allow-from", "2001:db8::/32")
    assert r.code == 0, r.err
    assert "198.51.100.0/24, 2001:db8::/32" in r.err and "(were any)" in r.err
    assert store.get("alice", issued.info.id).networks == {"198.51.100.0/24", "2001:db8::/32"}
    assert tk(db, "networks", issued.info.id).out == "198.51.100.0/24\n2001:db8::/32\n"
    doc = json.loads(tk(db, "--json", "networks", "ci").out)
    assert doc == {
        "id": issued.info.id,
        "name": "ci",
        "networks": ["198.51.100.0/24", "2001:db8::/32"],
    }
    assert tk(db, "networks", "ci", "--clear").code == 0
    assert store.get("alice", issued.info.id).networks == frozenset()
    r = tk(db, "networks", "ci", "--clear", "--allow-from", "10.0.0.0/8")
    assert r.code == 2 and "one of" in r.err
    assert_one_line_error(tk(db, "networks", "ci", "--allow-from", "300.1.1.1"), 2, "--allow-from")


def test_networks_from_recent_restricts_to_the_addresses_seen(db):
    with TokenStore(db) as store:
        issued = store.create("alice", "ci", {"device"})
        for address in ("192.0.2.6", "192.0.2.7", "2001:db8::5"):
            store.verify(issued.secret, client=address)
    r = tk(db, "networks", "ci", "--from-recent")
    assert r.code == 0, r.err
    with TokenStore(db) as store:
        assert store.get("alice", issued.info.id).networks == {"192.0.2.6/31", "2001:db8::5/128"}
    with TokenStore(db) as store:
        unused = store.create("alice", "unused", {"device"})
    r = tk(db, "networks", "unused", "--from-recent")
    assert r.code == 2 and "no recorded use" in r.err
    with TokenStore(db) as store:
        assert store.get("alice", unused.info.id).networks == frozenset()


def test_show_prints_networks_and_recent_clients(db):
    with TokenStore(db) as store:
        issued = store.create("alice", "ci", {"device"}, networks=["198.51.100.0/24"])
        store.verify(issued.secret, client="198.51.100.7")
        store.verify(issued.secret, client="198.51.100.9")
    r = tk(db, "show", "ci")
    assert r.code == 0, r.err
    fields = dict(line.split("\t", 1) for line in r.out.splitlines())
    assert fields["Networks"] == "198.51.100.0/24"
    recent = fields["Recent clients"]
    assert "198.51.100.9 (just now)" in recent and "198.51.100.7 (just now)" in recent
    doc = json.loads(tk(db, "--json", "show", "ci").out)
    assert doc["networks"] == ["198.51.100.0/24"]
    assert {c["address"] for c in doc["recent_clients"]} == {"198.51.100.9", "198.51.100.7"}
    assert all(c["last_seen"].endswith("+00:00") for c in doc["recent_clients"])


@pytest.mark.parametrize("flag", ["--allow-from"])
def test_help_documents_the_flags(flag):
    assert flag in tk(None, "create", "--help", owner=None).out
    text = tk(None, "networks", "--help", owner=None).out
    assert "--from-recent" in text and "--clear" in text


def test_verify_takes_the_client_address_and_exits_9_outside(db):
    with TokenStore(db) as store:
        issued = store.create("alice", "ci", {"device"}, networks=["198.51.100.0/24"])
    assert tk(db, "verify", "--client", "198.51.100.7", input=issued.secret).code == 0
    r = tk(db, "verify", "--client", "203.0.113.5", input=issued.secret)
    assert_one_line_error(r, 9, "may not be used from 203.0.113.5")
    assert_one_line_error(tk(db, "verify", input=issued.secret), 9, "without --client")
    r = tk(db, "--json", "verify", "--client", "203.0.113.5", input=issued.secret)
    assert r.code == 9 and json.loads(r.err)["error"]["code"] == "network_not_allowed"
    assert issued.secret not in r.err + r.out
