"""The Python API of SPEC §5, exercised end to end, and every bad input of issue 2.

Every test that takes `db_path` (or `store`) runs twice: on an SQLite file and on a fresh
schema of the PostgreSQL test server (issue 9: the same methods, errors, audit log and
semantics on both). A URL store takes its pepper from TOKENKEEP_PEPPER, set here.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from datetime import datetime, timedelta

import pytest
import tokenkeep
from conftest import T0, db_path_both_backends
from tokenkeep import (
    AuthenticationError,
    ExpiredToken,
    InsufficientScope,
    InvalidArgument,
    InvalidToken,
    NameTaken,
    NotFound,
    PermissionDenied,
    RevokedToken,
    StoreError,
    TokenkeepError,
    UnknownScope,
)

db_path = db_path_both_backends  # every test here on SQLite and on PostgreSQL


def is_url(location: str) -> bool:
    return location.startswith("postgresql:")


def snapshot(store: tokenkeep.TokenStore, *owners: str):
    """Everything observable about the store, to prove a failed call changed nothing."""
    return ([store.list(o) for o in owners or ("alice", "bob")], store.audit(limit=10_000))


# -- the workflow ------------------------------------------------------------------------------


def test_create_list_get_edit_rotate_revoke(store, clock):
    issued = store.create(
        owner="alice", name="ci-deploy", scopes={"device", "policy"}, expires_in=timedelta(days=30)
    )
    assert issued.secret.startswith("tk_") and len(issued.secret) == 63
    info = issued.info
    assert info.name == "ci-deploy" and info.owner == "alice"
    assert info.scopes == frozenset({"device", "policy"})
    assert info.created_at == T0 and info.created_at.tzinfo is not None
    assert info.expires_at == T0 + timedelta(days=30)
    assert info.last_used_at is None

    assert store.list(owner="alice") == [info]
    assert store.get(owner="alice", token_id=info.id) == info

    verified = store.verify(issued.secret, "device:read", "policy:write")
    assert verified.id == info.id and verified.last_used_at == T0

    edited = store.update_scopes(owner="alice", token_id=info.id, scopes={"device:read"})
    assert edited.scopes == frozenset({"device:read"})
    assert store.check(issued.secret, "device:read")
    assert not store.check(issued.secret, "device:write")

    clock.advance(timedelta(minutes=1))
    rotated = store.rotate(owner="alice", token_id=info.id)
    assert rotated.secret != issued.secret
    assert (rotated.info.name, rotated.info.scopes, rotated.info.expires_at) == (
        "ci-deploy",
        frozenset({"device:read"}),
        info.expires_at,
    )
    with pytest.raises(RevokedToken):
        store.verify(issued.secret)
    assert store.verify(rotated.secret, "device:read").id == rotated.info.id

    store.revoke(owner="alice", token_id=rotated.info.id)
    with pytest.raises(RevokedToken):
        store.verify(rotated.secret)
    assert store.list(owner="alice") == []
    actions = [e.action for e in store.audit(owner="alice")]
    assert actions == ["revoke", "rotate", "revoke", "update_scopes", "create"]


def test_token_info_is_immutable_and_reprs_hide_the_secret(store):
    issued = store.create("alice", "ci", {"device"})
    with pytest.raises(AttributeError):
        issued.info.name = "other"  # type: ignore[misc]
    assert issued.secret not in repr(issued) and "secret=<hidden>" in repr(issued)
    assert issued.secret not in str(issued)
    assert issued.secret not in repr(issued.info)


def test_scopes_string_is_one_scope_and_sets_are_canonical(store):
    assert store.create("alice", "a", "device:read").info.scopes == {"device:read"}
    both = store.create("alice", "b", ["device:read", "device:write"]).info
    assert both.scopes == {"device"}


def test_expiry_default_cap_and_boundaries(store, clock):
    default = store.create("alice", "default", {"device"})
    assert default.info.expires_at == T0 + timedelta(days=30)
    at = store.create("alice", "at", {"device"}, expires_at=T0 + timedelta(hours=1))
    clock.set(T0 + timedelta(hours=1))
    assert store.verify(at.secret).name == "at"
    clock.set(T0 + timedelta(hours=1, seconds=1))
    with pytest.raises(ExpiredToken):
        store.verify(at.secret)
    assert not store.check(at.secret)
    # Expired tokens stay listed until purged.
    assert {t.name for t in store.list("alice")} == {"default", "at"}


def test_expiring_within_and_purge(store, clock):
    store.create("alice", "soon", {"device"}, expires_in=timedelta(days=2))
    store.create("alice", "later", {"device"}, expires_in=timedelta(days=20))
    gone = store.create("bob", "gone", {"policy"})
    assert [t.name for t in store.expiring_within(timedelta(days=7))] == ["soon"]
    assert store.expiring_within(timedelta(days=7), owner="bob") == []
    store.revoke("bob", gone.info.id)
    clock.advance(timedelta(days=3))
    assert store.purge(older_than=timedelta(days=2)) == 1
    assert store.purge() == 1
    assert [t.name for t in store.list("alice")] == ["later"]
    assert store.audit(limit=1)[0].action == "purge"


def test_never_expiring_needs_policy(db_path, clock):
    with tokenkeep.TokenStore(db_path, clock=clock) as s, pytest.raises(InvalidArgument):
        s.create("alice", "x", {"device"}, never_expires=True)
    with tokenkeep.TokenStore(
        db_path, clock=clock, allow_never_expire=True, max_lifetime=None
    ) as s:
        info = s.create("alice", "x", {"device"}, never_expires=True).info
        assert info.expires_at is None


def test_custom_vocabulary_is_persisted(db_path):
    with tokenkeep.TokenStore(db_path, vocabulary={"fleet": ["read", "write", "admin"]}) as s:
        issued = s.create("alice", "f", {"fleet:admin"})
        assert s.vocabulary == {"fleet": ("read", "write", "admin")}
        with pytest.raises(UnknownScope):
            s.create("alice", "g", {"device"})
    with tokenkeep.TokenStore(db_path) as s:
        assert s.verify(issued.secret, "fleet:admin").name == "f"


def test_exception_hierarchy():
    assert issubclass(InvalidToken, AuthenticationError)
    assert issubclass(ExpiredToken, AuthenticationError)
    assert issubclass(RevokedToken, AuthenticationError)
    assert issubclass(InsufficientScope, PermissionDenied)
    assert issubclass(UnknownScope, ValueError) and issubclass(InvalidArgument, ValueError)
    for cls in (
        AuthenticationError,
        PermissionDenied,
        NotFound,
        NameTaken,
        UnknownScope,
        InvalidArgument,
        StoreError,
    ):
        assert issubclass(cls, TokenkeepError)


def test_the_error_classes_are_one_list_the_engine_package_and_cli_derive_from():
    """errors.py declares each engine outcome's class with its code; the binding, the
    package's exports and the CLI's exit statuses all read that one list."""
    from tokenkeep import _core, errors
    from tokenkeep.cli.exit_codes import ERROR_CODES, EXIT_ERROR, EXIT_NAMES, exit_code_of

    assert set(errors.BY_CODE) == set(_core.ERROR_CODES)  # one class per engine code, no more
    assert len(_core.ERROR_CODES) == 10
    for code, cls in errors.BY_CODE.items():
        assert cls.code == code
        assert cls.__name__ in errors.__all__
    tree, pending = set(), [TokenkeepError]
    while pending:
        cls = pending.pop()
        tree.add(cls.__name__)
        pending.extend(cls.__subclasses__())
    assert set(errors.__all__) == tree
    assert set(errors.__all__) <= set(tokenkeep.__all__)
    assert all(getattr(tokenkeep, name) is getattr(errors, name) for name in errors.__all__)
    with_status = {cls for cls, _ in ERROR_CODES}
    assert with_status | {StoreError} == set(errors.BY_CODE.values())
    assert exit_code_of(StoreError("x")) == EXIT_ERROR
    assert EXIT_NAMES[exit_code_of(NameTaken("x"))] == NameTaken.code == "name_taken"
    assert EXIT_NAMES[exit_code_of(InvalidToken("x"))] == "invalid_token"


def test_engine_errors_arrive_as_their_class_with_field_and_message(store):
    store.create("alice", "ci", {"device"})
    with pytest.raises(NameTaken) as taken:
        store.create("alice", "ci", {"device"})
    assert (str(taken.value), taken.value.field) == ("a token named 'ci' already exists", "name")
    with pytest.raises(InvalidToken):
        store.verify("tk_nope")


def test_the_lease_range_is_the_engines_check_on_every_kind_of_store(tmp_path):
    for where in (":memory:", str(tmp_path / "t.db")):
        for bad in (0, 0.049, 601, float("nan"), float("inf")):
            with pytest.raises(InvalidArgument) as e:
                tokenkeep.TokenStore(where, lease=bad)
            assert e.value.field == "lease"
            assert str(e.value) == "lease must be between 0.05 and 600 seconds"
        for wrong_type in (True, "2", None):
            with pytest.raises(InvalidArgument) as e:
                tokenkeep.TokenStore(where, lease=wrong_type)
            assert e.value.field == "lease"
        assert os.listdir(tmp_path) == []  # refused before any file was made
    for where in (":memory:", str(tmp_path / "t.db")):
        tokenkeep.TokenStore(where, lease=0.05).close()
        tokenkeep.TokenStore(where, lease=600).close()


def test_expiry_kinds_cross_the_binding_as_the_engines_enum(store):
    from tokenkeep import _core

    kinds = _core.ExpiryKind
    assert {k: int(v) for k, v in kinds.__members__.items()} == {
        "DEFAULT": 0,
        "IN": 1,
        "AT": 2,
        "NEVER": 3,
    }
    assert store._expiry(None, None, False) == (kinds.DEFAULT, 0)
    assert store._expiry(None, None, True) == (kinds.NEVER, 0)
    assert store._expiry(timedelta(seconds=1), None, False) == (kinds.IN, 1_000_000)
    with pytest.raises(TypeError):  # a bare integer is no longer an expiry kind
        store._e.create_problems("alice", "x", ["device"], 3, 0)
    problems = store._e.create_problems("alice", "x", ["device"], kinds.NEVER, 0)
    assert [p.field for p in problems] == ["never_expires"]


def test_insufficient_scope_carries_required_and_granted(store):
    issued = store.create("alice", "ci", {"device:read"})
    with pytest.raises(InsufficientScope) as err:
        store.verify(issued.secret, "policy:write")
    assert err.value.required == {"policy:write"}
    assert err.value.granted == {"device:read"}
    assert issued.secret not in str(err.value)


def test_create_many_is_all_or_nothing(store):
    issued = store.create_many("ops", [(f"dev-{i}", {"device"}) for i in range(50)])
    assert [i.info.name for i in issued] == [f"dev-{i}" for i in range(50)]
    assert all(store.check(i.secret, "device:write") for i in issued)
    before = snapshot(store, "ops")
    with pytest.raises(NameTaken):
        store.create_many("ops", [("new-1", {"device"}), ("dev-3", {"device"})])
    with pytest.raises(UnknownScope):
        store.create_many("ops", [("new-1", {"device"}), ("new-2", {"admin"})])
    assert snapshot(store, "ops") == before


def test_revoke_many_is_all_or_nothing(store):
    a = store.create("alice", "a", {"device"}).info.id
    b = store.create("alice", "b", {"device"}).info.id
    c = store.create("bob", "c", {"device"}).info.id
    before = snapshot(store)
    with pytest.raises(NotFound):
        store.revoke_many("alice", [a, c])
    assert snapshot(store) == before
    assert store.revoke_many("alice", [a, b]) == 2
    assert store.list("alice") == []


def test_store_is_usable_from_four_threads(store):
    tokens = [store.create("alice", f"t{i}", {"device:read"}).secret for i in range(20)]
    bad = tokens[0][:-1] + ("0" if tokens[0][-1] != "0" else "1")
    errors = []

    def work():
        try:
            for _ in range(300):
                for t in tokens[:5]:
                    assert store.check(t, "device:read")
                assert not store.check(bad)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_closed_store_raises_store_error(db_path):
    s = tokenkeep.TokenStore(db_path)
    s.close()
    with pytest.raises(StoreError):
        s.list("alice")


# -- bad input: a typed error, and the store unchanged ------------------------------------------


@pytest.fixture
def seeded(store):
    issued = store.create("alice", "existing", {"device"})
    store.create("bob", "bobs", {"policy"})
    return store, issued


@pytest.mark.parametrize(
    "name",
    [
        "",
        "   ",
        "x" * 101,
        "line\nbreak",
        "nul\x00",
        "bell\x07",
        "del\x7f",
        "c1\x85x",
        "tab\tinside\x1b",
    ],
)
def test_bad_names_are_rejected(seeded, name):
    store, _ = seeded
    before = snapshot(store)
    with pytest.raises(InvalidArgument):
        store.create("alice", name, {"device"})
    assert snapshot(store) == before


def test_names_are_stripped_and_limits_are_inclusive(store):
    assert store.create("alice", "  padded  ", {"device"}).info.name == "padded"
    assert store.create("alice", "n" * 100, {"device"}).info.name == "n" * 100
    assert store.create("alice", "é" * 100, {"device"}).info.name == "é" * 100


@pytest.mark.parametrize("name", ["existing", " existing", "existing  "])
def test_duplicate_names_are_rejected(seeded, name):
    store, _ = seeded
    before = snapshot(store)
    with pytest.raises(NameTaken):
        store.create("alice", name, {"device"})
    assert snapshot(store) == before


def test_revoking_frees_the_name(seeded):
    store, issued = seeded
    store.revoke("alice", issued.info.id)
    assert store.create("alice", "existing", {"device"}).info.name == "existing"


@pytest.mark.parametrize(
    "scopes", [{"admin"}, {"device:delete"}, {"Device "}, {"device", "admin"}, {"DEVICE"}]
)
def test_unknown_scopes_are_rejected_everywhere(seeded, scopes):
    store, issued = seeded
    before = snapshot(store)
    with pytest.raises(UnknownScope):
        store.create("alice", "new", scopes)
    with pytest.raises(UnknownScope):
        store.update_scopes("alice", issued.info.id, scopes)
    with pytest.raises(UnknownScope):
        store.verify(issued.secret, *scopes)
    with pytest.raises(UnknownScope):
        store.check(issued.secret, *scopes)
    assert snapshot(store) == before


def test_empty_scope_set_is_rejected(seeded):
    store, issued = seeded
    before = snapshot(store)
    with pytest.raises(InvalidArgument):
        store.create("alice", "new", set())
    with pytest.raises(InvalidArgument):
        store.update_scopes("alice", issued.info.id, [])
    assert snapshot(store) == before


@pytest.mark.parametrize(
    "kwargs",
    [
        {"expires_in": timedelta(days=366)},
        {"expires_in": timedelta(0)},
        {"expires_in": timedelta(seconds=-5)},
        {"expires_at": T0 - timedelta(seconds=1)},
        {"expires_at": T0 + timedelta(days=400)},
        {"expires_at": datetime(2030, 2, 1)},  # naive
        {"expires_in": 30},  # not a timedelta
        {"expires_in": timedelta(days=1), "expires_at": T0 + timedelta(days=1)},
    ],
)
def test_bad_expiry_is_rejected(seeded, kwargs):
    store, _ = seeded
    before = snapshot(store)
    with pytest.raises(InvalidArgument):
        store.create("alice", "new", {"device"}, **kwargs)
    assert snapshot(store) == before


@pytest.mark.parametrize("owner", ["", None, 42, "a\x00b"])
def test_bad_owners_are_rejected(seeded, owner):
    store, _ = seeded
    before = snapshot(store)
    with pytest.raises(InvalidArgument):
        store.create(owner, "new", {"device"})
    assert snapshot(store) == before


def test_another_owners_token_is_not_found_like_a_missing_one(seeded):
    store, issued = seeded
    before = snapshot(store)
    for call in (
        lambda tid: store.get("bob", tid),
        lambda tid: store.update_scopes("bob", tid, {"policy"}),
        lambda tid: store.revoke("bob", tid),
        lambda tid: store.rotate("bob", tid),
    ):
        with pytest.raises(NotFound) as foreign:
            call(issued.info.id)
        with pytest.raises(NotFound) as missing:
            call("00000000001")
        # The same words for both (no oracle), naming the id and the owner asked about.
        assert str(foreign.value).replace(issued.info.id, "ID") == str(missing.value).replace(
            "00000000001", "ID"
        )
        assert f"'{issued.info.id}'" in str(foreign.value) and "owner 'bob'" in str(foreign.value)
    assert snapshot(store) == before
    assert store.verify(issued.secret).owner == "alice"


def _tampered_tokens(secret: str):
    flip = lambda s, i: s[:i] + ("A" if s[i] != "A" else "B") + s[i + 1 :]  # noqa: E731
    yield "flipped-secret", flip(secret, 20)
    yield "flipped-id", flip(secret, 4)
    yield "flipped-checksum", flip(secret, len(secret) - 1)
    yield "truncated", secret[:-1]
    yield "extended", secret + "0"
    yield "empty", ""
    yield "one-megabyte", "tk_" + "a" * (1 << 20)
    yield "non-ascii", secret[:10] + "é" + secret[11:]
    yield "other-prefix", "gh" + secret[2:]
    yield "whitespace", " " + secret
    yield "bytes-garbage", b"\xff\xfe\x00"
    yield "lone-surrogate", secret[:10] + "\udc80" + secret[11:]
    yield "not-a-string", None


def test_malformed_tokens_are_invalid_with_one_message(seeded):
    store, issued = seeded
    before = snapshot(store)
    messages = set()
    for label, bad in _tampered_tokens(issued.secret):
        with pytest.raises(InvalidToken) as err:
            store.verify(bad, "device:read")
        messages.add(str(err.value))
        assert store.check(bad) is False, label
    assert messages == {"invalid token"}
    assert snapshot(store) == before
    assert store.check(issued.secret.encode())  # bytes of a good token work


def test_unknown_id_and_wrong_secret_give_the_same_error(tmp_path, clock):
    a = tokenkeep.TokenStore(os.path.join(tmp_path, "a.db"), clock=clock)
    b = tokenkeep.TokenStore(os.path.join(tmp_path, "b.db"), clock=clock)
    known = a.create("alice", "x", {"device"})
    unknown = b.create("alice", "x", {"device"}).secret  # valid shape, id unknown to store a
    wrong_secret = known.secret[:14] + unknown[14:-6]
    # recompute the checksum so that only the secret is wrong
    import zlib

    from tokenkeep import _core  # noqa: F401  (imported for the constant)

    def with_crc(body: str) -> str:
        alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
        v, out = zlib.crc32(body.encode()), ""
        for _ in range(6):
            v, r = divmod(v, 62)
            out = alphabet[r] + out
        return body + out

    wrong_secret = with_crc(wrong_secret)
    assert wrong_secret[:14] == known.secret[:14] and wrong_secret != known.secret
    msgs = []
    for bad in (unknown, wrong_secret):
        with pytest.raises(InvalidToken) as err:
            a.verify(bad)
        msgs.append((type(err.value), str(err.value)))
    assert msgs[0] == msgs[1]


def test_checksum_is_crc32_of_everything_before_it(store):
    """A secret scanner can validate a candidate offline with zlib alone."""
    import zlib

    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    secret = store.create("alice", "x", {"device"}).secret
    value = 0
    for c in secret[-6:]:
        value = value * 62 + alphabet.index(c)
    assert value == zlib.crc32(secret[:-6].encode())


def test_token_from_another_pepper_is_invalid(tmp_path):
    path = os.path.join(tmp_path, "p.db")
    with tokenkeep.TokenStore(path, pepper="a" * 64) as s:
        issued = s.create("alice", "x", {"device"})
    with tokenkeep.TokenStore(path, pepper="b" * 64) as s, pytest.raises(InvalidToken):
        s.verify(issued.secret)
    with tokenkeep.TokenStore(path, pepper="b" * 64, previous_peppers=["a" * 64]) as s:
        assert s.verify(issued.secret).name == "x"
    with pytest.raises(InvalidArgument):
        tokenkeep.TokenStore(path, pepper="not hex")


def test_pepper_from_environment(tmp_path, monkeypatch):
    path = os.path.join(tmp_path, "env.db")
    monkeypatch.setenv("TOKENKEEP_PEPPER", "c" * 64)
    with tokenkeep.TokenStore(path) as s:
        issued = s.create("alice", "x", {"device"})
    assert not os.path.exists(path + ".key")
    monkeypatch.delenv("TOKENKEEP_PEPPER")
    with tokenkeep.TokenStore(path) as s:  # now a fresh key file: a different pepper
        assert not s.check(issued.secret)


def test_file_that_is_not_a_database(tmp_path):
    path = os.path.join(tmp_path, "junk.db")
    with open(path, "wb") as f:
        f.write(os.urandom(8192))
    with pytest.raises(StoreError, match="not a database"):
        tokenkeep.TokenStore(path)
    with open(path, "rb") as f:
        assert f.read(16) != b"SQLite format 3\x00"
    assert os.listdir(tmp_path) == ["junk.db"]  # no key file, no feed file left beside it


def test_schema_newer_than_the_code(db_path):
    tokenkeep.TokenStore(db_path).close()
    if is_url(db_path):
        import subprocess

        subprocess.run(
            ["psql", "-q", db_path, "-c", "UPDATE tokenkeep_schema SET version = 999"], check=True
        )
        with pytest.raises(StoreError, match="newer"):
            tokenkeep.TokenStore(db_path)
        return
    con = sqlite3.connect(db_path)
    con.execute("PRAGMA user_version = 999")
    con.commit()
    con.close()
    os.remove(db_path + ".key")
    os.remove(db_path + "-tkfeed")
    with pytest.raises(StoreError, match="newer"):
        tokenkeep.TokenStore(db_path)
    assert not os.path.exists(db_path + ".key") and not os.path.exists(db_path + "-tkfeed")


def test_read_only_store_refuses_writes(db_path):
    with tokenkeep.TokenStore(db_path) as s:
        issued = s.create("alice", "x", {"device"})
    with tokenkeep.TokenStore(db_path, read_only=True) as ro:
        assert ro.verify(issued.secret).name == "x"
        with pytest.raises(StoreError, match="read-only"):
            ro.create("alice", "y", {"device"})
        with pytest.raises(StoreError, match="read-only"):
            ro.revoke("alice", issued.info.id)
    with tokenkeep.TokenStore(db_path) as s:
        assert [t.name for t in s.list("alice")] == ["x"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"busy_timeout": 3e6},
        {"busy_timeout": float("nan")},
        {"cache_size": 2**64},
        {"max_lifetime": timedelta.max},
        {"default_lifetime": timedelta.max, "max_lifetime": None},
    ],
)
def test_out_of_range_options_never_echo_the_pepper(kwargs):
    with pytest.raises(InvalidArgument) as err:
        tokenkeep.TokenStore(":memory:", pepper="ab" * 32, previous_peppers=["cd" * 32], **kwargs)
    text = (
        str(err.value) + repr(err.value) + repr(err.value.__context__) + repr(err.value.__cause__)
    )
    assert "abab" not in text and "cdcd" not in text


def test_unencodable_text_and_huge_durations_are_invalid_arguments(store):
    before = snapshot(store)
    for call in (
        lambda: store.create("alice", "a\ud800b", {"device"}),
        lambda: store.create("alice\udcff", "x", {"device"}),
        lambda: store.create("alice", "x", {"device\udcff"}),
        lambda: store.create("alice", "x", {"device"}, expires_in=timedelta.max),
        lambda: store.expiring_within(timedelta.max),
        lambda: store.purge(timedelta.max),
        lambda: store.audit(limit=10**20),
        lambda: tokenkeep.TokenStore("/tmp/\udcff.db"),
    ):
        with pytest.raises(InvalidArgument):
            call()
    assert snapshot(store) == before


def test_revoked_at_is_none_until_revoked_then_the_revocation_time(store, clock):
    issued = store.create("alice", "ci", {"device"})
    other = store.create("alice", "other", {"device"})
    assert issued.info.revoked_at is None
    assert store.get("alice", issued.info.id).revoked_at is None
    assert store.verify(issued.secret).revoked_at is None
    clock.advance(timedelta(hours=3))
    store.revoke("alice", issued.info.id)
    rows = {t.id: t for t in store.list("alice", state="all")}
    assert rows[issued.info.id].revoked_at == T0 + timedelta(hours=3)
    assert rows[issued.info.id].revoked_at.tzinfo is not None
    assert rows[other.info.id].revoked_at is None
    # a field added at the end: the first seven keep their positions
    id_, owner, name, scopes, created, expires, used = rows[other.info.id][:7]
    assert (id_, owner, name, created) == (other.info.id, "alice", "other", T0)
