"""Django (DRF's TokenAuthentication + HasScopes, and require_token) passes the request's client
address to verify: REMOTE_ADDR, or what a proxy of TOKENKEEP["TRUSTED_PROXIES"] reports; a
network-bound token from elsewhere is a 403 with the guards' body. Cases: network_cases.py,
the same as the FastAPI and Flask guards'."""

from __future__ import annotations

import pytest
from network_cases import BOUND_TO, CASES, IDS, INSIDE, NETWORK_BODY, OUTSIDE, PROXIES, PROXY

from .answers import assert_refused, bearer, challenge

pytestmark = pytest.mark.django_db

PATHS = ("/api/devices", "/plain/devices", "/api/any")


@pytest.fixture
def configure(settings, tk_db, clock):
    """Set TOKENKEEP (on this test's database) with or without trusted proxies; the store."""
    from tokenkeep.django import get_store

    def apply(trusted: bool, **extra):
        options = {"DB": tk_db, "CLOCK": clock, **extra}
        if trusted:
            options["TRUSTED_PROXIES"] = PROXIES
        settings.TOKENKEEP = options
        return get_store()

    return apply


def request(client, path, secret, peer, header=None, meta_key="HTTP_X_FORWARDED_FOR"):
    extra = {"REMOTE_ADDR": peer, **bearer(secret)}
    if header is not None:
        extra[meta_key] = header
    return client.get(path, **extra)


@pytest.mark.parametrize(("what", "peer", "header", "trusted", "status"), CASES, ids=IDS)
def test_bound_token_is_checked_against_the_request_client(
    client, configure, users, what, peer, header, trusted, status
):
    store = configure(trusted)
    bound = store.create("alice", "bound", {"device:read"}, networks=BOUND_TO)
    free = store.create("alice", "free", {"device:read"})
    for path in PATHS:
        r = request(client, path, bound.secret, peer, header)
        if status == 403:
            assert assert_refused(r, 403, bound.secret) == NETWORK_BODY, (what, path)
            params = challenge(r)
            assert params["error"] == "insufficient_scope" and "scope" not in params
        else:
            assert r.status_code == 200, (what, path, r.content)
        assert request(client, path, free.secret, peer, header).status_code == 200, (what, path)


def test_forwarded_header_setting(client, configure, users):
    store = configure(True, PROXY_HEADER="Forwarded")
    bound = store.create("alice", "bound", {"device:read"}, networks=BOUND_TO)
    ok = f'for={OUTSIDE}, for="{INSIDE}:4711"'
    assert (
        request(client, "/plain/devices", bound.secret, PROXY, ok, "HTTP_FORWARDED").status_code
        == 200
    )
    # X-Forwarded-For is not read when the proxies write Forwarded.
    r = request(client, "/plain/devices", bound.secret, PROXY, INSIDE)
    assert r.status_code == 403


def test_bad_trusted_proxies_are_improperly_configured(settings, tk_db):
    from django.core.exceptions import ImproperlyConfigured
    from tokenkeep.django.conf import tokenkeep_settings

    settings.TOKENKEEP = {"DB": tk_db, "TRUSTED_PROXIES": ["10.0.0.1/8"]}
    with pytest.raises(ImproperlyConfigured, match="TRUSTED_PROXIES"):
        tokenkeep_settings()
    settings.TOKENKEEP = {"DB": tk_db, "TRUSTED_PROXIES": PROXIES, "PROXY_HEADER": "X-Real-IP"}
    with pytest.raises(ImproperlyConfigured, match="PROXY_HEADER"):
        tokenkeep_settings()


def test_the_reported_address_is_the_recent_client(client, configure, users):
    store = configure(True)
    token = store.create("alice", "t", {"device:read"})
    r = request(client, "/plain/devices", token.secret, PROXY, f"{INSIDE}, 10.0.0.9")
    assert r.status_code == 200
    assert [c.address for c in store.recent_clients("alice", token.info.id)] == [INSIDE]


def test_the_django_tab_binds_and_edits_networks(users, configure):
    """The Access Token tab inside Django: the same field and actions as tokenkeep serve."""
    import re

    from django.test import Client

    store = configure(False)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(users["alice"])
    page = "/profile/access-tokens"

    def post(path, **fields):
        html = browser.get(page).content.decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
        return browser.post(path, {"csrfmiddlewaretoken": token, **fields})

    r = post(page, name="lan", scopes=["device:read"], expiry="30", networks="198.51.100.0/24")
    assert r.status_code == 200
    (info,) = store.list("alice")
    assert info.networks == {"198.51.100.0/24"}
    r = post(f"{page}/{info.id}/scopes", scopes=["device:read"], networks="10.0.0.0/33")
    assert r.status_code == 400 and 'id="edit-networks-error">' in r.content.decode()
    assert store.get("alice", info.id).networks == {"198.51.100.0/24"}
    r = post(f"{page}/{info.id}/scopes", scopes=["device:read"], networks="")
    assert r.status_code == 303 and store.get("alice", info.id).networks == frozenset()
