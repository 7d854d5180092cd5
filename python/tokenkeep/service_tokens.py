"""Service tokens: the credentials other services (API gateways, Go/Node/Java backends) use to
call the RFC 7662 introspection and RFC 7009 revocation endpoints (:mod:`tokenkeep.web.oauth`).

They are ordinary rows of the store, under one reserved owner, :data:`SERVICE_OWNER`, so they
are created, listed, revoked, rotated, purged and audited by the same engine code as users'
tokens, on SQLite and PostgreSQL alike, with no schema change. What keeps them apart:

- the :class:`~tokenkeep.TokenStore` methods that create, list, get, edit, revoke, rotate
  or audit by owner refuse an owner starting with :data:`RESERVED_OWNER_PREFIX`
  (``InvalidArgument``, field ``owner``), so no user, page, CLI command or Django site can
  create, list, edit or revoke a service token as a user's (the read-only reports
  ``scope_usage``/``leaked_notices`` do not check);
- the web guards (FastAPI, Flask, Django: ``web/bearer.py``) answer 401 ``invalid_token`` for a
  service token, and the OAuth endpoints answer 401 for a user's token;
- introspection reports a service token as ``{"active": false}``; revocation leaves it alone.

A service token holds the narrowest grant the vocabulary has (its first scope's first action):
the engine requires one, and ``store.verify`` itself does not know about owners.
"""

from __future__ import annotations

import builtins
import unicodedata
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .errors import InvalidArgument, InvalidToken, NotFound, with_field
from .models import AuditEvent, IssuedToken, TokenInfo, TokenList

if TYPE_CHECKING:
    from . import _core

__all__ = ["SERVICE_OWNER", "RESERVED_OWNER_PREFIX", "ServiceTokens", "is_service_token"]

RESERVED_OWNER_PREFIX = "tokenkeep:"
SERVICE_OWNER = "tokenkeep:service"


def is_service_token(info: TokenInfo) -> bool:
    """True for a service token's :class:`~tokenkeep.TokenInfo` (its owner is reserved)."""
    return info.owner.startswith(RESERVED_OWNER_PREFIX)


def owner_checked(owner: object) -> object:
    """``owner`` unchanged, or ``InvalidArgument`` (field ``owner``) if it is reserved. Types
    and text rules are checked elsewhere (_args.py, the engine)."""
    if isinstance(owner, str) and owner.startswith(RESERVED_OWNER_PREFIX):
        raise with_field(
            InvalidArgument(
                f"owners starting with {RESERVED_OWNER_PREFIX!r} are reserved for tokenkeep's "
                "service tokens (see create_service_token)"
            ),
            "owner",
        )
    return owner


class ServiceTokens:
    """The :class:`~tokenkeep.TokenStore` methods for service tokens."""

    if TYPE_CHECKING:

        @property
        def _e(self) -> _core.Engine: ...

        @property
        def vocabulary(self) -> Mapping[str, tuple[str, ...]]: ...

        def _expiry(
            self, expires_in: timedelta | None, expires_at: datetime | None, never_expires: bool
        ) -> tuple[_core.ExpiryKind, int]: ...

        def _actor(self, actor: str | None) -> str: ...

    def create_service_token(
        self,
        name: str,
        *,
        expires_in: timedelta | None = None,
        expires_at: datetime | None = None,
        never_expires: bool = False,
        actor: str | None = None,
    ) -> IssuedToken:
        """Issue a token for a service that calls ``/oauth/introspect`` and ``/oauth/revoke``.
        Names are unique among live service tokens; expiry follows the store's rules (30 days
        by default). The secret is in the result only, as for :meth:`create`.

        >>> gateway = store.create_service_token("kong")
        >>> gateway.info.owner
        'tokenkeep:service'
        """
        if not isinstance(name, str):
            raise with_field(InvalidArgument("name must be a string"), "name")
        kind, value = self._expiry(expires_in, expires_at, never_expires)
        item = (unicodedata.normalize("NFC", name), [self._service_scope()])
        return self._e.create_many(SERVICE_OWNER, [item], kind, value, self._actor(actor))[0]

    def list_service_tokens(self, *, state: str = "live") -> TokenList:
        """Service tokens, newest first (``state`` as in :meth:`list`).

        >>> [t.name for t in store.list_service_tokens()]
        ['kong']
        """
        rows, total = self._e.query(SERVICE_OWNER, state, "", [], "created", True, None, 0)
        return TokenList(rows, total=total, limit=None, offset=0)

    def get_service_token(self, token_id: str) -> TokenInfo:
        """One live service token by id; :class:`NotFound` otherwise (a user's token too)."""
        try:
            return self._e.get(SERVICE_OWNER, _id(token_id))
        except NotFound:
            raise _service_not_found() from None

    def revoke_service_token(self, token_id: str, *, actor: str | None = None) -> None:
        """Revoke a service token: its next call to the endpoints is a 401. Audited."""
        try:
            self._e.revoke(SERVICE_OWNER, _id(token_id), self._actor(actor))
        except NotFound:
            raise _service_not_found() from None

    def rotate_service_token(self, token_id: str, *, actor: str | None = None) -> IssuedToken:
        """A new secret for a service token (same name and expiry); the old one is revoked."""
        try:
            return self._e.rotate(SERVICE_OWNER, _id(token_id), self._actor(actor))
        except NotFound:
            raise _service_not_found() from None

    def service_audit(self, limit: int = 100) -> builtins.list[AuditEvent]:
        """Changes to service tokens, newest first. Revocations made *through* the endpoint
        are audited on the revoked token's owner, with the service as actor."""
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 2**62:
            raise InvalidArgument("limit must be a positive int")
        return [AuditEvent._from_core(a) for a in self._e.audit(SERVICE_OWNER, limit)]

    def verify_service_token(self, secret: str) -> TokenInfo:
        """The :class:`TokenInfo` of a live service token, else :class:`InvalidToken` (a user's
        token included, with the one message of every invalid token), :class:`ExpiredToken`
        or :class:`RevokedToken`."""
        info: TokenInfo = self.verify(secret)  # type: ignore[attr-defined]
        if not is_service_token(info):
            raise InvalidToken("invalid token")
        return info

    def _service_scope(self) -> str:
        """The narrowest grant of the vocabulary: its first scope's first action."""
        name, actions = next(iter(self.vocabulary.items()))
        return f"{name}:{actions[0]}" if actions else name


def _id(token_id: object) -> str:
    if not isinstance(token_id, str):
        raise with_field(InvalidArgument("token_id must be a string"), "token_id")
    return token_id


def _service_not_found() -> NotFound:
    return with_field(NotFound("no live service token with that id"), "token_id")
