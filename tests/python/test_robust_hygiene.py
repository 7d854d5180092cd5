"""Secret hygiene: a full workflow with every log record captured at DEBUG, every exception
message, repr, str and HTML rendering kept, the CLI's verify output, and the database, WAL,
SHM and key files read while the store is open and after it is closed. No token secret may
appear in any of them, and the pepper may appear nowhere but its key file."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import traceback
from datetime import timedelta

import pytest
import tokenkeep
from conftest import T0  # noqa: F401  (the store fixture's clock starts there)
from tokenkeep import TokenkeepError


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(
            logging.Formatter("%(name)s %(levelname)s %(message)s %(exc_info)s").format(record)
        )


def typo(secret: str) -> str:
    """The token with its last character changed (always changed: 1 in 62 tokens ends in x)."""
    return secret[:-1] + ("x" if secret[-1] != "x" else "y")


def needles(secret: str):
    """The whole token, its 43-character secret part, and both halves of that part."""
    part = secret.split("_", 1)[1][11:54]
    return [secret, part, part[:20], part[-20:]]


def rendered(value) -> list:
    out = [repr(value), str(value)]
    html = getattr(value, "_repr_html_", None)
    if html is not None:
        out.append(html())
    return out


def test_no_secret_in_logs_messages_reprs_or_files(db_path, clock, monkeypatch, capsys):
    handler = Collect()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    texts: list = []
    secrets: list = []
    files: dict = {}

    def expect_error(call):
        try:
            call()
        except TokenkeepError as e:
            texts.extend(
                [str(e), repr(e), "".join(traceback.format_exception(type(e), e, e.__traceback__))]
            )
            texts.extend(str(a) for a in e.args)
            return e
        raise AssertionError("no error raised")

    def snapshot(tag):
        for suffix in ("", "-wal", "-shm", ".key"):
            if os.path.exists(db_path + suffix):
                with open(db_path + suffix, "rb") as f:
                    files[tag + suffix] = f.read()

    try:
        with tokenkeep.TokenStore(db_path, clock=clock) as store:
            texts.extend(rendered(store))
            issued = [
                store.create("alice", f"token-{i}", {"device", "policy:read"}) for i in range(5)
            ]
            issued += store.create_many("bob", [("b1", {"collection"}), ("b2", {"device:read"})])
            secrets += [i.secret for i in issued]
            for i in issued:
                texts.extend(rendered(i))
                texts.extend(rendered(i.info))
            texts.extend(rendered(store.list("alice")))
            a0, a1 = issued[0], issued[1]
            texts.extend(rendered(store.verify(a0.secret, "device:write")))
            texts.extend(rendered(store.update_scopes("alice", a0.info.id, {"device:read"})))
            expect_error(lambda: store.verify(a0.secret, "device:write"))  # InsufficientScope
            expect_error(lambda: store.verify(a0.secret, "nonsense"))  # UnknownScope
            expect_error(lambda: store.verify(typo(a0.secret)))  # InvalidToken
            expect_error(lambda: store.verify(a0.secret + " "))  # InvalidToken
            expect_error(lambda: store.create("alice", "token-1", {"device"}))  # NameTaken
            expect_error(lambda: store.get("bob", a0.info.id))  # NotFound
            expect_error(
                lambda: store.update_scopes("alice", a0.secret, {"device"})
            )  # a secret as id
            expect_error(lambda: store.revoke("alice", a0.secret))
            expect_error(
                lambda: store.create("alice", a1.secret, {"device"}, expires_in=timedelta(days=999))
            )
            rotated = store.rotate("alice", a1.info.id)
            secrets.append(rotated.secret)
            texts.extend(rendered(rotated))
            expect_error(lambda: store.verify(a1.secret))  # RevokedToken
            store.revoke("alice", a0.info.id)
            expect_error(lambda: store.verify(a0.secret))
            short = store.create("carol", "short", {"device"}, expires_in=timedelta(hours=1))
            secrets.append(short.secret)
            clock.advance(timedelta(hours=2))
            expect_error(lambda: store.verify(short.secret))  # ExpiredToken
            assert store.check(short.secret) is False
            texts.extend(rendered(store.expiring_within(timedelta(days=60))))
            texts.extend(rendered(store.audit(limit=1000)))
            for event in store.audit(limit=1000):
                texts.extend(rendered(event))
            snapshot("open")
            texts.append(str(store.purge()))
        snapshot("closed")
        expect_error(lambda: store.verify(issued[2].secret))  # StoreError: closed

        # The CLI verifies from stdin: neither its output nor its errors repeat the token.
        # (a0 was revoked and then purged, so it is unknown now: exit 3.)
        env = dict(os.environ, TOKENKEEP_DB=db_path)
        for token, code in ((issued[2].secret, 0), (a0.secret, 3), (typo(issued[2].secret), 3)):
            for extra in ([], ["--json"]):
                proc = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "tokenkeep",
                        "--db",
                        db_path,
                        *extra,
                        "verify",
                        "--scope",
                        "device:read",
                    ],
                    input=token + "\n",
                    capture_output=True,
                    text=True,
                    env=env,
                    timeout=60,
                )
                assert proc.returncode == code, proc.stdout + proc.stderr
                texts.extend([proc.stdout, proc.stderr])
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)

    captured = capsys.readouterr()
    texts.extend([captured.out, captured.err])
    texts.extend(handler.lines)
    haystack = "\n".join(texts)
    blobs = {name: data for name, data in files.items() if not name.endswith(".key")}

    assert len(secrets) >= 9 and len(texts) > 100 and sum(map(len, blobs.values())) > 8192
    for secret in secrets:
        for needle in needles(secret):
            assert needle not in haystack, (
                "a secret appears in a message, repr, log line or CLI output"
            )
            for name, data in blobs.items():
                assert needle.encode() not in data, f"a secret appears in {name}"
    pepper_hex = files["open.key"].strip()
    assert len(pepper_hex) == 64
    assert pepper_hex.decode() not in haystack
    for name, data in blobs.items():
        assert pepper_hex not in data and bytes.fromhex(pepper_hex.decode()) not in data, name
    # The workflow did exercise what it claims to: the ids are public and do show up.
    assert issued[2].info.id in haystack


@pytest.mark.parametrize("env_pepper", [True, False])
def test_pepper_from_the_environment_never_reaches_a_file_or_message(
    db_path, monkeypatch, env_pepper
):
    pepper = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
    if env_pepper:
        monkeypatch.setenv("TOKENKEEP_PEPPER", pepper)
    with tokenkeep.TokenStore(db_path, pepper=None if env_pepper else pepper) as store:
        issued = store.create("alice", "ci", {"device"})
        with pytest.raises(tokenkeep.InvalidToken) as e:
            store.verify(
                issued.secret[:-1] + "0" if issued.secret[-1] != "0" else issued.secret[:-1] + "1"
            )
        assert pepper not in str(e.value) and pepper not in repr(store)
        data = b""
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(db_path + suffix):
                with open(db_path + suffix, "rb") as f:
                    data += f.read()
    assert not os.path.exists(db_path + ".key"), "an explicit pepper must not also write a key file"
    assert pepper.encode() not in data and bytes.fromhex(pepper) not in data
