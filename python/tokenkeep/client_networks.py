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
    (IPv4) or /128 (IPv6), then blocks merged only where both halves are wholly covered, as
    :func:`ipaddress.collapse_addresses` does (``192.0.2.6`` and ``192.0.2.7`` become
    ``192.0.2.6/31``; ``192.0.2.1`` and ``192.0.2.3`` stay two). It never widens to a network
    an address was not seen in: a guess such as "the /24 around it" would let in neighbours
    nobody vetted, and the user can widen the field before saving. IPv4-mapped IPv6 addresses
    count as IPv4; anything that is not an address is skipped. IPv4 first, then IPv6, in
    address order. Integer arithmetic on memoized parses: the page calls it for every row."""
    from .web.client_address import parse_address

    seen: dict[tuple[int, int], str] = {}
    for text in addresses:
        parsed = parse_address(str(text))
        if parsed is not None:
            seen[parsed[0], parsed[1]] = parsed[2]
    out: list[str] = []
    for version, bits in ((4, 32), (6, 128)):
        ints = {x for v, x in seen if v == version}
        for net, prefix in _collapse(ints, bits):
            if prefix == bits:
                out.append(f"{seen[version, net]}/{bits}")
            elif version == 4:
                out.append(str(ipaddress.IPv4Network((net, prefix))))
            else:
                out.append(str(ipaddress.IPv6Network((net, prefix))))
    return out


def _collapse(ints: set[int], bits: int) -> list[tuple[int, int]]:
    """(network, prefix length) blocks covering exactly ``ints``, fewest possible, in order:
    at each length, two aligned sibling blocks become their parent."""
    level, prefix = set(ints), bits
    out: list[tuple[int, int]] = []
    while level:
        step = 1 << (bits - prefix)
        parents = {x for x in level if not x & step and x | step in level} if prefix else set()
        merged = parents | {x | step for x in parents}
        out.extend((x, prefix) for x in level - merged)
        level, prefix = parents, prefix - 1
    return sorted(out)
