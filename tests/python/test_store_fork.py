"""A store opened before fork() (gunicorn --preload, multiprocessing's fork start method) on
both kinds of store: the child may use it, close it, and exit, whatever the parent's threads
were doing at the instant of the fork."""

from __future__ import annotations

import os
import signal
import threading

import pytest
import tokenkeep

PEPPER = "3c" * 32


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def location(request, tmp_path) -> str:
    if request.param == "sqlite":
        return os.path.join(tmp_path, "fork.db")
    return request.getfixturevalue("pg_url")


def _in_child(body) -> int:
    """Runs body() in a forked child with a 20 s alarm; returns the child's exit code (the
    alarm's default action kills a child that deadlocked)."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            signal.alarm(20)
            body()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_a_child_can_close_the_inherited_store_and_exit(location):
    store = tokenkeep.TokenStore(location, pepper=PEPPER)
    issued = store.create("alice", "ci", scopes=["device"])
    store.verify(issued.secret)  # a use waiting for the parent's flusher thread

    def child():
        store.verify(issued.secret)
        store.close()  # before: joined the parent's flusher thread, which is not in the child

    assert _in_child(child) == 0
    assert store.verify(issued.secret).name == "ci"  # the parent is unaffected
    store.close()


@pytest.mark.slow
def test_fork_while_other_threads_use_the_store_never_deadlocks_the_child(location):
    store = tokenkeep.TokenStore(location, pepper=PEPPER)
    tokens = [
        i.secret for i in store.create_many("alice", [(f"t{i}", ["device"]) for i in range(200)])
    ]
    stop = threading.Event()
    errors = []

    def hammer(k: int) -> None:
        n = 0
        try:
            while not stop.is_set():
                store.verify(tokens[n % len(tokens)], "device:read")
                if n % 50 == 0:
                    store.create("alice", f"h{k}-{n}", scopes=["device"])
                    store._engine.uses_flush()
                n += 1
        except Exception as e:  # noqa: BLE001 - reported by the assertion below
            errors.append(repr(e))

    threads = [threading.Thread(target=hammer, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    try:
        codes = []
        for i in range(25):

            def child(i=i):
                assert store.verify(tokens[i], "device:read").name == f"t{i}"
                store.create("alice", f"child-{i}", scopes=["device"])
                store._engine.uses_flush()
                store.close()

            codes.append(_in_child(child))
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert errors == []
    assert codes == [0] * 25  # none deadlocked (killed by its alarm) or failed
    names = {t.name for t in store.list("alice")}
    assert {f"child-{i}" for i in range(25)} <= names
    store.close()
