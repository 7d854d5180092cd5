"""Per-method scope rules fail closed (issue 19, item 4): a method no entry of a HasScopes or
require_token covers is refused with 403, whatever the token; an explicit empty entry is the
only way to let any valid token use it, and the system check warns about that."""

from __future__ import annotations

import gc

import pytest

from .answers import assert_refused, bearer

pytestmark = pytest.mark.django_db

UNCOVERED = ("put", "patch", "delete")


@pytest.fixture
def everything(tk, users):
    """A token with every scope the rules name: only the rule can refuse it."""
    return tk.create(owner="alice", name="all", scopes={"device"})


@pytest.mark.parametrize("path", ["/api/fleet", "/plain/fleet"])
def test_methods_without_a_rule_are_refused_with_403(api, everything, reader, path):
    allowed = [api.get(path, **bearer(everything.secret)).status_code]
    allowed.append(api.post(path, **bearer(everything.secret)).status_code)
    assert allowed[0] == 200
    assert allowed[1] in (200, 201)
    refused = []
    for token in (everything, reader):
        for method in UNCOVERED:
            r = getattr(api, method)(path, **bearer(token.secret))
            data = assert_refused(r, 403, token.secret)
            refused.append((method, data["error"]))
    assert refused == [(m, "insufficient_scope") for m in UNCOVERED] * 2


@pytest.mark.parametrize("path", ["/api/fleet", "/plain/fleet"])
def test_a_bad_token_on_an_uncovered_method_is_still_401(api, tk, users, path):
    r = api.delete(path, **bearer("tk_" + "a" * 40))
    assert assert_refused(r, 401)["error"] == "invalid_token"


def test_head_follows_get_and_an_empty_entry_lets_any_token_through():
    from tokenkeep.django.scopes import ScopeRule

    rule = ScopeRule(GET="device:read", POST="device:write", DELETE=())
    assert rule.for_method("HEAD") == ("device:read",)
    assert rule.for_method("DELETE") == ()
    assert rule.for_method("PUT") is None
    assert rule.for_method("OPTIONS") is None
    assert ScopeRule(read="policy:read").for_method("PATCH") is None
    assert ScopeRule().for_method("DELETE") == ()  # HasScopes(): any valid token, documented
    assert ScopeRule(("device:read",)).for_method("DELETE") == ("device:read",)


def test_system_check_warns_about_unsafe_methods_any_token_may_use(settings, tk_db):
    from django.core import checks
    from tokenkeep.django import HasScopes

    settings.TOKENKEEP = {"DB": tk_db}
    loose = HasScopes(GET="device:read", DELETE=(), PUT="")
    try:
        warned = [m for m in checks.run_checks(tags=["tokenkeep"]) if m.id == "tokenkeep.W002"]
        assert [m.msg for m in warned] == [
            f"{loose.rule.where}: PUT, DELETE pass with any valid token"
        ]
    finally:
        del loose
        gc.collect()
    assert not [m for m in checks.run_checks(tags=["tokenkeep"]) if m.id == "tokenkeep.W002"]
