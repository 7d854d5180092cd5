"""The address a request comes from, as the guards pass it to ``verify(..., client=)``.

One rule for the FastAPI, Flask and Django guards (and anything else that verifies a
request's token): the peer address of the connection, unless that peer is one of the
configured trusted proxies; then the address the proxies report in one forwarding header,
read from the right.

>>> proxies = TrustedProxies(["10.0.0.0/8"])
>>> client_address("10.1.2.3", ["198.51.100.7, 10.0.0.9"], proxies)
'198.51.100.7'
>>> client_address("203.0.113.5", ["198.51.100.7"], proxies)   # not a proxy: its header is ignored
'203.0.113.5'

Why from the right: each proxy *appends* the address it received the request from, so the
rightmost entries were written by proxies you run, and everything to the left of the first
address that is not a trusted proxy was written by the client, which can write anything. The
answer is that first untrusted address; when every entry is a trusted address, the leftmost
one (a request from inside the trusted networks). A peer that is not a trusted proxy is the
client, whatever headers it sent: a forged ``X-Forwarded-For`` from the internet is never
read. Only one header is read, the one the proxies write (``X-Forwarded-For`` by default, or
RFC 7239 ``Forwarded``): a proxy that writes one passes the other through as the client sent
it.

The answer is None, which a network-bound token refuses (:class:`~tokenkeep.NetworkNotAllowed`)
and an unbound token does not need, when there is no usable address: no peer address (a Unix
socket, a test client's ``"testclient"``), or an entry where a proxy's address should be that
is not one (``unknown``, an obfuscated RFC 7239 identifier, garbage), or more than
:data:`MAX_HOPS` trusted hops. Addresses come back normalized (``::ffff:192.0.2.1`` is
``192.0.2.1``, IPv6 compressed and lower-case, without a zone or port).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Sequence

from ..errors import InvalidArgument, with_field

__all__ = [
    "FORWARDED",
    "MAX_HOPS",
    "PROXY_HEADERS",
    "TrustedProxies",
    "X_FORWARDED_FOR",
    "client_address",
    "normalize_address",
    "parse_address",
]

X_FORWARDED_FOR = "x-forwarded-for"
FORWARDED = "forwarded"
PROXY_HEADERS = (X_FORWARDED_FOR, FORWARDED)
MAX_HOPS = 32  # trusted entries skipped at most, from the right, before giving up (None)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _parse(text: str) -> Address | None:
    """An IP address from text, IPv4-mapped IPv6 unwrapped, zone dropped; None if it is not one."""
    text = text.strip()
    if not text or len(text) > 64:
        return None
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.scope_id is not None:
            return ipaddress.IPv6Address(text.split("%", 1)[0])
    return ip


# Parsing with ipaddress costs microseconds; a server sees the same few addresses again and
# again. Bounded: addresses an attacker invents only push older entries out.
@functools.lru_cache(maxsize=4096)
def parse_address(text: str) -> tuple[int, int, str] | None:
    """(version, integer value, canonical text) of an address, or None if it is not one
    (memoized; IPv4-mapped IPv6 is IPv4, a zone is dropped)."""
    ip = _parse(text)
    return None if ip is None else (ip.version, int(ip), str(ip))


@functools.lru_cache(maxsize=4096)
def normalize_address(text: str | None) -> str | None:
    """``text`` as the canonical spelling of an IP address, or None if it is not one.
    Cached: a guard without trusted proxies pays a dictionary lookup per request."""
    if not text:
        return None
    ip = _parse(text)
    return None if ip is None else str(ip)


class TrustedProxies:
    """The networks whose connections may report another client address: a list of IPv4 or
    IPv6 addresses and CIDRs (``["10.0.0.0/8", "2001:db8::1"]``), or a string of them
    separated by commas or spaces. A CIDR with host bits set (``10.0.0.1/8``) is refused, as
    anything that is not an address or a network: :class:`~tokenkeep.InvalidArgument` with
    ``.field == "trusted_proxies"``. Empty: no proxy is trusted (the peer is the client).

    ``header``: the one header the proxies write, ``"x-forwarded-for"`` (default) or
    ``"forwarded"`` (RFC 7239), in any case.
    """

    __slots__ = ("header", "networks", "_v4", "_v6")  # _v4/_v6: (network int, mask int)

    def __init__(
        self, networks: Iterable[str] | str | None = (), *, header: str = X_FORWARDED_FOR
    ) -> None:
        if isinstance(networks, TrustedProxies):
            networks, header = networks.networks, networks.header
        if networks is None:
            networks = ()
        if isinstance(networks, str):
            networks = networks.replace(",", " ").split()
        parsed: list[Network] = []
        for item in networks:
            if not isinstance(item, str):
                raise with_field(
                    InvalidArgument("trusted proxies must be IP addresses or CIDRs, as strings"),
                    "trusted_proxies",
                )
            try:
                net = ipaddress.ip_network(item.strip(), strict=True)
            except ValueError:
                raise with_field(
                    InvalidArgument(
                        f"trusted proxy {item.strip()[:64]!r} is not an IP address or a CIDR "
                        "(a CIDR's host bits must be zero: 10.0.0.0/8, not 10.0.0.1/8)"
                    ),
                    "trusted_proxies",
                ) from None
            parsed.append(net)
        if not isinstance(header, str) or header.strip().lower() not in PROXY_HEADERS:
            raise with_field(
                InvalidArgument("the proxy header must be 'X-Forwarded-For' or 'Forwarded'"),
                "proxy_header",
            )
        self.header = header.strip().lower()
        v4 = tuple(ipaddress.collapse_addresses(n for n in parsed if n.version == 4))
        v6 = tuple(ipaddress.collapse_addresses(n for n in parsed if n.version == 6))
        self.networks: tuple[Network, ...] = v4 + v6
        self._v4 = tuple((int(n.network_address), int(n.netmask)) for n in v4)
        self._v6 = tuple((int(n.network_address), int(n.netmask)) for n in v6)

    def __bool__(self) -> bool:
        return bool(self.networks)

    def __contains__(self, ip: object) -> bool:
        """Whether an address (an ``ipaddress`` object or its text) is a trusted proxy's."""
        parsed = parse_address(ip) if isinstance(ip, str) else None
        if isinstance(ip, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
            parsed = (ip.version, int(ip), "")
        return parsed is not None and self._holds(parsed)

    def _holds(self, parsed: tuple[int, int, str]) -> bool:
        version, x, _ = parsed
        for net, mask in self._v4 if version == 4 else self._v6:  # noqa: SIM110 (a loop: no generator per call)
            if x & mask == net:
                return True
        return False

    def __repr__(self) -> str:
        nets = ", ".join(str(n) for n in self.networks)
        return f"TrustedProxies([{nets}], header={self.header!r})"


def _forwarded_for(value: str) -> list[str]:
    """The ``for=`` node of each element of an RFC 7239 ``Forwarded`` value, left to right,
    without quotes, brackets or port; an element without ``for=`` gives ``""`` (unusable)."""
    out = []
    for element in value.split(","):
        node = ""
        for pair in element.split(";"):
            key, _, val = pair.strip().partition("=")
            if key.strip().lower() == "for":
                node = val.strip().strip('"')
                break
        if node.startswith("["):  # "[2001:db8::1]:4711"
            node = node[1 : node.find("]")] if "]" in node else ""
        elif node.count(":") == 1:  # "192.0.2.1:4711"
            node = node.split(":", 1)[0]
        out.append(node)
    return out


def _hops(values: Sequence[str], header: str) -> list[str]:
    """Every entry of every value of the header, left to right (repeated headers in order,
    as RFC 9110 §5.3 combines them); entries keep their blanks (the parser strips them)."""
    if header == FORWARDED:
        return [node for value in values for node in _forwarded_for(value)]
    return (values[0] if len(values) == 1 else ",".join(values)).split(",")


def client_address(
    peer: str | None,
    header_values: Sequence[str] | str | None = None,
    trusted: TrustedProxies | None = None,
) -> str | None:
    """The client address of a request (see the module): ``peer`` is the connection's
    address (``request.client.host``, ``REMOTE_ADDR``), ``header_values`` the values of the
    header ``trusted.header`` (a list for repeated headers), ``trusted`` the proxies."""
    if not trusted:
        return normalize_address(peer)
    ip = parse_address(peer) if peer else None
    if ip is None or not trusted._holds(ip):
        return None if ip is None else ip[2]
    if not header_values:
        return ip[2]
    if isinstance(header_values, str):
        header_values = [header_values]
    hops = _hops(header_values, trusted.header)
    for skipped, entry in enumerate(reversed(hops)):
        if skipped >= MAX_HOPS:
            return None
        hop = parse_address(entry)
        if hop is None:
            return None  # where a proxy wrote the address it saw, something else: no answer
        if not trusted._holds(hop):
            return hop[2]
        ip = hop
    return ip[2]  # every hop is trusted: the leftmost
