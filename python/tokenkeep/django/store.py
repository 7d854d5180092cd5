"""The process's one :class:`~tokenkeep.TokenStore`, opened from ``settings.TOKENKEEP``.

>>> from tokenkeep.django import get_store
>>> issued = get_store().create(owner=request.user.get_username(), name="ci", scopes={"device:read"})

- Opened on first use (the first request, or the first :func:`get_store` call), not at
  import, so that ``import tokenkeep.django`` and ``manage.py migrate`` open nothing.
- One per process, shared by its threads (a store is thread-safe).
- Fork-safe (gunicorn ``--preload``, multiprocessing's fork): a child sees that
  ``os.getpid()`` changed and opens its own store on first use. The parent's copy is never
  used in the child, nor closed there: its background thread does not exist in the child,
  so closing would wait on it forever, and its SQLite handles belong to the parent. The
  copy is kept alive, unused, until the child exits.
- Closed at interpreter exit, by the process that opened it (recorded uses are persisted).
- A change of ``settings.TOKENKEEP`` (``override_settings`` in tests) closes it; the next
  call opens the new one.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import threading
from typing import Optional, Tuple

from ..store import TokenStore
from .conf import tokenkeep_settings

__all__ = ["get_store", "reset_store"]

_lock = threading.Lock()
_state: Optional[Tuple[int, TokenStore]] = None  # (pid that opened it, the store)


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
            _keep_forever(state[1])
            _state = None
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
            _keep_forever(state[1])


def _keep_forever(inherited: TokenStore) -> None:
    """A store inherited through fork() must never be destroyed in the child (its destructor
    joins a thread that only exists in the parent): one extra reference that nothing drops,
    not even the interpreter's shutdown."""
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(inherited))


def _after_fork_in_child() -> None:
    """Runs in a child just after fork(): the parent's store is set aside at once, so that a
    child that never asks for one does not destroy it at exit either."""
    global _lock, _state
    _lock = threading.Lock()  # another thread may have held it at the fork
    state, _state = _state, None
    if state is not None:
        _keep_forever(state[1])


def _close_at_exit() -> None:
    state = _state
    if state is not None and state[0] == os.getpid():
        state[1].close()


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_close_at_exit)
