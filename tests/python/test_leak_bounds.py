"""Leak scans are bounded (issue 19, item 6): a limit on the text's size and on how many
distinct well-formed tokens it holds, each refused whole with InvalidArgument naming the
limit before anything is looked up or revoked; the CLI reads its input in parts (never the
whole file at once), with --max-bytes and --max-tokens."""

from __future__ import annotations

import pytest
import tokenkeep
from leak_forgery import forged_tokens
from test_cli import tk


@pytest.fixture
def world(tmp_path):
    store = tokenkeep.TokenStore(str(tmp_path / "tokens.db"))
    issued = store.create("alice", "ci", scopes=["device"])
    yield store, issued
    store.close()


def test_more_tokens_than_max_tokens_is_refused_naming_the_limit(world):
    store, issued = world
    text = forged_tokens(50) + issued.secret.encode()
    with pytest.raises(tokenkeep.InvalidArgument) as e:
        store.scan_leaked(text, max_tokens=50)
    assert e.value.field == "max_tokens"
    assert "more than 50 distinct well-formed tokens" in str(e.value)
    assert store.check(issued.secret)  # nothing was revoked
    assert len(store.scan_leaked(text, max_tokens=51, dry_run=True).findings) == 51


def test_a_text_over_max_bytes_is_refused_naming_the_limit(world):
    store, issued = world
    text = b"x" * 100 + issued.secret.encode()
    with pytest.raises(tokenkeep.InvalidArgument) as e:
        store.scan_leaked(text, max_bytes=100)
    assert e.value.field == "max_bytes"
    assert "over the limit of 100 (max_bytes)" in str(e.value)
    assert store.check(issued.secret)


def test_the_default_limit_refuses_a_flood_of_forged_tokens(world):
    store, issued = world
    with pytest.raises(tokenkeep.InvalidArgument) as e:
        store.scan_leaked(forged_tokens(100_001))
    assert e.value.field == "max_tokens"


def test_cli_reads_a_long_file_in_parts_and_finds_tokens_across_them(tmp_path, world):
    store, issued = world
    later = store.create("bob", "deploy", scopes=["device"])
    filler = b"INFO nothing to see here\n" * 200_000  # 5 MB: more than one 4 MiB part
    leaked = tmp_path / "big.log"
    leaked.write_bytes(issued.secret.encode() + b"\n" + filler + b"key=" + later.secret.encode())
    r = tk(str(tmp_path / "tokens.db"), "leak", str(leaked))
    assert r.code == 0, r.err
    rows = [line.split("\t") for line in r.out.splitlines()]
    assert [(row[0], row[1], row[3]) for row in rows] == [
        ("revoked", issued.info.id, "line 1"),
        ("revoked", later.info.id, "line 200002"),
    ]
    audit = {e.token_id: e.detail for e in store.audit(limit=10) if e.action == "leaked"}
    assert audit == {issued.info.id: f"{leaked}, line 1", later.info.id: f"{leaked}, line 200002"}


def test_cli_max_bytes_refuses_a_file_before_reading_it(tmp_path, world):
    store, issued = world
    leaked = tmp_path / "paste.txt"
    leaked.write_bytes(issued.secret.encode() + b"\n" + b"x" * 1000)
    r = tk(str(tmp_path / "tokens.db"), "leak", "--max-bytes", "1000", str(leaked))
    assert r.code == 2
    assert f"{leaked} is {leaked.stat().st_size} bytes, over --max-bytes (1000)" in r.err
    assert store.check(issued.secret)
    piped = tk(str(tmp_path / "tokens.db"), "leak", "--max-bytes", "1000", "-", input="y" * 2000)
    assert piped.code == 2
    assert "stdin is longer than --max-bytes (1000 bytes)" in piped.err


def test_cli_max_tokens_names_the_flag(tmp_path, world):
    store, issued = world
    leaked = tmp_path / "flood.txt"
    leaked.write_bytes(forged_tokens(20) + issued.secret.encode())
    r = tk(str(tmp_path / "tokens.db"), "leak", "--max-tokens", "20", str(leaked))
    assert r.code == 2
    assert "holds more than --max-tokens (20) distinct well-formed tokens" in r.err
    assert store.check(issued.secret)
