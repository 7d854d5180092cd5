"""No PostgreSQL password in any error (issue 19, item 2): libpq's parser quotes the string it
cannot read (`invalid percent-encoded token: "50%off-Secret"`, `missing "=" after "Secret"`),
and a URL whose password holds an unescaped '@' or '/' is cut there and the rest quoted as a
host or port. Checked through StoreError, the CLI's stderr and --json, and manage.py
tokenkeep. No server is needed: each of these fails before or while connecting."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from tokenkeep import StoreError, TokenStore

PEPPER = "ab" * 32
NO_SERVER = "host=/nonexistent-tokenkeep port=1"

# (connection string, the password's telltale: must appear in no message)
LEAKY = [
    ("postgresql://app:50%off-Secret@/tokens?host=/nonexistent-tokenkeep", "off-Secret"),
    ("postgres://app:50%zzSecret@localhost:1/tokens", "zzSecret"),
    (f"{NO_SERVER} dbname=tokens password=My Secret", "Secret"),
    (f"{NO_SERVER} password='unterminated Secret", "Secret"),
    ("postgresql://app:pa@SecretTail@/tokens?host=/nonexistent-tokenkeep", "SecretTail"),
    ("postgresql://app:pa/SecretTail@localhost:1/tokens", "SecretTail"),
    (f"{NO_SERVER} user=app password=Hunter2Secret dbname=tokens", "Hunter2Secret"),
    ("postgresql://app:Hunter2Secret@/tokens?host=/nonexistent-tokenkeep&port=1", "Hunter2Secret"),
]


def _cli(*args: str, db: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENKEEP_")}
    env.update(TOKENKEEP_DB=db, TOKENKEEP_PEPPER=PEPPER)
    return subprocess.run(
        [sys.executable, "-m", "tokenkeep", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


@pytest.mark.parametrize(("url", "telltale"), LEAKY)
def test_store_error_never_quotes_the_password(url, telltale):
    with pytest.raises(StoreError) as err:
        TokenStore(url, pepper=PEPPER)
    message = str(err.value)
    assert message.startswith("cannot connect to")
    assert telltale not in message
    assert telltale not in repr(err.value)


@pytest.mark.parametrize(("url", "telltale"), LEAKY)
def test_cli_stderr_and_json_never_quote_the_password(url, telltale):
    plain = _cli("--owner", "alice", "list", db=url)
    as_json = _cli("--owner", "alice", "list", "--json", db=url)
    assert plain.returncode != 0
    assert as_json.returncode == plain.returncode
    error = json.loads(as_json.stderr)["error"]
    assert "cannot connect to" in plain.stderr
    assert "cannot connect to" in error["message"]
    seen = [plain.stdout, plain.stderr, as_json.stdout, as_json.stderr]
    assert [telltale in text for text in seen] == [False] * 4


def test_a_parse_error_says_how_to_fix_the_string_without_quoting_it():
    with pytest.raises(StoreError) as err:
        TokenStore("postgresql://app:50%off-Secret@localhost/tokens", pepper=PEPPER)
    assert "cannot be parsed" in str(err.value)
    assert "%25" in str(err.value)
    with pytest.raises(StoreError) as err:
        TokenStore("postgresql://app:pa@SecretTail@localhost/tokens", pepper=PEPPER)
    assert "%40" in str(err.value)
