"""manage.py tokenkeep …: the tokenkeep CLI on the store of settings.TOKENKEEP."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from tokenkeep.django import get_store

from .answers import PROJECT


@pytest.fixture
def tk(settings, tk_db):
    """The site's store on the system clock, as the CLI's (the shared ``tk`` runs in 2030)."""
    settings.TOKENKEEP = {"DB": tk_db}
    return get_store()


def cli(*args: str):
    out, err = io.StringIO(), io.StringIO()
    call_command("tokenkeep", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_create_and_list_through_call_command_use_the_configured_store(tk):
    secret, details = cli("--owner", "alice", "create", "--name", "ci", "--scope", "device:read")
    secret = secret.strip()
    assert secret.startswith("tk_") and secret not in details
    assert tk.verify(secret, "device:read").owner == "alice"  # the site's own store sees it
    listed, _ = cli("--owner", "alice", "list", "--json")
    assert [t["name"] for t in json.loads(listed)] == ["ci"]


def test_a_failing_cli_command_is_a_command_error_with_the_clis_exit_status(tk):
    with pytest.raises(CommandError) as e:
        cli("--owner", "alice", "show", "no-such-token")
    assert e.value.returncode == 7  # the CLI's "no such token"


def test_a_new_database_gets_the_configured_prefix_and_vocabulary(settings, tk_db):
    settings.TOKENKEEP = {"DB": tk_db, "PREFIX": "acme", "VOCABULARY": ["fleet:read,write,admin"]}
    secret, _ = cli("--owner", "alice", "create", "--name", "ops", "--scope", "fleet:admin")
    assert secret.startswith("acme_")
    assert get_store().verify(secret.strip(), "fleet:admin").name == "ops"


def test_the_pepper_setting_reaches_the_cli_only_for_the_call(settings, tk_db):
    pepper = "5a" * 32
    settings.TOKENKEEP = {"DB": tk_db, "PEPPER": pepper}
    secret, _ = cli("--owner", "alice", "create", "--name", "peppered", "--scope", "device")
    assert get_store().verify(secret.strip()).name == "peppered"
    assert not os.path.exists(f"{tk_db}.key")  # no key file: the configured pepper was used
    assert "TOKENKEEP_PEPPER" not in os.environ


def manage(*args: str, db) -> subprocess.CompletedProcess:
    env = {**os.environ, "TOKENKEEP_TEST_DB": str(db)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        [sys.executable, "manage.py", "tokenkeep", *args],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_manage_py_tokenkeep_list_in_a_subprocess(tk, tk_db):
    tk.create(owner="alice", name="deploy", scopes={"device:read"})
    tk.create(owner="bob", name="other", scopes={"device"})
    run = manage("--owner", "alice", "list", db=tk_db)
    assert run.returncode == 0, run.stderr
    assert "deploy" in run.stdout and "other" not in run.stdout
    run = manage("--settings=testsite.settings", "--owner", "alice", "list", "--json", db=tk_db)
    assert run.returncode == 0, run.stderr
    assert [t["name"] for t in json.loads(run.stdout)] == ["deploy"]


def test_manage_py_tokenkeep_passes_help_and_exit_status_through(tk, tk_db):
    run = manage("--help", db=tk_db)
    assert run.returncode == 0 and "Usage: tokenkeep" in run.stdout
    run = manage("--owner", "alice", "revoke", "nope", "--yes", db=tk_db)
    assert run.returncode == 7 and "nope" in run.stderr  # the CLI's "no such token", one line


@pytest.mark.parametrize(
    ("url", "telltale"),
    [
        ("postgresql://app:50%off-Secret@/tokens?host=/nonexistent-tokenkeep", "off-Secret"),
        ("host=/nonexistent-tokenkeep port=1 password=My Secret", "Secret"),
    ],
)
def test_manage_py_tokenkeep_never_shows_the_database_password(settings, url, telltale):
    """Issue 19, item 2: libpq's parser quoted the connection string, password and all."""
    settings.TOKENKEEP = {"DB": url, "PEPPER": "ab" * 32}
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as e:
        call_command("tokenkeep", "--owner", "alice", "list", stdout=out, stderr=err)
    seen = [str(e.value), out.getvalue(), err.getvalue()]
    assert "cannot connect to" in "".join(seen)
    assert [telltale in text for text in seen] == [False] * 3
