"""The values the API hands out: TokenInfo, IssuedToken, AuditEvent. All immutable; none
of their reprs can show a secret."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

__all__ = [
    "TokenInfo",
    "IssuedToken",
    "AuditEvent",
    "TokenList",
    "AuditLog",
    "LeakFinding",
    "LeakReport",
    "LeakNotice",
    "ScopeUsage",
    "RecentClient",
    "RecentClients",
]


class TokenInfo(NamedTuple):
    """What is known about a token, never its secret. Immutable.

    ``id`` is public: lists, edits and revokes use it. Datetimes are aware, in UTC;
    ``expires_at`` is None only for a token that never expires, ``last_used_at`` None
    until the token is first verified, ``revoked_at`` None unless the token was revoked;
    ``description`` is the owner's note ("" if none); ``networks`` the canonical CIDRs the
    token may be used from (``"10.0.0.0/8"``, ``"2001:db8::/32"``; empty: anywhere).
    :meth:`TokenStore.get` and :meth:`TokenStore.list` show ``last_used_at`` exactly; the TokenInfo a verification returns is shared between
    verifications and its ``last_used_at`` may lag by up to a minute.

    A named tuple (fast to build on the verification path): compare, hash, ``_replace``
    and ``_asdict`` work as for any named tuple.

    >>> info = store.get(owner="alice", token_id=issued.info.id)
    >>> sorted(info.scopes)
    ['device', 'policy']
    """

    id: str
    owner: str
    name: str
    scopes: frozenset[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    description: str = ""
    networks: frozenset[str] = frozenset()

    def _repr_html_(self) -> str:
        from .jupyter import token_html

        return token_html(self)


class IssuedToken(NamedTuple):
    """A token just created or rotated: ``secret`` is the token string, returned now and never
    again, so hand it to the user at once. ``repr()`` shows ``secret=<hidden>``.

    A named tuple ``(secret, info)``: ``secret, info = issued`` works, and so do
    ``tuple(issued)`` and ``issued._asdict()`` — which contain the secret. Only ``repr`` and
    ``str`` hide it; log ``issued.info``, never the tuple's items.

    >>> issued = store.create(owner="alice", name="ci", scopes={"device:read"})
    >>> print(issued.secret)  # doctest: +SKIP
    tk_...
    """

    secret: str
    info: TokenInfo

    def __repr__(self) -> str:
        return f"IssuedToken(secret=<hidden>, info={self.info!r})"

    def __str__(self) -> str:
        return self.__repr__()


@dataclass(frozen=True)
class AuditEvent:
    """One audited change: who did what to which token, when. Never a secret.

    ``action`` is one of create, update_scopes, revoke, rotate, purge, leaked (revoked because
    it was found in leaked text; ``detail`` says where, e.g. ``"app.log, line 12"``).
    """

    seq: int
    at: datetime
    actor: str
    action: str
    token_id: str | None
    owner: str
    name: str
    old_scopes: frozenset[str]
    new_scopes: frozenset[str]
    detail: str

    @classmethod
    def _from_core(cls, t: tuple) -> AuditEvent:
        return cls(*t)

    def _repr_html_(self) -> str:
        from .jupyter import audit_html

        return audit_html([self])


class TokenList(list[TokenInfo]):
    """A plain list of :class:`TokenInfo` that Jupyter shows as an HTML table.

    From :meth:`TokenStore.list`: ``total`` is how many tokens matched (all pages),
    ``limit`` and ``offset`` the page asked for (``limit`` None: every row).
    """

    def __init__(
        self,
        items: Iterable[TokenInfo] = (),
        *,
        total: int | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> None:
        super().__init__(items)
        self.total = len(self) if total is None else total
        self.limit = limit
        self.offset = offset

    def _repr_html_(self) -> str:
        from .jupyter import tokens_html

        return tokens_html(self)

    def to_dataframe(self) -> Any:  # a pandas.DataFrame (pandas is optional and untyped)
        """These tokens as a pandas DataFrame: :func:`tokenkeep.jupyter.to_dataframe`."""
        from .jupyter import to_dataframe

        return to_dataframe(self)


class AuditLog(list[AuditEvent]):
    """A plain list of :class:`AuditEvent` that Jupyter shows as an HTML table."""

    def _repr_html_(self) -> str:
        from .jupyter import audit_html

        return audit_html(self)

    def to_dataframe(self) -> Any:  # a pandas.DataFrame (pandas is optional and untyped)
        """These events as a pandas DataFrame: :func:`tokenkeep.jupyter.to_dataframe`."""
        from .jupyter import to_dataframe

        return to_dataframe(self)


# --- Leak response and scope usage (TokenStore.scan_leaked, TokenStore.scope_report) ----------


@dataclass(frozen=True)
class LeakFinding:
    """One token found in a text by :meth:`TokenStore.scan_leaked`. Never holds the secret.

    ``outcome``: ``"revoked"`` (by this scan; in a dry run: would be), ``"already_revoked"``,
    ``"expired"`` (not revoked: it verifies nowhere anyway) or ``"unknown"`` (no such token,
    or a well-formed string whose secret does not match: ``token`` is then None and nothing
    about any token is told). ``line`` is 1-based, ``offset`` in bytes of the UTF-8 text.
    """

    token_id: str
    outcome: str
    line: int
    offset: int
    token: TokenInfo | None


@dataclass(frozen=True)
class LeakReport:
    """What :meth:`TokenStore.scan_leaked` found, one finding per distinct token, in order.

    >>> report = store.scan_leaked(open("build.log").read(), source="build.log")  # doctest: +SKIP
    >>> [t.name for t in report.revoked]  # doctest: +SKIP
    ['ci-deploy']
    """

    findings: tuple[LeakFinding, ...]
    dry_run: bool = False

    def _with(self, outcome: str) -> list[LeakFinding]:
        return [f for f in self.findings if f.outcome == outcome]

    @property
    def revoked(self) -> list[TokenInfo]:
        """Tokens this scan revoked (in a dry run: would revoke)."""
        return [f.token for f in self._with("revoked") if f.token is not None]

    @property
    def already_revoked(self) -> list[TokenInfo]:
        return [f.token for f in self._with("already_revoked") if f.token is not None]

    @property
    def expired(self) -> list[TokenInfo]:
        return [f.token for f in self._with("expired") if f.token is not None]

    @property
    def unknown(self) -> list[LeakFinding]:
        """Well-formed strings that are no token of this store (or whose secret is wrong)."""
        return self._with("unknown")


@dataclass(frozen=True)
class LeakNotice:
    """One of the owner's tokens revoked because it was found leaked (the page's banner)."""

    token_id: str
    name: str
    at: datetime
    where: str
    actor: str


@dataclass(frozen=True)
class ScopeUsage:
    """Which scopes a token's successful verifications required in a recent window.

    ``used`` and ``unused`` are canonical sets of the scopes the token holds (``used``: held
    and exercised; ``unused``: held, not exercised);
    ``last_used`` maps each ``name:action`` used to its last use (aware UTC). Uses recorded
    by this process count at once; other processes' within about a minute.
    """

    token: TokenInfo
    used: frozenset[str]
    unused: frozenset[str]
    last_used: dict[str, datetime]


class RecentClient(NamedTuple):
    """One address a token was verified from, and its last use from there (aware UTC):
    :meth:`TokenStore.recent_clients`. ``address`` is canonical (``"10.0.0.1"``,
    ``"2001:db8::1"``; an IPv4-mapped IPv6 address is shown as IPv4)."""

    address: str
    last_seen: datetime


class RecentClients(list[RecentClient]):
    """What :meth:`TokenStore.recent_clients` returns: a list of :class:`RecentClient`, newest
    first, that a notebook shows as a table (address, last used)."""

    def _repr_html_(self) -> str:
        from .jupyter import clients_html

        return clients_html(self)
