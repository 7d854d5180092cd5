"""tokenkeep.web.client_address: the one rule by which every guard finds a request's client
address — the peer, or what trusted proxies report, read from the right; never a header a
client could forge."""

import random

import pytest
import tokenkeep
from tokenkeep.web.client_address import (
    MAX_HOPS,
    TrustedProxies,
    client_address,
    normalize_address,
)

PROXIES = TrustedProxies(["10.0.0.0/8", "2001:db8:ffff::/48"])


def test_without_trusted_proxies_the_peer_is_the_client_and_headers_are_ignored():
    assert client_address("198.51.100.7") == "198.51.100.7"
    assert client_address("198.51.100.7", ["10.0.0.1"]) == "198.51.100.7"
    assert client_address("198.51.100.7", ["10.0.0.1"], TrustedProxies()) == "198.51.100.7"


def test_a_header_from_an_untrusted_peer_is_never_read():
    # The client forges X-Forwarded-For; its own address is what counts.
    assert client_address("203.0.113.5", ["10.1.1.1"], PROXIES) == "203.0.113.5"
    assert client_address("203.0.113.5", ["192.0.2.1, 10.1.1.1"], PROXIES) == "203.0.113.5"


def test_the_first_untrusted_address_from_the_right_is_the_client():
    assert client_address("10.0.0.2", ["198.51.100.7"], PROXIES) == "198.51.100.7"
    # Two proxies: the nearest appended the first one's address.
    assert client_address("10.0.0.2", ["198.51.100.7, 10.0.0.9"], PROXIES) == "198.51.100.7"
    # What the client wrote itself (on the left) is not believed.
    forged = "1.2.3.4, 198.51.100.7, 10.0.0.9"
    assert client_address("10.0.0.2", [forged], PROXIES) == "198.51.100.7"


def test_forged_entries_inside_trusted_networks_do_not_win():
    # The client writes a trusted-looking address; the proxy appends the real one.
    assert client_address("10.0.0.2", ["10.9.9.9, 203.0.113.5"], PROXIES) == "203.0.113.5"


def test_repeated_headers_are_one_list_in_order():
    assert client_address("10.0.0.2", ["1.2.3.4", "198.51.100.7, 10.0.0.9"], PROXIES) == (
        "198.51.100.7"
    )


def test_no_header_from_a_trusted_proxy_is_the_proxy_itself():
    assert client_address("10.0.0.2", None, PROXIES) == "10.0.0.2"
    assert client_address("10.0.0.2", [], PROXIES) == "10.0.0.2"


def test_all_hops_trusted_gives_the_leftmost():
    assert client_address("10.0.0.2", ["10.3.3.3, 10.0.0.9"], PROXIES) == "10.3.3.3"


def test_garbage_where_a_proxy_wrote_an_address_gives_no_address():
    assert client_address("10.0.0.2", ["unknown"], PROXIES) is None
    assert client_address("10.0.0.2", ["198.51.100.7, , 10.0.0.9"], PROXIES) is None
    # To the left of the answer, garbage does not matter (the client wrote it).
    assert client_address("10.0.0.2", ["not-an-ip, 198.51.100.7"], PROXIES) == "198.51.100.7"


def test_too_many_trusted_hops_give_no_address():
    chain = ", ".join(["198.51.100.7"] + ["10.0.0.1"] * (MAX_HOPS + 1))
    assert client_address("10.0.0.2", [chain], PROXIES) is None
    chain = ", ".join(["198.51.100.7"] + ["10.0.0.1"] * (MAX_HOPS - 1))
    assert client_address("10.0.0.2", [chain], PROXIES) == "198.51.100.7"


def test_rfc7239_forwarded_header():
    fwd = TrustedProxies(["10.0.0.0/8"], header="Forwarded")
    assert fwd.header == "forwarded"
    value = 'for=1.2.3.4, for="[2001:db8:cafe::17]:4711";proto=https, for=10.0.0.9;by=10.0.0.1'
    assert client_address("10.0.0.2", [value], fwd) == "2001:db8:cafe::17"
    assert client_address("10.0.0.2", ['For="198.51.100.7:8080"'], fwd) == "198.51.100.7"
    assert client_address("10.0.0.2", ["for=_hidden"], fwd) is None  # obfuscated: unusable
    assert client_address("10.0.0.2", ["for=unknown"], fwd) is None
    assert client_address("10.0.0.2", ["proto=https"], fwd) is None  # an element without for=


def test_only_the_configured_header_counts():
    # Proxies that write X-Forwarded-For pass a client's Forwarded through: reading it would
    # believe the client. The guards read one header; a Forwarded-configured guard given an
    # X-Forwarded-For value reads it as RFC 7239 (no for=: no address), never as a list.
    fwd = TrustedProxies(["10.0.0.0/8"], header="forwarded")
    assert client_address("10.0.0.2", ["198.51.100.7"], fwd) is None


def test_addresses_are_normalized():
    assert client_address("::ffff:198.51.100.7") == "198.51.100.7"
    assert client_address("2001:DB8:0:0::1") == "2001:db8::1"
    assert client_address("fe80::1%eth0") == "fe80::1"
    assert client_address("  198.51.100.7 ") == "198.51.100.7"
    assert client_address("::ffff:10.0.0.2", ["::ffff:198.51.100.7"], PROXIES) == "198.51.100.7"
    assert client_address("2001:db8:ffff::1", ["2001:db8::5"], PROXIES) == "2001:db8::5"


def test_a_peer_that_is_not_an_address_is_none():
    for peer in (None, "", "testclient", "unix:/run/app.sock", "1.2.3.4.5", "x" * 100):
        assert client_address(peer) is None
        assert client_address(peer, ["198.51.100.7"], PROXIES) is None
    assert normalize_address(None) is None


def test_trusted_proxies_spellings_and_errors():
    assert (
        TrustedProxies("10.0.0.0/8, 192.168.1.1 ::1").networks
        == TrustedProxies(["10.0.0.0/8", "192.168.1.1/32", "::1/128"]).networks
    )
    assert not TrustedProxies(None) and not TrustedProxies([])
    assert "10.0.0.0/8" in repr(TrustedProxies(["10.0.0.0/8"]))
    for bad in (["10.0.0.1/8"], ["example.com"], ["10.0.0.0/33"], [10]):
        with pytest.raises(tokenkeep.InvalidArgument) as e:
            TrustedProxies(bad)
        assert e.value.field == "trusted_proxies"
    with pytest.raises(tokenkeep.InvalidArgument) as e:
        TrustedProxies(["10.0.0.0/8"], header="X-Real-IP")
    assert e.value.field == "proxy_header"


def test_a_forged_header_never_changes_the_answer_for_an_untrusted_peer():
    """Safety property over many requests: for a peer outside the trusted networks, whatever
    header it sends, the answer is the peer. Counts violations; asserts zero."""
    rng = random.Random(21)
    violations = 0
    for _ in range(20_000):
        peer = f"{rng.randint(11, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        hops = [
            rng.choice(
                [
                    f"10.{rng.randint(0, 255)}.0.1",
                    f"198.51.100.{rng.randint(1, 254)}",
                    "unknown",
                    "2001:db8::7",
                    "",
                ]
            )
            for _ in range(rng.randint(0, 5))
        ]
        header = [", ".join(hops)] if hops else None
        if client_address(peer, header, PROXIES) != peer:
            violations += 1
    assert violations == 0
