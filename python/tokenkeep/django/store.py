"""The process's one :class:`~tokenkeep.TokenStore`, opened from ``settings.TOKENKEEP``.

>>> from tokenkeep.django import get_store
>>> issued = get_store().create(owner=request.user.get_username(), name="ci", scopes={"device:read"})

- Opened on first use (the first request, or the first :func:`get_store` call), not at
  import, so that ``import tokenkeep.django`` and ``manage.py migrate`` open nothing.
- One per process, shared by its threads (a store is thread-safe).
- Fork-safe (gunicorn ``--preload``, multiprocessing's fork): a child sees that
  ``os.getpid()`` changed and opens its own store on first use; the copy inherited from the
  parent is closed then (or at the child's exit), never used (the engine makes closing it in
  a child safe: docs/ARCHITECTURE.md, "fork()").
- Closed at interpreter exit, by the process that opened it (recorded uses are persisted).
- A change of ``settings.TOKENKEEP`` (``override_settings`` in tests) closes it; the next
  call opens the new one.
"""

from __future__ import annotations

import atexit
import os
import threading

from ..store import TokenStore
from .conf import tokenkeep_settings

__all__ = ["get_store", "reset_store"]

_lock = threading.Lock()
_state: tuple[int, TokenStore] | None = None  # (pid that opened it, the store)
_inherited: list[TokenStore] = []  # stores a forked child got from its parent, to close


def get_store() -> TokenStore:
    """This process's store, opened now if it is not yet (or if this process is a fork of
    the one that opened it). Raises :class:`~tokenkeep.StoreError` if the database cannot
    be opened, ImproperlyConfigured if ``settings.TOKENKEEP`` is wrong."""
    state = _state
    if state is not None and state[0] == os.getpid():
        return state[1]
    return _open()


def _open() -> TokenStore:
    global _state
    with _lock:
        pid = os.getpid()
        state = _state
        if state is not None:
            if state[0] == pid:
                return state[1]
            _inherited.append(state[1])  # forked by a path that ran no at-fork hook
            _state = None
        _close_inherited()
        store = TokenStore(**tokenkeep_settings().store_options)
        _state = (pid, store)
        return store


def reset_store() -> None:
    """Close this process's store (if it opened one); the next :func:`get_store` reopens it
    from the settings. For tests and for a settings change; requests in flight on other
    threads may then see :class:`~tokenkeep.StoreError` (a 503)."""
    global _state
    with _lock:
        state, _state = _state, None
    if state is not None:
        if state[0] == os.getpid():
            state[1].close()
        else:
            _inherited.append(state[1])
    _close_inherited()


def _close_inherited() -> None:
    while _inherited:
        _inherited.pop().close()


def _after_fork_in_child() -> None:
    """Runs in a child just after fork(): the parent's store is set aside, to be closed when
    the child opens its own (no I/O here, in the middle of fork)."""
    global _lock, _state
    _lock = threading.Lock()  # another thread may have held it at the fork
    state, _state = _state, None
    if state is not None:
        _inherited.append(state[1])


def _close_at_exit() -> None:
    state = _state
    if state is not None and state[0] == os.getpid():
        state[1].close()
    _close_inherited()


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_close_at_exit)
