"""Reading tokens: the :class:`TokenStore` methods that list and get an owner's tokens, find
those expiring soon, and read the audit log. The listing query is the engine's (one ORDER BY
and predicate set per backend: listing_order.h); this module checks argument types."""

from __future__ import annotations

import builtins
from datetime import timedelta
from typing import TYPE_CHECKING

from ._args import Scopes, _invalid, _not_found, _owner, _scope_list, _text
from ._time import duration_us
from .errors import InvalidArgument, NotFound
from .models import AuditEvent, AuditLog, TokenInfo, TokenList

if TYPE_CHECKING:
    from . import _core

__all__ = ["StoreReads"]


class StoreReads:
    """Mixed into :class:`TokenStore` (which provides ``_e``)."""

    if TYPE_CHECKING:

        @property
        def _e(self) -> _core.Engine: ...

    # -- reading -----------------------------------------------------------------------------

    def list(
        self,
        owner: str | None = None,
        *,
        all_owners: bool = False,
        state: str | None = None,
        search: str | None = None,
        scope: Scopes | None = None,
        sort: str | None = None,
        descending: bool = True,
        limit: int | None = None,
        offset: int = 0,
    ) -> TokenList:
        """Tokens, as a :class:`TokenList` (``.total`` counts every match, ignoring paging),
        answered by the database as one listing query, whatever the keywords.

        ``state``: ``"live"`` (the default: not revoked, expired ones too until purged),
        ``"active"`` (not revoked, not expired), ``"inactive"`` (revoked or expired) or
        ``"all"``; ``search``, a case-insensitive substring of the name taken literally (``%``
        and ``_`` are plain characters); ``scope``, one scope or several, matching tokens that
        grant any of them; ``sort`` by ``"created"`` (default, newest first), ``"name"``,
        ``"expires"`` or ``"last_used"``; ``limit`` rows (None: all) after ``offset``.
        ``all_owners=True`` instead of an owner lists every owner's tokens (for
        administrators). Bad values raise :class:`InvalidArgument` (or :class:`UnknownScope`)
        whose ``field`` names the keyword.

        >>> [t.name for t in store.list("alice")]
        ['ci-deploy']
        >>> page = store.list("alice", state="active", search="ci", limit=50)
        >>> (len(page), page.total)
        (1, 1)
        """
        if all_owners is not True and all_owners is not False:
            raise _invalid("all_owners must be True or False", "all_owners")
        if all_owners:
            if owner is not None:
                raise _invalid("pass an owner or all_owners=True, not both", "all_owners")
        elif owner is None:
            raise _invalid(
                "pass an owner, or all_owners=True to list every owner's tokens", "owner"
            )
        else:
            owner = _owner(owner)
        if not isinstance(descending, bool):
            raise _invalid("descending must be True or False", "descending")
        for value, field in ((limit, "limit"), (offset, "offset")):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise _invalid(f"{field} must be an integer", field)
        scopes = [] if scope is None else _scope_list(scope, "scope")
        rows, total = self._e.query(
            owner,
            "live" if state is None else _text(state, "state"),
            "" if search is None else _text(search, "search"),
            scopes,
            "created" if sort is None else _text(sort, "sort"),
            descending,
            limit,
            offset,
        )
        return TokenList(rows, total=total, limit=limit, offset=offset)

    def get(self, owner: str, token_id: str) -> TokenInfo:
        """One of the owner's live tokens; :class:`NotFound` otherwise (also for another owner's).

        >>> store.get("alice", issued.info.id).expires_at  # doctest: +SKIP
        """
        try:
            return self._e.get(_owner(owner), _text(token_id, "token_id"))
        except NotFound:
            raise _not_found(owner, token_id) from None

    # -- housekeeping ------------------------------------------------------------------------

    def expiring_within(
        self, within: timedelta, owner: str | None = None
    ) -> builtins.list[TokenInfo]:
        """Live tokens that expire between now and now + ``within``, soonest first.

        >>> for t in store.expiring_within(timedelta(days=7)):  # doctest: +SKIP
        ...     notify(t.owner, f"token {t.name!r} expires {t.expires_at:%Y-%m-%d}")
        """
        if owner is not None:
            _owner(owner)
        return TokenList(self._e.expiring_within(duration_us(within, "within"), owner))

    def audit(self, owner: str | None = None, limit: int = 100) -> builtins.list[AuditEvent]:
        """Recorded changes, newest first (all owners unless ``owner`` is given).

        >>> [e.action for e in store.audit("alice", limit=2)]  # doctest: +SKIP
        ['revoke', 'create']
        """
        if owner is not None:
            _owner(owner)
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 2**62:
            raise InvalidArgument("limit must be a positive int")
        return AuditLog(AuditEvent._from_core(a) for a in self._e.audit(owner, limit))
