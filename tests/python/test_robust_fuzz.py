"""Fuzzing the Python surface of verify/check: random str and bytes, near misses of real
tokens, forged tokens with a valid checksum, odd types. Nothing but InvalidToken (verify) or
False (check) may come out, with the one message "invalid token"."""

from __future__ import annotations

import zlib
from datetime import timedelta

import pytest
import tokenkeep
from conftest import T0
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from tokenkeep import InsufficientScope, InvalidArgument, InvalidToken, UnknownScope

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def b62(value: int, width: int) -> str:
    out = []
    for _ in range(width):
        value, d = divmod(value, 62)
        out.append(ALPHABET[d])
    return "".join(reversed(out))


def with_checksum(head: str) -> str:
    # surrogatepass: the fuzzer may put a lone surrogate in `head`; its CRC is still defined.
    return head + b62(zlib.crc32(head.encode("utf-8", "surrogatepass")), 6)


class World:
    """One store with a live, a revoked, an expired and a narrow token; secrets kept."""

    def __init__(self) -> None:
        self.clock = tokenkeep.ManualClock(T0)
        self.store = tokenkeep.TokenStore(":memory:", clock=self.clock, pepper="ab" * 32)
        self.live = self.store.create("alice", "live", {"device", "policy"}).secret
        self.narrow = self.store.create("alice", "narrow", {"device:read"}).secret
        revoked = self.store.create("bob", "revoked", {"device"})
        self.store.revoke("bob", revoked.info.id)
        self.revoked = revoked.secret
        self.expired = self.store.create(
            "bob", "short", {"device"}, expires_in=timedelta(hours=1)
        ).secret
        self.clock.advance(timedelta(hours=2))
        self.all = {self.live, self.narrow, self.revoked, self.expired}


@pytest.fixture(scope="module")
def world() -> World:
    return World()


def assert_rejected(store: tokenkeep.TokenStore, candidate, *scopes: str) -> None:
    with pytest.raises(InvalidToken) as info:
        store.verify(candidate, *scopes)
    assert str(info.value) == "invalid token"
    assert type(info.value) is InvalidToken
    assert store.check(candidate, *scopes) is False


@pytest.mark.slow
@FUZZ
@given(candidate=st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_random_str_and_bytes_are_invalid_tokens(world, candidate):
    assume(candidate not in world.all and candidate not in {s.encode() for s in world.all})
    assert_rejected(world.store, candidate)
    assert_rejected(world.store, candidate, "device:read")


@FUZZ
@given(body=st.text(alphabet=ALPHABET, min_size=54, max_size=54))
def test_forged_tokens_with_a_valid_checksum_are_invalid(world, body):
    """Shape and checksum right, id and secret made up: reaches the store, still one answer."""
    candidate = with_checksum("tk_" + body)
    assume(candidate not in world.all)
    assert_rejected(world.store, candidate)
    assert_rejected(world.store, candidate.encode())


@FUZZ
@given(
    which=st.sampled_from(["live", "narrow", "revoked", "expired"]),
    secret=st.text(alphabet=ALPHABET, min_size=43, max_size=43),
)
def test_a_real_id_with_a_wrong_secret_is_invalid_never_revoked_or_expired(world, which, secret):
    """Revoked/expired are only reported once the secret matched; a guess learns nothing."""
    real = getattr(world, which)
    candidate = with_checksum(real[:14] + secret)
    assume(candidate != real)
    assert_rejected(world.store, candidate)


@FUZZ
@given(
    which=st.sampled_from(["live", "narrow"]),
    position=st.integers(min_value=0, max_value=62),
    replacement=st.characters(),
    fix_checksum=st.booleans(),
)
def test_one_character_off_is_invalid(world, which, position, replacement, fix_checksum):
    real = getattr(world, which)
    candidate = real[:position] + replacement + real[position + 1 :]
    if fix_checksum:
        candidate = with_checksum(candidate[:-6])
    assume(candidate != real)
    assert_rejected(world.store, candidate)


@FUZZ
@given(
    which=st.sampled_from(["live", "narrow"]),
    edit=st.sampled_from(
        [
            "drop_first",
            "drop_last",
            "double_last",
            "upper",
            "lower",
            "swapcase",
            "newline",
            "space",
            "bearer",
            "nul",
            "bom",
            "fullwidth",
        ]
    ),
)
def test_common_copy_paste_damage_is_invalid(world, which, edit):
    real = getattr(world, which)
    candidate = {
        "drop_first": real[1:],
        "drop_last": real[:-1],
        "double_last": real + real[-1],
        "upper": real.upper(),
        "lower": real.lower(),
        "swapcase": real.swapcase(),
        "newline": real + "\n",
        "space": " " + real,
        "bearer": "Bearer " + real,
        "nul": real + "\0",
        "bom": "\ufeff" + real,
        "fullwidth": real.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"}),
    }[edit]
    assume(candidate != real)
    assert_rejected(world.store, candidate)
    assert_rejected(world.store, candidate.encode("utf-8"))


@pytest.mark.parametrize(
    "candidate", [None, 0, 12345, 1.5, [], {}, object(), "\ud800", "tk_\udfff" * 8]
)
def test_other_types_and_unencodable_text_are_invalid(world, candidate):
    assert_rejected(world.store, candidate)


def test_the_real_tokens_still_answer_exactly(world):
    """The fuzzing above is meaningful: the same store does accept what it issued."""
    assert world.store.verify(world.live, "device:write").name == "live"
    assert world.store.verify(world.live.encode(), "policy:read").name == "live"
    with pytest.raises(InsufficientScope):
        world.store.verify(world.narrow, "device:write")
    with pytest.raises(tokenkeep.RevokedToken):
        world.store.verify(world.revoked)
    with pytest.raises(tokenkeep.ExpiredToken):
        world.store.verify(world.expired)


@FUZZ
@given(
    scopes=st.lists(
        st.one_of(
            st.text(max_size=30),
            st.sampled_from(
                [
                    "device",
                    "device:read",
                    "device:write",
                    "policy:read",
                    "collection",
                    "device:",
                    ":read",
                    "Device",
                ]
            ),
        ),
        min_size=1,
        max_size=4,
    )
)
@pytest.mark.slow
def test_random_required_scopes_are_a_typed_answer(world, scopes):
    """A live token checked against arbitrary scope strings: OK, InsufficientScope, or a
    ValueError-type error for the scopes — never a crash or another exception."""
    try:
        info = world.store.verify(world.live, *scopes)
    # Either outcome is allowed (pytest.raises cannot say so); the assertions check which.
    except InsufficientScope as e:
        assert e.required and not e.required <= e.granted  # noqa: PT017
    except (UnknownScope, InvalidArgument) as e:
        assert isinstance(e, ValueError)  # noqa: PT017
    else:
        assert info.name == "live"
    result = (
        world.store.check(world.narrow, *scopes)
        if all(
            s in ("device", "device:read", "device:write", "policy:read", "collection")
            for s in scopes
        )
        else None
    )
    if result is not None:
        assert result is (set(scopes) <= {"device:read"})
