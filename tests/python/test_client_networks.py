"""tokenkeep.client_networks: splitting a "Restrict to networks" field, and the suggestion of
"Restrict to the networks it used" — exactly the addresses seen, never wider."""

import ipaddress
import random

from tokenkeep.client_networks import networks_text, split_networks, suggest_networks


def test_split_accepts_lines_commas_and_blanks_and_drops_duplicates():
    text = "10.0.0.0/8\r\n2001:db8::/32,  192.0.2.7\n\n10.0.0.0/8; 198.51.100.0/24"
    assert split_networks(text) == ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7", "198.51.100.0/24"]
    assert split_networks(["10.0.0.0/8", "192.0.2.1,192.0.2.2"]) == [
        "10.0.0.0/8",
        "192.0.2.1",
        "192.0.2.2",
    ]
    assert split_networks("") == [] and split_networks(None) == [] and split_networks(" \n ,") == []
    assert split_networks("not-a-network") == ["not-a-network"]  # the engine says what is wrong


def test_networks_text_is_one_per_line_ipv4_first_in_address_order():
    assert networks_text({"2001:db8::/32", "192.0.2.0/24", "10.0.0.0/8"}) == (
        "10.0.0.0/8\n192.0.2.0/24\n2001:db8::/32"
    )
    assert networks_text([]) == ""


def test_suggest_exact_addresses():
    assert suggest_networks(["192.0.2.7"]) == ["192.0.2.7/32"]
    assert suggest_networks(["2001:db8::1"]) == ["2001:db8::1/128"]
    assert suggest_networks([]) == []


def test_suggest_merges_only_wholly_covered_blocks():
    assert suggest_networks(["192.0.2.6", "192.0.2.7"]) == ["192.0.2.6/31"]
    assert suggest_networks(["192.0.2.1", "192.0.2.3"]) == ["192.0.2.1/32", "192.0.2.3/32"]
    four = [f"198.51.100.{i}" for i in (4, 5, 6, 7)]
    assert suggest_networks(four) == ["198.51.100.4/30"]
    # 5, 6 are adjacent but not an aligned /31: stay two
    assert suggest_networks(["198.51.100.5", "198.51.100.6"]) == [
        "198.51.100.5/32",
        "198.51.100.6/32",
    ]


def test_suggest_mixed_families_duplicates_mapped_and_garbage():
    got = suggest_networks(
        ["2001:db8::2", "192.0.2.7", "::ffff:192.0.2.6", "192.0.2.7", "nonsense", "fe80::1%eth0"]
    )
    assert got == ["192.0.2.6/31", "2001:db8::2/128", "fe80::1/128"]


def test_suggest_never_widens_and_always_covers():
    """Over many random address sets: every address is inside the suggestion (it covers), and
    the suggestion holds exactly as many addresses as were distinct (it never widens).
    Counts violations; asserts zero."""
    rng = random.Random(7)
    violations = 0
    for _ in range(2_000):
        base = rng.choice([0xC0000200, 0x0A000000, 0xC6336400])
        addrs = {
            str(ipaddress.IPv4Address(base + rng.randint(0, 40))) for _ in range(rng.randint(1, 12))
        }
        if rng.random() < 0.3:
            addrs |= {f"2001:db8::{rng.randint(0, 20):x}" for _ in range(rng.randint(1, 4))}
        nets = [ipaddress.ip_network(n) for n in suggest_networks(addrs)]
        covered = all(any(ipaddress.ip_address(a) in n for n in nets) for a in addrs)
        size = sum(n.num_addresses for n in nets)
        if not covered or size != len(addrs):
            violations += 1
    assert violations == 0


def test_suggest_is_what_ipaddress_collapse_gives():
    """Differential: the integer collapse against the standard library's, over random sets
    (dense ranges, so that blocks merge at several levels). Counts differences; asserts zero."""
    rng = random.Random(11)
    differences = 0
    for _ in range(3_000):
        base4 = rng.choice([0xC0000200, 0x0A000000, 0xFFFFFF00, 0])
        base6 = rng.choice([0x20010DB8 << 96, 0, (1 << 128) - 64])
        addrs = [
            str(ipaddress.IPv4Address(base4 + rng.randint(0, 63)))
            for _ in range(rng.randint(0, 40))
        ]
        addrs += [
            str(ipaddress.IPv6Address(base6 + rng.randint(0, 63)))
            for _ in range(rng.randint(0, 20))
        ]
        v4 = [ipaddress.ip_network(a) for a in addrs if ":" not in a]
        v6 = [ipaddress.ip_network(a) for a in addrs if ":" in a]
        expected = [str(n) for n in ipaddress.collapse_addresses(v4)]
        expected += [str(n) for n in ipaddress.collapse_addresses(v6)]
        if suggest_networks(addrs) != expected:
            differences += 1
    assert differences == 0
    assert suggest_networks([f"10.0.0.{i}" for i in range(256)]) == ["10.0.0.0/24"]
    assert suggest_networks(["0.0.0.0/0"]) == []  # a network is not an address
