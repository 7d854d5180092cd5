"""include("tokenkeep.django.oauth_urls"): the RFC 7662 / RFC 7009 endpoints on the Django
test site (mounted at /oauth/), held to the same checks as FastAPI's (oauth_contract.py)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from oauth_contract import FORM, INTROSPECT, OAuthContract, Reply, form

pytestmark = pytest.mark.django_db


@pytest.fixture
def store(tk, users):
    """The site's store; alice (active), carol (inactive) and sam are users of the site."""
    return tk


@pytest.fixture
def call():
    from django.test import Client

    client = Client(enforce_csrf_checks=True)  # service callers carry no CSRF token

    def call(path, body=b"", *, bearer=None, content_type=FORM, query="", method="POST"):
        extra = {}
        if bearer is not None:
            extra["HTTP_AUTHORIZATION"] = bearer if " " in bearer else "Bearer " + bearer
        url = path + ("?" + query if query else "")
        r = client.generic(method, url, body, content_type=content_type or "", **extra)
        return Reply(r.status_code, {k.lower(): v for k, v in r.items()}, r.content)

    return call


class TestDjango(OAuthContract):
    pass


def test_urls_are_named(tk):
    assert reverse("tokenkeep_oauth:introspect") == "/oauth/introspect"
    assert reverse("tokenkeep_oauth:revoke") == "/oauth/revoke"


def test_a_django_users_token_is_refused_and_a_service_token_is_not_a_user(tk, users, call):
    from django.test import Client

    alice = tk.create("alice", "ci", {"device"})
    svc = tk.create_service_token("gateway").secret
    assert call(INTROSPECT, form(token=alice.secret), bearer=alice.secret).status == 401
    assert call(INTROSPECT, form(token=alice.secret), bearer=svc).json["username"] == "alice"
    # The site's own guard refuses the service token (it is nobody's).
    r = Client().get("/plain/devices", HTTP_AUTHORIZATION="Bearer " + svc)
    assert r.status_code == 401 and svc not in r.content.decode()


def test_manage_py_service_create_makes_a_caller_of_the_sites_endpoints(
    settings, tk_db, call, users
):
    import io

    from django.core.management import call_command
    from tokenkeep.django import get_store

    settings.TOKENKEEP = {"DB": tk_db}
    out, err = io.StringIO(), io.StringIO()
    call_command("tokenkeep", "service", "create", "kong", stdout=out, stderr=err)
    secret = out.getvalue().strip()
    assert secret.startswith("tk_") and secret not in err.getvalue()
    user = get_store().create("alice", "ci", {"device:read"}).secret
    assert call(INTROSPECT, form(token=user), bearer=secret).json["scope"] == "device:read"


def test_introspection_answers_as_the_sites_guard_decides(store, call, users, django_user_model):
    """Active only when the site would accept the token: an inactive user's token, one whose
    owner is no user, and one made before its user's account are {"active": false}."""
    from datetime import timedelta

    svc = store.create_service_token("gateway").secret
    carol = store.create("carol", "t", {"device"}).secret  # inactive user
    nobody = store.create("nobody", "t", {"device"}).secret
    early = store.create("dave", "t", {"device"}).secret
    dave = django_user_model.objects.create_user("dave", password="pw")
    dave.date_joined = store.now() + timedelta(days=1)  # the token predates the account
    dave.save()
    alice = store.create("alice", "t", {"device"}).secret
    for token in (carol, nobody, early):
        assert call(INTROSPECT, form(token=token), bearer=svc).json == {"active": False}
    assert call(INTROSPECT, form(token=alice), bearer=svc).json["active"] is True
