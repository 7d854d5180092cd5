"""get_store(): one store per process, opened lazily from settings.TOKENKEEP, reopened after a
settings change, and a forked child (gunicorn --preload) opens its own."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import textwrap

import pytest
import tokenkeep
from tokenkeep.django import get_store

from .answers import PROJECT


def test_one_store_per_process_opened_on_first_use(settings, tk_db):
    settings.TOKENKEEP = {"DB": tk_db}
    assert not tk_db.exists()  # nothing opened by the settings alone
    store = get_store()
    assert tk_db.exists() and get_store() is store
    assert isinstance(store, tokenkeep.TokenStore)


def test_a_settings_change_closes_the_store_and_the_next_call_opens_the_new_one(settings, tmp_path):
    settings.TOKENKEEP = {"DB": tmp_path / "a.db"}
    first = get_store()
    issued = first.create(owner="alice", name="t", scopes={"device"})
    settings.TOKENKEEP = {"DB": tmp_path / "b.db", "PREFIX": "acme"}
    with pytest.raises(tokenkeep.StoreError):
        first.verify(issued.secret)
    second = get_store()
    assert second is not first and second.prefix == "acme"
    assert second.create(owner="alice", name="t", scopes={"device"}).secret.startswith("acme_")


def test_wrong_settings_are_improperly_configured_naming_the_key_not_the_value(settings, tk_db):
    from django.core.exceptions import ImproperlyConfigured

    settings.TOKENKEEP = {"DB": tk_db, "PEPER": "0" * 64}
    with pytest.raises(ImproperlyConfigured, match="unknown key.*PEPER") as e:
        get_store()
    assert "0" * 64 not in str(e.value)
    settings.TOKENKEEP = {"PREFIX": "x"}
    with pytest.raises(ImproperlyConfigured, match='"DB"'):
        get_store()
    settings.TOKENKEEP = {"DB": tk_db, "USER": "no.such.module.user"}
    with pytest.raises(ImproperlyConfigured, match="USER"):
        get_store()


def test_system_checks_report_bad_settings_and_a_missing_exception_handler(settings, tk_db):
    from django.core import checks

    settings.TOKENKEEP = {"DB": tk_db, "NOPE": 1}
    found = {m.id for m in checks.run_checks(tags=["tokenkeep"])}
    assert found == {"tokenkeep.E001"}
    settings.TOKENKEEP = {"DB": tk_db}
    settings.REST_FRAMEWORK = {
        "DEFAULT_AUTHENTICATION_CLASSES": ["tokenkeep.django.TokenAuthentication"]
    }
    assert {m.id for m in checks.run_checks(tags=["tokenkeep"])} == {"tokenkeep.W001"}


def test_forked_child_uses_its_own_store_and_leaves_the_parents_open(settings, tk_db):
    settings.TOKENKEEP = {"DB": tk_db}
    parent = get_store()
    issued = parent.create(owner="alice", name="before-fork", scopes={"device:read"})
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave without running the parent's teardown
        try:
            child = get_store()
            made = child.create(owner="alice", name="in-child", scopes={"device"})
            report = {
                "own_store": child is not parent and get_store() is child,
                "verified": child.verify(issued.secret, "device:read").name,
                "secret": made.secret,
            }
        except BaseException as e:  # the parent's assertion shows it
            report = {"error": repr(e)}
        os.write(write_end, json.dumps(report).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as f:
        report = json.loads(f.read())
    os.waitpid(pid, 0)
    assert report.get("own_store") is True, report
    assert report["verified"] == "before-fork"
    assert get_store() is parent  # the parent's store is still open and still the one
    assert parent.verify(report["secret"]).name == "in-child"  # the child's write is shared


PRELOAD = """
import os, signal, sys
sys.path.insert(0, {project!r})
from django.conf import settings
settings.configure(INSTALLED_APPS=["tokenkeep.django"], TOKENKEEP={{"DB": {db!r}}})
import django; django.setup()
from tokenkeep.django import get_store

store = get_store()  # opened in the "master", as with gunicorn --preload
issued = store.create(owner="alice", name="w", scopes={{"device:read"}})
children = []
for worker in range(2):
    r, w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        signal.alarm(20)  # a worker stuck at exit dies of SIGALRM (exit code -14), not an orphan
        os.close(r)
        if worker == 0:  # a worker that serves requests
            mine = get_store()
            os.write(w, b"ok " if mine.check(issued.secret, "device:read") else b"no ")
            os.read(go_r, 1)  # the master revoked the token meanwhile
            os.write(w, b"revoked" if not mine.check(issued.secret) else b"still-valid")
        else:  # a worker that never touches the store
            os.write(w, b"idle")
        os.close(w)
        sys.exit(0)  # a normal interpreter exit, with atexit handlers and finalization
    os.close(w)
    children.append((pid, r, go_w))
first = os.read(children[0][1], 3)  # the serving worker verified before the revoke
store.revoke(owner="alice", token_id=issued.info.id)
for n, (pid, r, go_w) in enumerate(children):
    os.write(go_w, b"x")
    out = first if n == 0 else b""
    while chunk := os.read(r, 100):
        out += chunk
    _, status = os.waitpid(pid, 0)
    print(out.decode(), os.waitstatus_to_exitcode(status))
print("master", store.check(issued.secret))
"""


def test_preloaded_store_forked_workers_exit_normally_and_see_revokes(tmp_path):
    script = PRELOAD.format(project=str(PROJECT), db=str(tmp_path / "tokens.db"))
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["ok revoked 0", "idle 0", "master False"]


def test_importing_tokenkeep_django_needs_no_settings():
    code = textwrap.dedent(
        """
        import sys, tokenkeep.django as tkd
        from django.conf import settings
        print(settings.configured, "rest_framework" in sys.modules, sorted(tkd.__all__)[:2])
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "False False ['BearerFailed', 'HasScopes']"


def test_system_check_names_a_scope_the_vocabulary_does_not_know(settings, tk_db):
    from django.core import checks
    from tokenkeep.django import HasScopes, require_token

    settings.TOKENKEEP = {"DB": tk_db}
    typo = HasScopes("device:read", POST="devcie:write")

    @require_token("fleet:read")
    def view(request):
        raise AssertionError("never called")

    errors = sorted(
        m.msg for m in checks.run_checks(tags=["tokenkeep"]) if m.id == "tokenkeep.E002"
    )
    assert len(errors) == 2
    assert (
        errors[0].startswith("@require_token('fleet:read') on ")
        and ".view: unknown scope 'fleet:read'" in errors[0]
    )
    assert errors[1].startswith(
        "HasScopes('device:read', POST='devcie:write'): unknown scope 'devcie:write'"
    )
    del typo, view
    gc.collect()  # the class is in a reference cycle: drop its rule now, not in a later test
    assert not [m for m in checks.run_checks(tags=["tokenkeep"]) if m.id == "tokenkeep.E002"]
