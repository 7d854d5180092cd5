"""Crash tests: a child process creates, edits, revokes and rotates tokens as fast as it can
and is killed with SIGKILL at a random moment. The child announces each call before making
it ("B ...") and acknowledges it once it returned ("D ..."). After every kill:

- PRAGMA integrity_check is ok;
- every acknowledged call is reflected; the one call in flight is either fully applied or
  not at all; nothing else changed (a bystander owner's tokens are untouched);
- a token reported revoked (or rotated away) never verifies again, in this or any later round;
- every live token whose secret we saw still verifies with exactly its scopes.

`make test` runs TOKENKEEP_CRASH_ROUNDS (default 12) rounds; `make soak` runs 150.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest
import tokenkeep
from tokenkeep import RevokedToken

pytestmark = pytest.mark.slow

SOAK = bool(os.environ.get("TOKENKEEP_SOAK"))
ROUNDS = int(os.environ.get("TOKENKEEP_CRASH_ROUNDS", "150" if SOAK else "12"))
PEPPER = "c7" * 32
OWNER = "crash"
SCOPES = ["device", "policy:read", "collection", "device:read policy", "policy"]

# %-formatting: the child's source holds f-strings whose braces must stay literal.
CHILD = textwrap.dedent(
    """
    import random, sys, tokenkeep
    path, pepper, seed, tag = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    rng = random.Random(seed)
    store = tokenkeep.TokenStore(path, pepper=pepper)
    live = [t.id for t in store.list("crash")]
    out = sys.stdout
    out.write("READY\\n"); out.flush()
    j = 0
    while True:
        j += 1
        op = rng.choice(["create", "create", "update", "revoke", "rotate"]) if live else "create"
        scopes = rng.choice(%r)
        if op == "create":
            name = f"{tag}-{j}"
            out.write(f"B create {name} {scopes.replace(' ', ',')}\\n"); out.flush()
            t = store.create("crash", name, scopes.split())
            live.append(t.info.id)
            out.write(f"D create {t.info.id} {t.secret}\\n"); out.flush()
        else:
            tid = rng.choice(live)
            if op == "update":
                out.write(f"B update {tid} {scopes.replace(' ', ',')}\\n"); out.flush()
                store.update_scopes("crash", tid, scopes.split())
                out.write(f"D update {tid}\\n"); out.flush()
            elif op == "revoke":
                out.write(f"B revoke {tid}\\n"); out.flush()
                store.revoke("crash", tid)
                live.remove(tid)
                out.write(f"D revoke {tid}\\n"); out.flush()
            else:
                out.write(f"B rotate {tid}\\n"); out.flush()
                t = store.rotate("crash", tid)
                live.remove(tid)
                live.append(t.info.id)
                out.write(f"D rotate {tid} {t.info.id} {t.secret}\\n"); out.flush()
        if len(live) > 25:  # keep the working set small: revoke the oldest
            tid = live[0]
            out.write(f"B revoke {tid}\\n"); out.flush()
            store.revoke("crash", tid)
            live.remove(tid)
            out.write(f"D revoke {tid}\\n"); out.flush()
    """  # noqa: UP031
    % (SCOPES,)
)


def canonical(words) -> frozenset[str]:
    pairs = set()
    for s in words:
        pairs.update([s] if ":" in s else [f"{s}:read", f"{s}:write"])
    out = set()
    for name in {p.split(":")[0] for p in pairs}:
        both = {f"{name}:read", f"{name}:write"} <= pairs
        out.update([name] if both else [p for p in pairs if p.startswith(name + ":")])
    return frozenset(out)


class Model:
    """What the database must hold for OWNER: live tokens by id, and every secret seen."""

    def __init__(self) -> None:
        self.live: dict[str, tuple[str, frozenset[str]]] = {}  # id -> (name, scopes)
        self.secret: dict[str, str] = {}  # id -> secret, when the create/rotate was acknowledged
        self.dead: dict[str, str] = {}  # id -> secret of every token revoked or rotated away
        self.in_flight: list[str] | None = None  # the announced call ("B ...") not yet acknowledged

    def announce(self, fields: list[str]) -> None:
        assert self.in_flight is None, "the child announced a call before the last one returned"
        self.in_flight = fields

    def acknowledge(self, fields: list[str]) -> None:
        call, self.in_flight = self.in_flight, None
        assert call is not None and call[1] == fields[1]
        op = call[1]
        if op == "create":
            self.live[fields[2]] = (call[2], canonical(call[3].split(",")))
            self.secret[fields[2]] = fields[3]
        elif op == "update":
            self.live[call[2]] = (self.live[call[2]][0], canonical(call[3].split(",")))
        elif op == "revoke":
            self.kill(call[2])
        elif op == "rotate":
            self.live[fields[3]] = self.live[call[2]]
            self.secret[fields[3]] = fields[4]
            self.kill(call[2])

    def kill(self, tid: str) -> None:
        del self.live[tid]
        if tid in self.secret:
            self.dead[tid] = self.secret.pop(tid)


def integrity(path: str) -> str:
    con = sqlite3.connect(path)
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()


def run_round(path: str, model: Model, seed: int, tag: str) -> int:
    """One child, killed at a random moment. Returns how many calls it acknowledged."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, path, PEPPER, str(seed), tag],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline() == "READY\n", child.stderr.read()
    time.sleep(random.Random(seed).uniform(0.0, 0.4))
    child.send_signal(signal.SIGKILL)
    # Read through the same buffered file as the READY line (communicate() would skip what
    # that readline() already buffered).
    out, err = child.stdout.read(), child.stderr.read()
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL, err
    lines = [line.split() for line in out.splitlines()]
    if lines and out and not out.endswith("\n"):
        lines.pop()  # a line cut by the kill says nothing
    acked = 0
    for fields in lines:
        if fields[0] == "B":
            model.announce(fields)
        else:
            model.acknowledge(fields)
            acked += 1
    return acked


def observe(store: tokenkeep.TokenStore) -> dict[str, tuple[str, frozenset[str]]]:
    return {t.id: (t.name, t.scopes) for t in store.list(OWNER)}


def reconcile(model: Model, seen: dict[str, tuple[str, frozenset[str]]]) -> str:
    """Checks `seen` against the model with the call in flight applied or not (never half),
    then makes the model match what the database holds. Says which case it was."""
    call, model.in_flight = model.in_flight, None
    if call is None:
        assert seen == model.live, "no call was in flight, yet the database differs"
        return "idle"
    op = call[1]
    if seen == model.live:
        return "lost"  # the call in flight did not happen
    if op == "create":
        extra = {i: v for i, v in seen.items() if i not in model.live}
        assert {i: v for i, v in seen.items() if i in model.live} == model.live
        assert list(extra.values()) == [(call[2], canonical(call[3].split(",")))], extra
        model.live.update(extra)  # applied; its secret never reached us
    elif op == "update":
        after = dict(model.live)
        after[call[2]] = (model.live[call[2]][0], canonical(call[3].split(",")))
        assert seen == after, f"update of {call[2]} half applied"
        model.live = after
    elif op == "revoke":
        assert seen == {i: v for i, v in model.live.items() if i != call[2]}, (
            f"revoke of {call[2]} half applied"
        )
        model.kill(call[2])
    elif op == "rotate":
        tid = call[2]
        assert tid not in seen, "rotate half applied: old token still live"
        extra = {i: v for i, v in seen.items() if i not in model.live}
        assert list(extra.values()) == [model.live[tid]], (
            "rotate half applied: no single replacement"
        )
        assert {i: v for i, v in seen.items() if i in model.live} == {
            i: v for i, v in model.live.items() if i != tid
        }
        model.live.update(extra)
        model.kill(tid)
    return "landed"


def test_sigkill_at_random_moments_loses_no_acknowledged_call(tmp_path):
    path = str(tmp_path / "tokens.db")
    with tokenkeep.TokenStore(path, pepper=PEPPER) as store:
        bystander = [store.create("bystander", f"b{i}", {"device"}) for i in range(3)]
    model = Model()
    total_acked = 0
    outcomes = {"idle": 0, "lost": 0, "landed": 0}
    rng = random.Random(20300101)
    for round_ in range(ROUNDS):
        total_acked += run_round(path, model, rng.randrange(2**31), f"r{round_}")
        assert integrity(path) == "ok"
        with tokenkeep.TokenStore(path, pepper=PEPPER) as store:
            outcomes[reconcile(model, observe(store))] += 1
            for tid, secret in model.secret.items():
                info = store.verify(secret)
                assert (info.id, info.name, info.scopes) == (tid, *model.live[tid])
            for tid, secret in model.dead.items():
                try:
                    store.verify(secret)
                except RevokedToken:
                    pass
                else:
                    raise AssertionError(f"revoked token {tid} verified after a crash")
            assert [(t.id, t.name, t.scopes) for t in store.list("bystander")] == [
                (b.info.id, b.info.name, b.info.scopes) for b in reversed(bystander)
            ]
            for b in bystander:
                assert store.check(b.secret, "device:write")
    print(
        f"\ncrash: {ROUNDS} SIGKILL rounds, {total_acked} acknowledged calls, 0 lost, "
        f"{len(model.dead)} revoked tokens never verified again; call in flight at the kill: "
        f"{outcomes['landed']} applied whole, {outcomes['lost']} not at all, {outcomes['idle']} none"
    )
    assert total_acked > ROUNDS  # the kills landed while work was going on
