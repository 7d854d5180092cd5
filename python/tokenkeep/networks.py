"""Network binding and recent clients: the :class:`TokenStore` methods that bind a token to
the networks it may be used from and tell where it was used. The rules (CIDR syntax, IPv4-mapped
addresses, host bits, the limit per token) are the engine's (cpp/include/tokenkeep/networks.h);
this module shapes arguments and results."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from ._args import _owner, _text
from .errors import InvalidArgument, NotFound, with_field
from .models import RecentClient, RecentClients, TokenInfo

if TYPE_CHECKING:
    from . import _core

__all__ = ["StoreNetworks", "Networks", "network_list"]

_Network = str | ipaddress.IPv4Network | ipaddress.IPv6Network
#: One CIDR (``"10.0.0.0/8"``, a bare address for one host) or an iterable of them; an
#: ``ipaddress`` network object counts as its text.
Networks = _Network | Iterable[_Network]


def network_list(networks: Networks | None) -> list[str]:
    """The CIDR strings of ``networks`` (None: none), or :class:`InvalidArgument` with
    ``field == "networks"`` for a wrong type. Their syntax is checked by the engine."""
    if networks is None:
        return []
    if isinstance(networks, (str, ipaddress.IPv4Network, ipaddress.IPv6Network)):
        networks = [networks]
    try:
        items = list(networks)
    except TypeError:
        raise with_field(
            InvalidArgument("networks must be a CIDR string or an iterable of them"), "networks"
        ) from None
    out = []
    for n in items:
        if isinstance(n, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
            n = str(n)
        if not isinstance(n, str):
            raise with_field(InvalidArgument("networks must be CIDR strings"), "networks")
        out.append(n)
    return out


class StoreNetworks:
    """Mixed into :class:`TokenStore` (which provides ``_e``, ``_actor`` and ``_text``)."""

    _actor: Callable[[str | None], str]

    if TYPE_CHECKING:

        @property
        def _e(self) -> _core.Engine: ...

        def _owned(self, owner: str, token_id: str) -> tuple[str, str]: ...

        def _not_found(self, owner: str, token_id: str) -> NotFound: ...

    def update_networks(
        self, owner: str, token_id: str, networks: Networks, *, actor: str | None = None
    ) -> TokenInfo:
        """Bind a live token to ``networks`` (CIDRs, IPv4 or IPv6), replacing what it had; an
        empty set unbinds it. From then on :meth:`verify` accepts it only with a ``client``
        inside one of them (else :class:`NetworkNotAllowed`), in every process and on every
        node from the next verification (as a scope edit). Audited as ``update_networks``.

        Each network is ``"address/length"`` or a bare address (one host); host bits set
        (``"10.0.0.1/8"``) are refused, not masked. At most 32 per token. A bad one raises
        :class:`InvalidArgument` with ``field == "networks"`` and changes nothing.

        >>> store.update_networks("alice", issued.info.id, {"10.0.0.0/8", "2001:db8::/32"}).networks
        frozenset({'10.0.0.0/8', '2001:db8::/32'})
        """
        owner, token_id = self._owned(owner, token_id)
        nets = network_list(networks)
        try:
            return self._e.update_networks(owner, token_id, nets, self._actor(actor))
        except NotFound:
            raise self._not_found(owner, token_id) from None

    def recent_clients(self, owner: str, token_id: str) -> RecentClients:
        """The distinct addresses a live token was verified from (``verify(..., client=...)``),
        newest first: at most 10, each with its last use from there. Recorded off the hot path
        like ``last_used_at``: this process's uses count at once, other processes' within
        about a minute.

        >>> [c.address for c in store.recent_clients("alice", issued.info.id)]  # doctest: +SKIP
        ['10.0.0.7', '2001:db8::1']
        """
        owner, token_id = self._owned(owner, token_id)
        try:
            rows = self._e.recent_clients(owner, token_id)
        except NotFound:
            raise self._not_found(owner, token_id) from None
        return RecentClients(RecentClient(address, at) for address, at in rows)

    def recent_clients_many(self, owner: str, token_ids: Iterable[str]) -> dict[str, RecentClients]:
        """:meth:`recent_clients` of many of the owner's tokens at once, by token id: two
        database reads whatever their number (one round trip each on PostgreSQL), where one
        call per token makes two each. An id that is not a live token of the owner is left
        out, never an error (the page's rows may have been revoked meanwhile).

        >>> seen = store.recent_clients_many("alice", [t.info.id for t in issued])  # doctest: +SKIP
        """
        ids = [_text(t, "token_id") for t in token_ids]
        rows = self._e.recent_clients_many(_owner(owner), ids)
        return {
            i: RecentClients(RecentClient(address, at) for address, at in clients)
            for i, clients in rows.items()
        }
