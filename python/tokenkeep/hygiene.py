"""Leak response and least privilege: the :class:`TokenStore` methods that revoke tokens found
in leaked text and report which scopes tokens actually use. The decisions are the engine's
(cpp/src/engine_leak.cc, engine_usage.cc); this module shapes arguments and results."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import TYPE_CHECKING

from ._time import duration_us, from_us
from .errors import InvalidArgument, with_field
from .models import AuditEvent, LeakFinding, LeakNotice, LeakReport, ScopeUsage, TokenInfo

if TYPE_CHECKING:
    from . import _core

__all__ = ["StoreHygiene"]

_THIRTY_DAYS = timedelta(days=30)
LEAK_MAX_BYTES = 64 << 20
LEAK_MAX_TOKENS = 100_000


def _count(value: object, what: str, least: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not least <= value <= 2**62:
        raise with_field(InvalidArgument(f"{what} must be an int of at least {least}"), what)
    return value


def _text_bytes(text: object) -> bytes:
    """The text to scan as bytes. Tokens are ASCII, so a str that is not valid Unicode (a
    lone surrogate from an undecodable file) is encoded with replacement, never refused."""
    if isinstance(text, str):
        return text.encode("utf-8", "replace")
    if isinstance(text, (bytes, bytearray, memoryview)):
        return bytes(text)
    raise InvalidArgument("text must be a str or bytes")


def _label(value: str | None, what: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidArgument(f"{what} must be a string")
    return value.encode("utf-8", "replace").decode("utf-8")


class StoreHygiene:
    """Mixed into :class:`TokenStore` (which provides ``_e`` and ``_actor``)."""

    _actor: Callable[[str | None], str]

    if TYPE_CHECKING:

        @property
        def _e(self) -> _core.Engine: ...

    # -- leak response -----------------------------------------------------------------------

    def scan_leaked(
        self,
        text: str | bytes,
        *,
        actor: str | None = None,
        source: str | None = None,
        dry_run: bool = False,
        max_bytes: int = LEAK_MAX_BYTES,
        max_tokens: int = LEAK_MAX_TOKENS,
        start_line: int = 1,
        start_offset: int = 0,
    ) -> LeakReport:
        """Find every well-formed token of this store in ``text`` (a log, a paste, a diff),
        check each against the store (its secret must match) and revoke the live ones,
        whatever their owner, in one transaction. Each revoke is audited as ``leaked`` with
        where it was found (``"<source>, line N"``), never the secret; every process's next
        verification refuses it. Already revoked, expired and unknown tokens are reported,
        not errors. ``dry_run=True`` decides the same and changes nothing.

        The work is bounded: a text longer than ``max_bytes`` (64 MiB) or holding more than
        ``max_tokens`` (100,000) distinct well-formed tokens is refused whole with
        :class:`InvalidArgument` whose ``field`` names the limit, before any lookup; tokens
        are looked up a few thousand per query. To scan a longer text, pass it in parts cut at
        line ends, each with ``start_line``/``start_offset`` (where the part begins: lines
        and offsets in findings and audit rows count from there), as ``tokenkeep leak`` does.

        >>> report = store.scan_leaked(pasted_text, source="gist 42")  # doctest: +SKIP
        >>> len(report.revoked), len(report.unknown)  # doctest: +SKIP
        (1, 0)
        """
        rows = self._e.revoke_leaked(
            _text_bytes(text),
            self._actor(actor),
            _label(source, "source"),
            bool(dry_run),
            _count(max_bytes, "max_bytes", 0),
            _count(max_tokens, "max_tokens", 0),
            _count(start_line, "start_line", 1),
            _count(start_offset, "start_offset", 0),
        )
        findings = tuple(
            LeakFinding(token_id=i, outcome=o, line=ln, offset=off, token=t)
            for i, o, ln, off, t in rows
        )
        return LeakReport(findings=findings, dry_run=bool(dry_run))

    def revoke_leaked(
        self, text: str | bytes, *, actor: str | None = None, source: str | None = None
    ) -> list[TokenInfo]:
        """Revoke every live token of this store found in ``text``; returns those revoked.
        :meth:`scan_leaked` says the same and also what was already revoked, expired or unknown.

        >>> [t.name for t in store.revoke_leaked(log_text, source="app.log")]  # doctest: +SKIP
        ['ci-deploy']
        """
        return self.scan_leaked(text, actor=actor, source=source).revoked

    def leaked_notices(
        self, owner: str, *, within: timedelta = _THIRTY_DAYS, limit: int = 100
    ) -> list[LeakNotice]:
        """The owner's tokens revoked as leaked in the last ``within``, newest first: what to
        tell the owner (the page's banner). From the audit log.

        >>> [n.name for n in store.leaked_notices("alice")]  # doctest: +SKIP
        ['ci-deploy']
        """
        if not isinstance(owner, str):
            raise InvalidArgument("owner must be a string")
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 2**62:
            raise InvalidArgument("limit must be a positive int")
        since = self._e.now_us() - duration_us(within, "within")
        events = [AuditEvent._from_core(a) for a in self._e.leaked_notices(owner, since, limit)]
        return [LeakNotice(e.token_id or "", e.name, e.at, e.detail, e.actor) for e in events]

    # -- least privilege ---------------------------------------------------------------------

    def scope_report(
        self,
        owner: str,
        token_ids: Iterable[str] | None = None,
        *,
        within: timedelta = _THIRTY_DAYS,
    ) -> list[ScopeUsage]:
        """For the owner's live tokens (those named, else all, newest first): the scopes their
        successful verifications required in the last ``within`` and those they hold unused.

        >>> [sorted(u.unused) for u in store.scope_report("alice")]  # doctest: +SKIP
        [['device:write']]
        """
        if not isinstance(owner, str):
            raise InvalidArgument("owner must be a string")
        if isinstance(token_ids, str):
            token_ids = [token_ids]
        ids = [] if token_ids is None else list(token_ids)
        if not all(isinstance(t, str) for t in ids):
            raise InvalidArgument("token_ids must be strings")
        rows = self._e.scope_usage(owner, ids, duration_us(within, "within"))
        return [ScopeUsage(t, used, unused, dict(last)) for t, used, unused, last in rows]

    def scope_usage(
        self, owner: str, token_id: str, *, within: timedelta = _THIRTY_DAYS
    ) -> frozenset[str]:
        """The scopes the token holds and actually exercised in the last ``within`` (30 days),
        canonical (a scope used before the token was narrowed does not count):
        ``update_scopes(owner, token_id, store.scope_usage(owner, token_id))`` narrows a token
        to what it used. :class:`NotFound` if it is not a live token of the owner.

        >>> store.scope_usage("alice", issued.info.id)  # doctest: +SKIP
        frozenset({'device:read'})
        """
        if not isinstance(token_id, str):
            raise InvalidArgument("token_id must be a string")
        return self.scope_report(owner, [token_id], within=within)[0].used

    def overprivileged(self, owner: str, *, within: timedelta = _THIRTY_DAYS) -> list[ScopeUsage]:
        """The owner's usable (not revoked, not expired) tokens holding scopes they did not use
        in the last ``within``, newest first: candidates for narrowing.

        >>> [(u.token.name, sorted(u.unused)) for u in store.overprivileged("alice")]  # doctest: +SKIP
        [('dashboard', ['device:write', 'policy:read'])]
        """
        now = from_us(self._e.now_us())
        return [
            u
            for u in self.scope_report(owner, within=within)
            if u.unused and (u.token.expires_at is None or u.token.expires_at > now)
        ]
