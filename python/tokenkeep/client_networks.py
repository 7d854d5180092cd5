"""Networks as people type them, and the networks a token's recent clients suggest.

What a valid network is, and whether a client is inside one, the engine decides
(``TokenStore.create(..., networks=)``, ``update_networks``; errors carry
``.field == "networks"``). This module only splits what a person typed into entries, and
proposes the networks of "Restrict to the networks it used" (the page's edit dialog and
``tokenkeep networks --from-recent``).

>>> split_networks("10.0.0.0/8\\n2001:db8::/32, 192.0.2.7")
['10.0.0.0/8', '2001:db8::/32', '192.0.2.7']
>>> suggest_networks(["192.0.2.7", "192.0.2.6", "2001:db8::1"])
['192.0.2.6/31', '2001:db8::1/128']
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

__all__ = ["networks_text", "split_networks", "suggest_networks"]

_SEPARATORS = re.compile(r"[\s,;]+")


def split_networks(text: str | Iterable[str] | None) -> list[str]:
    """The entries of a "Restrict to networks" field (one per line, or separated by commas,
    semicolons or blanks) or of repeated ``--allow-from`` flags, in order, duplicates and empty
    entries dropped. Nothing is validated here: the engine does (field ``networks``)."""
    if text is None:
        return []
    parts = [text] if isinstance(text, str) else list(text)
    out: list[str] = []
    for part in parts:
        for entry in _SEPARATORS.split(str(part)):
            if entry and entry not in out:
                out.append(entry)
    return out


def networks_text(networks: Iterable[str]) -> str:
    """Networks one per line, IPv4 before IPv6, each in address order: the field's value."""
    return "\n".join(_sorted(networks))


def _key(text: str) -> tuple[int, int, int, str]:
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return (9, 0, 0, text)
    return (net.version, int(net.network_address), net.prefixlen, text)


def _sorted(networks: Iterable[str]) -> list[str]:
    return sorted(set(networks), key=_key)


def suggest_networks(addresses: Iterable[str]) -> list[str]:
    """The smallest set of CIDRs that holds exactly the given addresses: each address as a /32
    (IPv4) or /128 (IPv6), then :func:`ipaddress.collapse_addresses`, which merges only blocks
    that are wholly covered (``192.0.2.6`` and ``192.0.2.7`` become ``192.0.2.6/31``;
    ``192.0.2.1`` and ``192.0.2.3`` stay two). It never widens to a network an address was not
    seen in: a guess such as "the /24 around it" would let in neighbours nobody vetted, and
    the user can widen the field before saving. IPv4-mapped IPv6 addresses count as IPv4;
    anything that is not an address is skipped. IPv4 first, then IPv6, in address order."""
    v4: list[ipaddress.IPv4Network] = []
    v6: list[ipaddress.IPv6Network] = []
    for text in addresses:
        try:
            ip = ipaddress.ip_address(str(text).strip().split("%", 1)[0])
        except ValueError:
            continue
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if isinstance(ip, ipaddress.IPv4Address):
            v4.append(ipaddress.IPv4Network(ip))
        else:
            v6.append(ipaddress.IPv6Network(ip))
    return [str(n) for n in ipaddress.collapse_addresses(v4)] + [
        str(n) for n in ipaddress.collapse_addresses(v6)
    ]
