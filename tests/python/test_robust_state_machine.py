"""Model-based test: hypothesis drives create / edit / revoke / rotate / verify / clock /
reopen against two TokenStore handles on one database file (what two processes would
hold), and a plain-Python model of the rules says what every call must answer. After every
step both handles must agree with the model: a revoked or expired token never verifies,
scopes are exactly the model's, names are unique per owner among live tokens, and no owner
sees or changes another's token.

`make test` runs TOKENKEEP_SM_EXAMPLES (default 40) cases of up to 40 steps; `make soak`
runs 400.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
import tokenkeep
from conftest import T0
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
)
from tokenkeep import (
    ExpiredToken,
    InsufficientScope,
    InvalidArgument,
    InvalidToken,
    NameTaken,
    NotFound,
    RevokedToken,
)

pytestmark = pytest.mark.slow

SOAK = bool(os.environ.get("TOKENKEEP_SOAK"))
EXAMPLES = int(os.environ.get("TOKENKEEP_SM_EXAMPLES", "400" if SOAK else "40"))
OWNERS = ["alice", "bob"]
NAMES = ["ci", "deploy", " ci ", "backup", "d\u00e9ploiement"]
SCOPE_WORDS = [
    "collection",
    "device",
    "policy",
    "device:read",
    "device:write",
    "policy:read",
    "collection:write",
]
ACTIONS = ("read", "write")
PEPPER = "5e" * 32
RUNS = {"examples": 0, "steps": 0}


def expand(scopes) -> frozenset[str]:
    """Every name:action a scope set grants."""
    out = set()
    for s in scopes:
        if ":" in s:
            out.add(s)
        else:
            out.update(f"{s}:{a}" for a in ACTIONS)
    return frozenset(out)


def canonical(scopes) -> frozenset[str]:
    """The engine's canonical form: a name whose every action is held collapses to the name."""
    pairs = expand(scopes)
    out = set()
    for name in {p.split(":")[0] for p in pairs}:
        if all(f"{name}:{a}" in pairs for a in ACTIONS):
            out.add(name)
        else:
            out.update(p for p in pairs if p.startswith(name + ":"))
    return frozenset(out)


@dataclass
class ModelToken:
    secret: str
    owner: str
    name: str
    scopes: frozenset[str]
    expires_at: datetime
    revoked: bool = False


@dataclass
class Model:
    tokens: dict[str, ModelToken] = field(default_factory=dict)  # by public id

    def live(self, owner: str) -> dict[str, ModelToken]:
        return {i: t for i, t in self.tokens.items() if t.owner == owner and not t.revoked}

    def name_taken(self, owner: str, name: str) -> bool:
        return any(t.name == name for t in self.live(owner).values())


class TokenStoreMachine(RuleBasedStateMachine):
    ids = Bundle("ids")

    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="tokenkeep-sm-")
        self.path = os.path.join(self.dir, "tokens.db")
        self.clock = tokenkeep.ManualClock(T0)
        self.handles = [self._open(), self._open()]
        self.model = Model()
        RUNS["examples"] += 1

    def _open(self) -> tokenkeep.TokenStore:
        return tokenkeep.TokenStore(self.path, clock=self.clock, pepper=PEPPER)

    def teardown(self) -> None:
        for h in self.handles:
            h.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _now(self) -> datetime:
        return self.clock.now()

    # -- rules ---------------------------------------------------------------------------

    @initialize(target=ids)
    def first_token(self):
        issued = self.handles[0].create("alice", "first", {"device"})
        self._learn(
            issued, "alice", "first", canonical({"device"}), self._now() + timedelta(days=30)
        )
        return issued.info.id

    @rule(
        target=ids,
        h=st.integers(0, 1),
        owner=st.sampled_from(OWNERS),
        name=st.sampled_from(NAMES),
        scopes=st.sets(st.sampled_from(SCOPE_WORDS), min_size=1, max_size=3),
        days=st.one_of(st.none(), st.integers(1, 40), st.integers(366, 400)),
    )
    def create(self, h, owner, name, scopes, days):
        RUNS["steps"] += 1
        store = self.handles[h]
        expires_in = None if days is None else timedelta(days=days)
        stripped = name.strip()
        if days is not None and days > 365:
            with pytest.raises(InvalidArgument):
                store.create(owner, name, scopes, expires_in=expires_in)
            return multiple()
        if self.model.name_taken(owner, stripped):
            with pytest.raises(NameTaken):
                store.create(owner, name, scopes, expires_in=expires_in)
            return multiple()
        issued = store.create(owner, name, scopes, expires_in=expires_in)
        expires_at = self._now() + (expires_in or timedelta(days=30))
        assert issued.info.owner == owner and issued.info.name == stripped
        assert issued.info.scopes == canonical(scopes)
        assert issued.info.expires_at == expires_at
        assert issued.secret not in repr(issued)
        self._learn(issued, owner, stripped, canonical(scopes), expires_at)
        return issued.info.id

    def _learn(self, issued, owner, name, scopes, expires_at) -> None:
        assert issued.info.id not in self.model.tokens
        self.model.tokens[issued.info.id] = ModelToken(
            issued.secret, owner, name, scopes, expires_at
        )

    @rule(
        h=st.integers(0, 1),
        token_id=ids,
        as_other=st.booleans(),
        scopes=st.sets(st.sampled_from(SCOPE_WORDS), min_size=1, max_size=3),
    )
    def update_scopes(self, h, token_id, as_other, scopes):
        RUNS["steps"] += 1
        t = self.model.tokens[token_id]
        owner = self._other(t.owner) if as_other else t.owner
        if as_other or t.revoked:
            with pytest.raises(NotFound):
                self.handles[h].update_scopes(owner, token_id, scopes)
            return
        info = self.handles[h].update_scopes(owner, token_id, scopes)
        t.scopes = canonical(scopes)
        assert info.scopes == t.scopes

    @rule(h=st.integers(0, 1), token_id=ids, as_other=st.booleans())
    def revoke(self, h, token_id, as_other):
        RUNS["steps"] += 1
        t = self.model.tokens[token_id]
        owner = self._other(t.owner) if as_other else t.owner
        if as_other or t.revoked:
            with pytest.raises(NotFound):
                self.handles[h].revoke(owner, token_id)
            return
        self.handles[h].revoke(owner, token_id)
        t.revoked = True

    @rule(target=ids, h=st.integers(0, 1), token_id=ids, as_other=st.booleans())
    def rotate(self, h, token_id, as_other):
        RUNS["steps"] += 1
        t = self.model.tokens[token_id]
        owner = self._other(t.owner) if as_other else t.owner
        if as_other or t.revoked:
            with pytest.raises(NotFound):
                self.handles[h].rotate(owner, token_id)
            return multiple()
        issued = self.handles[h].rotate(owner, token_id)
        t.revoked = True
        assert issued.info.id != token_id and issued.secret != t.secret
        assert (issued.info.name, issued.info.scopes, issued.info.expires_at) == (
            t.name,
            t.scopes,
            t.expires_at,
        )
        self._learn(issued, t.owner, t.name, t.scopes, t.expires_at)
        return issued.info.id

    @rule(
        h=st.integers(0, 1),
        token_id=ids,
        required=st.lists(st.sampled_from(SCOPE_WORDS), max_size=2),
    )
    def verify(self, h, token_id, required):
        RUNS["steps"] += 1
        t = self.model.tokens[token_id]
        store = self.handles[h]
        expired = self._now() > t.expires_at
        if t.revoked or expired:
            allowed = tuple(
                c for c, on in ((RevokedToken, t.revoked), (ExpiredToken, expired)) if on
            )
            with pytest.raises(allowed):
                store.verify(t.secret, *required)
            assert store.check(t.secret) is False
        elif not expand(required) <= expand(t.scopes):
            with pytest.raises(InsufficientScope):
                store.verify(t.secret, *required)
            assert store.check(t.secret, *required) is False
        else:
            info = store.verify(t.secret, *required)
            assert (info.id, info.owner, info.name, info.scopes) == (
                token_id,
                t.owner,
                t.name,
                t.scopes,
            )
            assert store.check(t.secret, *required) is True
        # A near miss of a real secret is only ever InvalidToken.
        twisted = t.secret[:20] + ("A" if t.secret[20] != "A" else "B") + t.secret[21:]
        with pytest.raises(InvalidToken):
            store.verify(twisted)

    @rule(h=st.integers(0, 1), token_id=ids)
    def other_owner_cannot_see(self, h, token_id):
        RUNS["steps"] += 1
        t = self.model.tokens[token_id]
        with pytest.raises(NotFound):
            self.handles[h].get(self._other(t.owner), token_id)
        assert token_id not in {i.id for i in self.handles[h].list(self._other(t.owner))}

    @rule(hours=st.integers(1, 24 * 20))
    def advance_clock(self, hours):
        RUNS["steps"] += 1
        self.clock.advance(timedelta(hours=hours))

    @rule(seconds=st.sampled_from([0, 1]))
    def to_the_expiry_boundary(self, seconds):
        """Jump to exactly a live token's expires_at (still valid) or one second past it."""
        RUNS["steps"] += 1
        future = sorted(
            t.expires_at
            for t in self.model.tokens.values()
            if not t.revoked and t.expires_at >= self._now()
        )
        if future:
            self.clock.set(future[0] + timedelta(seconds=seconds))

    @rule(h=st.integers(0, 1))
    def reopen(self, h):
        RUNS["steps"] += 1
        self.handles[h].close()
        self.handles[h] = self._open()

    # -- invariants ----------------------------------------------------------------------

    @invariant()
    def lists_match_the_model(self):
        for store in self.handles:
            for owner in OWNERS:
                listed = {
                    i.id: (i.owner, i.name, i.scopes, i.expires_at) for i in store.list(owner)
                }
                expected = {
                    i: (t.owner, t.name, t.scopes, t.expires_at)
                    for i, t in self.model.live(owner).items()
                }
                assert listed == expected
                names = [i.name for i in store.list(owner)]
                assert len(names) == len(set(names)), "names must be unique among live tokens"

    @invariant()
    def no_revoked_or_expired_token_verifies(self):
        now = self._now()
        for t in self.model.tokens.values():
            should = not t.revoked and now <= t.expires_at
            for store in self.handles:
                assert store.check(t.secret) is should

    @staticmethod
    def _other(owner: str) -> str:
        return OWNERS[1 - OWNERS.index(owner)]


TokenStoreMachine.TestCase.settings = settings(
    max_examples=EXAMPLES,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_token_store_state_machine = TokenStoreMachine.TestCase


def teardown_module() -> None:
    print(f"\nstate machine: {RUNS['examples']} examples, {RUNS['steps']} steps")
