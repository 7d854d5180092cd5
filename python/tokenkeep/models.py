"""The values the API hands out: TokenInfo, IssuedToken, AuditEvent. All immutable; none
of their reprs can show a secret."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import FrozenSet, List, Optional

from ._time import from_us, from_us_opt

__all__ = ["TokenInfo", "IssuedToken", "AuditEvent", "TokenList", "AuditLog"]


@dataclass(frozen=True)
class TokenInfo:
    """What is known about a token, never its secret.

    ``id`` is public: lists, edits and revokes use it. Datetimes are aware, in UTC;
    ``expires_at`` is None only for a token that never expires, ``last_used_at`` None
    until the token is first verified.

    >>> info = store.get(owner="alice", token_id=issued.info.id)
    >>> sorted(info.scopes)
    ['device', 'policy']
    """

    id: str
    owner: str
    name: str
    scopes: FrozenSet[str]
    created_at: datetime
    expires_at: Optional[datetime]
    last_used_at: Optional[datetime] = None

    @classmethod
    def _from_core(cls, t: tuple) -> "TokenInfo":
        return cls(t[0], t[1], t[2], frozenset(t[3]), from_us(t[4]), from_us_opt(t[5]), from_us_opt(t[6]))

    def _repr_html_(self) -> str:
        from .jupyter import token_html

        return token_html(self)


@dataclass(frozen=True)
class IssuedToken:
    """A token just created or rotated: ``secret`` is the token string, returned now and never
    again, so hand it to the user at once. ``repr()`` shows ``secret=<hidden>``.

    >>> issued = store.create(owner="alice", name="ci", scopes={"device:read"})
    >>> print(issued.secret)  # doctest: +SKIP
    tk_...
    """

    secret: str = field(repr=False)
    info: TokenInfo

    def __repr__(self) -> str:
        return f"IssuedToken(secret=<hidden>, info={self.info!r})"

    __str__ = __repr__


@dataclass(frozen=True)
class AuditEvent:
    """One audited change: who did what to which token, when. Never a secret.

    ``action`` is one of create, update_scopes, revoke, rotate, purge.
    """

    seq: int
    at: datetime
    actor: str
    action: str
    token_id: Optional[str]
    owner: str
    name: str
    old_scopes: FrozenSet[str]
    new_scopes: FrozenSet[str]
    detail: str

    @classmethod
    def _from_core(cls, t: tuple) -> "AuditEvent":
        return cls(
            t[0], from_us(t[1]), t[2], t[3], t[4], t[5], t[6],
            frozenset(t[7].split()), frozenset(t[8].split()), t[9],
        )

    def _repr_html_(self) -> str:
        from .jupyter import audit_html

        return audit_html([self])


class TokenList(List[TokenInfo]):
    """A plain list of :class:`TokenInfo` that Jupyter shows as an HTML table."""

    def _repr_html_(self) -> str:
        from .jupyter import tokens_html

        return tokens_html(self)


class AuditLog(List[AuditEvent]):
    """A plain list of :class:`AuditEvent` that Jupyter shows as an HTML table."""

    def _repr_html_(self) -> str:
        from .jupyter import audit_html

        return audit_html(self)
