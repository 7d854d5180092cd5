"""The user cache in one process (issue 23): what it serves, what it never caches, and its
setting. The cross-process proofs are in test_django_user_cache.py."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test.utils import CaptureQueriesContext

from .answers import bearer

pytestmark = pytest.mark.django_db


def _queries(api, secret: str) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as q:
        status = api.get("/api/devices", **bearer(secret)).status_code
    return status, len(q)


def test_the_default_mapping_is_served_from_the_cache_and_a_save_drops_it(api, tk, users, reader):
    assert _queries(api, reader.secret)[0] == 200
    tk._e.uses_flush()  # the first use's flush renews the snapshot: done now, not mid-test
    assert _queries(api, reader.secret) == (200, 1)
    assert [_queries(api, reader.secret) for _ in range(5)] == [(200, 0)] * 5
    alice = users["alice"]
    alice.first_name = "Alice"
    alice.save()  # any change but last_login announces
    assert _queries(api, reader.secret)[1] == 1
    alice.is_active = False
    alice.save()
    assert _queries(api, reader.secret)[0] == 401
    alice.is_active = True
    alice.save(update_fields=["is_active"])
    assert _queries(api, reader.secret)[0] == 200


def test_each_request_gets_its_own_copy_of_the_user(tk, users, reader, rf):
    from tokenkeep.django.identity import authenticate_request

    request = rf.get("/x", **bearer(reader.secret))
    first, _ = authenticate_request(request)
    first.first_name = "changed by a view"
    second, _ = authenticate_request(request)
    assert second is not first and second.first_name == "" and second.pk == first.pk


def test_user_cache_zero_queries_every_request(api, settings, tk_db, users):
    settings.TOKENKEEP = {"DB": tk_db, "USER_CACHE": 0}
    from tokenkeep.django import get_store

    secret = get_store().create(owner="alice", name="r", scopes={"device:read"}).secret
    assert [_queries(api, secret)[1] > 0 for _ in range(3)] == [True] * 3


def test_a_custom_user_callable_is_called_on_every_request(api, settings, tk_db, users):
    calls = []

    def mapping(owner):
        calls.append(owner)
        return users["alice"]

    settings.TOKENKEEP = {"DB": tk_db, "USER": mapping}
    from tokenkeep.django import get_store

    secret = get_store().create(owner="alice", name="r", scopes={"device:read"}).secret
    for _ in range(3):
        assert api.get("/api/devices", **bearer(secret)).status_code == 200
    assert calls == ["alice"] * 3


@pytest.mark.parametrize("value", [-1, "60", True, float("nan"), 86401])
def test_a_wrong_user_cache_setting_is_improperly_configured(settings, tk_db, value):
    from tokenkeep.django.conf import tokenkeep_settings

    settings.TOKENKEEP = {"DB": tk_db, "USER_CACHE": value}
    with pytest.raises(ImproperlyConfigured, match="USER_CACHE"):
        tokenkeep_settings()
