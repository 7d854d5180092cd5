"""Token lifecycle: the :class:`TokenStore` methods that issue tokens (create, create_many,
create_problems and the expiry rules they share), change them (update_scopes,
update_description, rotate, owner_changed), revoke them and purge old ones. The decisions
are the engine's; this module checks argument types and shapes the calls."""

from __future__ import annotations

import builtins
import contextlib
import gc
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from . import _core
from ._args import Scopes, _names_nfc, _nfc, _not_found, _owner, _scope_list, _text
from ._time import duration_us, to_us
from .errors import InvalidArgument, NotFound, TokenkeepError
from .models import IssuedToken, TokenInfo
from .networks import Networks, network_list

__all__ = ["TokenLifecycle"]

# How a create or rotate chooses the expiry: the engine's own enum (engine.h, Expiry::Kind).
_Expiry = _core.ExpiryKind


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """Pauses the cyclic garbage collector (bulk calls allocate only acyclic tuples)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


class TokenLifecycle:
    """Mixed into :class:`TokenStore` (which provides ``_e`` and ``_actor``)."""

    _actor: Callable[[str | None], str]

    if TYPE_CHECKING:

        @property
        def _e(self) -> _core.Engine: ...

    # -- issuing -----------------------------------------------------------------------------

    @staticmethod
    def _expiry(
        expires_in: timedelta | None, expires_at: datetime | None, never_expires: bool
    ) -> tuple[_core.ExpiryKind, int]:
        given = (expires_in is not None) + (expires_at is not None) + bool(never_expires)
        if given > 1:
            raise InvalidArgument("give at most one of expires_in, expires_at, never_expires")
        if expires_in is not None:
            return _Expiry.IN, duration_us(expires_in, "expires_in")
        if expires_at is not None:
            return _Expiry.AT, to_us(expires_at, "expires_at")
        if never_expires:
            return _Expiry.NEVER, 0
        return _Expiry.DEFAULT, 0

    def create(
        self,
        owner: str,
        name: str,
        scopes: Scopes,
        *,
        expires_in: timedelta | None = None,
        expires_at: datetime | None = None,
        never_expires: bool = False,
        description: str | None = None,
        networks: Networks | None = None,
        actor: str | None = None,
    ) -> IssuedToken:
        """Issue a token. Its secret is in the result and is never available again.

        ``name`` is stripped of surrounding blanks and must be unique among the owner's live
        tokens. Expiry: the store's default lifetime unless ``expires_in`` or ``expires_at``
        (aware) is given; ``never_expires=True`` only where the store allows it.
        ``description``: an optional note (what the token is for), at most 200 characters,
        checked like a name (:class:`InvalidArgument` with ``field == "description"``).
        ``networks``: CIDRs the token may be used from (see :meth:`update_networks`); None
        or empty: anywhere.

        >>> issued = store.create(owner="alice", name="ci", scopes={"device:read"})
        >>> bound = store.create("alice", "ci-lan", {"device:read"}, networks={"10.0.0.0/8"})
        """
        kind, value = self._expiry(expires_in, expires_at, never_expires)
        # One path into the engine for every create: a batch of one.
        item: tuple[Any, ...] = (_nfc(_text(name, "name")), _scope_list(scopes))
        nets = network_list(networks)
        if description or nets:
            item += (kind, value, _nfc(_text(description or "", "description")))
        if nets:
            item += (nets,)
        return self._e.create_many(_owner(owner), [item], kind, value, self._actor(actor))[0]

    def create_problems(
        self,
        owner: str,
        name: str,
        scopes: Scopes,
        *,
        expires_in: timedelta | None = None,
        expires_at: datetime | None = None,
        never_expires: bool = False,
        description: str | None = None,
        networks: Networks | None = None,
    ) -> builtins.list[TokenkeepError]:
        """Every reason :meth:`create` would refuse these values, without creating anything:
        a list of tokenkeep errors (empty if none), each with the ``field`` it is about, so a
        form can mark all its fields at once. A name already in use is still reported by
        :meth:`create` (:class:`NameTaken`).

        >>> [e.field for e in store.create_problems("alice", " ", [])]
        ['name', 'scopes']
        """
        problems: list[TokenkeepError] = []
        try:
            kind, value = self._expiry(expires_in, expires_at, never_expires)
        except TokenkeepError as e:
            problems.append(e)
            kind, value = _Expiry.DEFAULT, 0
        try:
            nets = network_list(networks)
        except TokenkeepError as e:
            problems.append(e)
            nets = []
        try:
            item = (_nfc(_text(name, "name")), _scope_list(scopes))
            note = "" if description is None else _nfc(_text(description, "description"))
        except TokenkeepError as e:
            return [e] + problems
        found = self._e.create_problems(
            _owner(owner), item[0], item[1], kind, value, description=note, networks=nets
        )
        if problems:  # the expiry's own problem replaces the default the engine checked
            expiry_fields = ("expires_in", "expires_at", "never_expires")
            found = [p for p in found if p.field not in expiry_fields]
        return list(found) + problems

    def create_many(
        self,
        owner: str,
        tokens: Iterable[tuple[str, Scopes] | tuple[str, Scopes, timedelta | datetime | None]],
        *,
        expires_in: timedelta | None = None,
        expires_at: datetime | None = None,
        never_expires: bool = False,
        actor: str | None = None,
    ) -> builtins.list[IssuedToken]:
        """Issue many tokens in one transaction: all or none. Results are in the order given.

        Each item is ``(name, scopes)`` or ``(name, scopes, expiry)`` where expiry is a
        timedelta (expires in), an aware datetime (expires at) or None (the call's expiry).

        >>> issued = store.create_many("ops", [("dev-1", {"device"}), ("dev-2", {"device"})])
        """
        kind, value = self._expiry(expires_in, expires_at, never_expires)
        with _no_gc():  # tens of thousands of small tuples: no collection passes midway
            return self._create_many(owner, tokens, kind, value, actor)

    def _create_many(
        self,
        owner: str,
        tokens: Iterable[Any],
        kind: _core.ExpiryKind,
        value: int,
        actor: str | None,
    ) -> builtins.list[IssuedToken]:
        items: Sequence[Any] = tokens if isinstance(tokens, (list, tuple)) else list(tokens)
        items = _names_nfc(items)
        if any(len(item) == 3 for item in items if isinstance(item, (tuple, list))):
            items = [self._with_expiry(item, kind, value) for item in items]
        # The engine converts and checks the items (names, scopes) natively.
        return self._e.create_many(_owner(owner), items, kind, value, self._actor(actor))

    def _with_expiry(self, item: Any, kind: _core.ExpiryKind, value: int) -> Any:
        """(name, scopes, expiry) -> (name, scopes, kind, value); other items unchanged."""
        if not isinstance(item, (tuple, list)) or len(item) != 3:
            return item
        exp = item[2]
        if exp is None:
            k, v = kind, value
        elif isinstance(exp, timedelta):
            k, v = self._expiry(exp, None, False)
        elif isinstance(exp, datetime):
            k, v = self._expiry(None, exp, False)
        else:
            raise InvalidArgument("an item's expiry must be a timedelta, an aware datetime or None")
        return (item[0], item[1], k, v)

    # -- changing ----------------------------------------------------------------------------

    def update_scopes(
        self, owner: str, token_id: str, scopes: Scopes, *, actor: str | None = None
    ) -> TokenInfo:
        """Replace a token's scopes. Seen by the next verification in every process."""
        try:
            return self._e.update_scopes(
                _owner(owner),
                _text(token_id, "token_id"),
                _scope_list(scopes),
                self._actor(actor),
            )
        except NotFound:
            raise _not_found(owner, token_id) from None

    def update_description(
        self, owner: str, token_id: str, description: str, *, actor: str | None = None
    ) -> TokenInfo:
        """Replace a live token's description ("" clears it); checked as in :meth:`create`,
        audited as ``update_description``.

        >>> store.update_description("alice", issued.info.id, "deploys from CI")  # doctest: +SKIP
        """
        try:
            return self._e.update_description(
                _owner(owner),
                _text(token_id, "token_id"),
                _nfc(_text(description, "description")),
                self._actor(actor),
            )
        except NotFound:
            raise _not_found(owner, token_id) from None

    def revoke(self, owner: str, token_id: str, *, actor: str | None = None) -> None:
        """Revoke (delete) a token. Its name is free again; its secret never verifies again."""
        try:
            self._e.revoke(_owner(owner), _text(token_id, "token_id"), self._actor(actor))
        except NotFound:
            raise _not_found(owner, token_id) from None

    def revoke_many(self, owner: str, token_ids: Iterable[str], *, actor: str | None = None) -> int:
        """Revoke several tokens in one transaction: all or none (:class:`NotFound`, nothing
        revoked, if one id is not a live token of the owner). Returns how many were revoked.

        >>> store.revoke_many("ops", [t.info.id for t in issued])  # doctest: +SKIP
        2
        """
        ids = [_text(t, "token_id") for t in _scope_list(token_ids, "token_ids")]
        self._e.revoke_many(_owner(owner), ids, self._actor(actor))
        return len(ids)

    def owner_changed(self, owner: str) -> int:
        """Say that the owner changed outside the store (an account deactivated, renamed or
        deleted) without changing a token: every process's next verification of one of the
        owner's live tokens reloads it from the database, and so returns a new
        :class:`TokenInfo` object (as after a scope edit; strict across PostgreSQL nodes).
        A cache of anything derived from the owner, kept beside the ``TokenInfo`` object
        that :meth:`verify` returned (``tokenkeep.django``'s user cache), is then missed.
        Not audited; returns how many tokens were announced.

        >>> store.owner_changed("alice")  # doctest: +SKIP
        2
        """
        return int(self._e.owner_changed(_owner(owner)))

    def rotate(
        self,
        owner: str,
        token_id: str,
        *,
        actor: str | None = None,
        expires_in: timedelta | None = None,
        expires_at: datetime | None = None,
        never_expires: bool = False,
    ) -> IssuedToken:
        """Replace a token's secret: a new token with the same name and scopes is issued and
        the old one revoked, atomically. It keeps the old expiry unless ``expires_in``,
        ``expires_at`` or ``never_expires`` gives a new one (the rules of :meth:`create`).

        >>> fresh = store.rotate("alice", issued.info.id)  # hand fresh.secret to the user
        >>> renewed = store.rotate("alice", fresh.info.id, expires_in=timedelta(days=30))
        """
        args = (_owner(owner), _text(token_id, "token_id"), self._actor(actor))
        try:
            if expires_in is None and expires_at is None and not never_expires:
                return self._e.rotate(*args)
            kind, value = self._expiry(expires_in, expires_at, never_expires)
            return self._e.rotate(*args, kind, value)
        except NotFound:
            raise _not_found(owner, token_id) from None

    def purge(
        self,
        older_than: timedelta = timedelta(0),
        *,
        actor: str | None = None,
        dry_run: bool = False,
    ) -> int:
        """Delete tokens revoked or expired longer than ``older_than`` ago; returns how many.
        ``dry_run=True`` only counts them (nothing is deleted or audited).

        >>> store.purge(older_than=timedelta(days=30), dry_run=True)  # doctest: +SKIP
        12
        """
        older = duration_us(older_than, "older_than")
        if dry_run:
            return self._e.purge_count(older)
        return self._e.purge(older, actor or "system")
