"""A realistic mixed text for the leak tests: log lines, a diff, JSON, URL query strings, with
real tokens of several owners (live, revoked, expired), a forgery and near-miss strings."""

from __future__ import annotations

import json
import zlib
from datetime import UTC, datetime, timedelta

import tokenkeep
from tokenkeep import ManualClock

B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def b62(value: int, width: int) -> str:
    out = ""
    for _ in range(width):
        value, d = divmod(value, 62)
        out = B62[d] + out
    return out


def forge(token: str) -> str:
    """Same id, another secret, a valid checksum again: only the store can tell it apart."""
    i = len(token) - 7
    head = token[:i] + ("a" if token[i] != "a" else "b") + token[i + 1 : -6]
    return head + b62(zlib.crc32(head.encode()), 6)


def bad_checksum(token: str) -> str:
    return token[:-1] + ("A" if token[-1] != "A" else "B")


def one_char_changed(token: str) -> str:
    i = len(token) // 2
    return token[:i] + ("x" if token[i] != "x" else "y") + token[i + 1 :]


def make_world(tmp_path):
    # Two hours behind, advanced below: then the store's clock is the real one again, so a
    # CLI run on the same file (system clock) sees the same expired token.
    clock = ManualClock(datetime.now(UTC) - timedelta(hours=2))
    store = tokenkeep.TokenStore(str(tmp_path / "tokens.db"), clock=clock)
    t = {
        "log": store.create("alice", "ci-deploy", {"device"}),
        "diff": store.create("alice", "laptop", {"policy:read"}),
        "json": store.create("bob", "backup", {"collection"}),  # another owner
        "url": store.create("carol", "dashboard", {"device:read"}),
        "revoked": store.create("alice", "old", {"device"}),
        "expired": store.create("bob", "short", {"device"}, expires_in=timedelta(hours=1)),
        "forged": store.create("alice", "untouched", {"device"}),
        "near": store.create("alice", "near-misses", {"device"}),
    }
    store.revoke("alice", t["revoked"].info.id)
    clock.advance(timedelta(hours=2))
    s = {k: v.secret for k, v in t.items()}
    near = s["near"]
    text = "\n".join(
        [
            f"2030-01-01T10:00:01Z INFO  auth: accepted token={s['log']} for alice",
            "2030-01-01T10:00:02Z WARN  retrying",
            "diff --git a/deploy.env b/deploy.env",
            "--- a/deploy.env",
            "+++ b/deploy.env",
            "@@ -1,2 +1,2 @@",
            f"-TOKENKEEP_TOKEN={s['diff']}",
            "+TOKENKEEP_TOKEN=${{ secrets.TOKEN }}",
            json.dumps({"headers": {"Authorization": f"Bearer {s['json']}"}, "retries": 3}),
            f"GET /api/devices?access_token={s['url']}&page=2 HTTP/1.1",
            f"old one {s['revoked']} and an expired one: '{s['expired']}'",
            f"forged: {forge(s['forged'])}",
            # Near misses: none of these is a token of this store.
            f"wrong checksum {bad_checksum(near)}",
            f"one char changed {one_char_changed(near)}",
            f"wrong prefix zz{near[2:]}",
            f"truncated {near[:-1]}",
            f"glued x{near} and {near}9 and {near}_v2",
            f"again the first: {s['log']}",
        ]
    )
    return store, t, text, clock
