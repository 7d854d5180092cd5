"""The default owner -> user lookup without a user query per request, and never stale.

An entry is the user found for one token, kept beside the very :class:`~tokenkeep.TokenInfo`
object that ``TokenStore.verify`` returned when it was found. ``verify`` returns the same
object for as long as the token's snapshot in the store's cache is unchanged, and a new one
once anything announced the token on the store's change feed (a revoke, a scope edit, or
:meth:`~tokenkeep.TokenStore.owner_changed`) in this or any other process (on PostgreSQL, on
any node: strict mode waits for every node). So an entry is served only while
``entry.info is info``; any announcement makes it a miss, answered by the query.

What makes a change of the user announce: :mod:`~tokenkeep.django.lifecycle` connects
``post_save`` (and ``post_delete``, which revokes) of ``AUTH_USER_MODEL`` to
``owner_changed`` for the user's old and new username, after the save and again after its
transaction commits (a process that reloaded the token in between may have read the old row).
A change Django sends no signal for (``QuerySet.update()``, raw SQL, another program) is
announced by :func:`user_changed`; until then an entry lives at most
``TOKENKEEP["USER_CACHE"]`` seconds (default 60; 0: no cache, a query per request).

Only the default mapping is cached (``TOKENKEEP["USER"]`` unset and no ``owner_to_user``):
a custom callable is called on every request, as before. Each request gets its own copy of
the user, so a view that changes ``request.user`` changes nothing another request sees.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from django.db.models.base import ModelState

from ..models import TokenInfo

__all__ = ["cached_user", "remember_user", "forget_users", "CAPACITY"]

CAPACITY = 10_000  # entries (tokens); past it the cache starts again empty

# token id -> (the TokenInfo object verify returned, a pristine copy of the user, deadline)
_entries: dict[str, tuple[TokenInfo, Any, float]] = {}


def _copy(user: Any) -> Any:
    """A shallow copy of a model instance with its own ModelState (so its own related-object
    cache), as unpickling makes one; ``copy.copy`` for anything else. About 4× cheaper than
    ``copy.copy`` of a model instance, which goes through ``__reduce_ex__``."""
    state = getattr(user, "_state", None)
    if not isinstance(state, ModelState):
        return copy.copy(user)
    twin = object.__new__(type(user))
    twin.__dict__.update(user.__dict__)
    twin._state = ModelState()
    twin._state.db, twin._state.adding = state.db, state.adding
    return twin


def cached_user(info: TokenInfo) -> Any | None:
    """A copy of the user remembered for ``info`` (this very object), or None."""
    entry = _entries.get(info.id)
    if entry is None or entry[0] is not info or entry[2] < time.monotonic():
        return None
    return _copy(entry[1])


def remember_user(info: TokenInfo, user: Any, seconds: float) -> None:
    """Keep ``user`` (an active user the token was issued to) for ``info`` and ``seconds``."""
    if len(_entries) >= CAPACITY:
        _entries.clear()
    _entries[info.id] = (info, _copy(user), time.monotonic() + seconds)


def forget_users() -> None:
    """Drop every entry (tests; a changed ``settings.TOKENKEEP``)."""
    _entries.clear()
