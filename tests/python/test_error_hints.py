"""Python API errors say what to do (issue 11), computed only when a call fails, and never
echo a secret."""

from __future__ import annotations

import pytest
import tokenkeep
from tokenkeep import InvalidArgument, InvalidToken, NotFound, TokenStore, UnknownScope


@pytest.fixture
def mem():
    with TokenStore(":memory:") as s:
        yield s


def test_not_found_names_the_id_and_the_owner(mem):
    t = mem.create("alice", "ci", {"device"})
    for call in (mem.get, mem.revoke, mem.rotate, lambda o, i: mem.update_scopes(o, i, {"device"})):
        with pytest.raises(NotFound) as e:
            call("bob", t.info.id)
        assert f"id '{t.info.id}'" in str(e.value) and "owner 'bob'" in str(e.value)
        assert e.value.field == "token_id"


def test_not_found_never_echoes_a_secret_passed_as_an_id(mem):
    t = mem.create("alice", "ci", {"device"})
    with pytest.raises(NotFound) as e:
        mem.get("alice", t.secret)
    assert t.secret not in str(e.value) and "not a token id" in str(e.value)


@pytest.mark.parametrize("scopes", [{"device"}, ["device", "policy"], ("device",)])
def test_a_set_or_list_of_scopes_in_verify_says_pass_them_separately(mem, scopes):
    t = mem.create("alice", "ci", {"device", "policy"})
    for call in (mem.verify, mem.check):
        with pytest.raises(InvalidArgument) as e:
            call(t.secret, scopes)
        assert "separate argument" in str(e.value) and e.value.field == "scopes"


def _hint_of(store, candidate):
    with pytest.raises(InvalidToken) as e:
        store.verify(candidate, "device:read")
    assert str(e.value) == "invalid token"  # the one message of every invalid token
    return getattr(e.value, "hint", None), getattr(e.value, "__notes__", [])


def test_a_token_shaped_wrong_gets_a_hint_without_the_token(mem):
    t = mem.create("alice", "ci", {"device"})
    cases = {
        " " + t.secret: "surrounding whitespace",
        t.secret + "\n": "surrounding whitespace",
        (t.secret + "\r\n").encode(): "surrounding whitespace",
        "Bearer " + t.secret: "'Bearer ' prefix",
        "bearer  " + t.secret: "'Bearer ' prefix",
        '"' + t.secret + '"': "in quotes",
        "'" + t.secret + "'": "in quotes",
        t: "IssuedToken's .secret",
        None: "not NoneType",
        42: "not int",
    }
    for candidate, fragment in cases.items():
        hint, notes = _hint_of(mem, candidate)
        assert hint is not None and fragment in hint, (
            candidate if not hasattr(candidate, "secret") else "issued",
            hint,
        )
        assert notes == [f"hint: {hint}"]
        assert t.secret not in hint and t.secret[3:20] not in hint
        assert mem.check(candidate) is False
    # an ordinary wrong token gets no hint: nothing to say that would not be an oracle
    for plain in ("tk_" + "A" * 60, "garbage", "", "Bxyz"):
        assert _hint_of(mem, plain) == (None, [])
    assert mem.verify(t.secret).id == t.info.id  # the hot path is untouched


def test_a_comma_list_in_one_scope_suggests_splitting(mem):
    with pytest.raises(UnknownScope) as e:
        mem.create("alice", "ci", "device,policy:read")
    assert "give 'device' and 'policy:read' separately" in str(e.value)
    with pytest.raises(UnknownScope) as e:
        mem.create("alice", "ci", ["device policy"])
    assert "give 'device' and 'policy' separately" in str(e.value)


@pytest.mark.parametrize(
    ("wrong", "nearest"),
    [
        ("devic", "device"),
        ("Device", "device"),
        ("device:raed", "device:read"),
        ("polcy:write", "policy:write"),
        ("colection", "collection"),
    ],
)
def test_an_unknown_scope_suggests_the_nearest_known_one(mem, wrong, nearest):
    t = mem.create("alice", "ci", {"device"})
    for call in (
        lambda: mem.create("alice", "x", {wrong}),
        lambda: mem.verify(t.secret, wrong),
        lambda: mem.update_scopes("alice", t.info.id, {wrong}),
    ):
        with pytest.raises(UnknownScope) as e:
            call()
        assert f"(did you mean '{nearest}'?)" in str(e.value), str(e.value)


def test_a_far_scope_gets_no_guess_and_the_vocabulary_reads_like_prose(tmp_path):
    with TokenStore(str(tmp_path / "v.db"), vocabulary=["fleet:read,write,admin", "device"]) as s:
        with pytest.raises(UnknownScope) as e:
            s.create("alice", "x", {"zzzzzzzz"})
        message = str(e.value)
        assert "did you mean" not in message
        assert message.endswith(
            "known scopes: fleet (read, write, admin), device (read, write), "
            "each alone or as name:action"
        )
        with pytest.raises(UnknownScope) as e:
            s.create("alice", "x", {"fleet:admn"})
        assert "did you mean 'fleet:admin'?" in str(e.value)


def test_the_hint_module_is_not_imported_on_the_hot_path(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys, tokenkeep\n"
        "s = tokenkeep.TokenStore(':memory:')\n"
        "t = s.create('a', 'x', {'device'})\n"
        "for _ in range(1000): s.verify(t.secret, 'device:read')\n"
        "try: s.verify('tk_' + 'A' * 60)\n"
        "except tokenkeep.InvalidToken: pass\n"
        "print('tokenkeep._hints' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"
    assert tokenkeep.InvalidToken("x").field is None
