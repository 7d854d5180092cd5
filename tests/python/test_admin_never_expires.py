"""The page's "No expiration" choice (issue 22, item 6): offered where the store's policy
allows tokens that never expire, and only there; a form that asks for it anyway is refused by
the engine, tied to the expiration control."""

from __future__ import annotations

import html
import re

import pytest
import tokenkeep
from fastapi.testclient import TestClient
from tokenkeep.web.admin import create_app

BASE = "http://127.0.0.1:8000"
PAGE = "/profile/access-tokens"


def _client(store) -> TestClient:
    return TestClient(
        create_app(store, current_user=lambda request: "alice"),
        base_url=BASE,
        follow_redirects=False,
    )


def _options(text: str, select_id: str) -> list[str]:
    select = re.search(rf'<select id="{select_id}".*?</select>', text, re.S).group(0)
    return re.findall(r'<option value="([^"]+)"', select)


def _create(client, expiry: str):
    page = client.get(PAGE).text
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page).group(1)
    data = {"csrf_token": token, "name": "forever", "scopes": ["device"], "expiry": expiry}
    return client.post(PAGE, data=data)


@pytest.mark.parametrize("allowed", [True, False])
def test_no_expiration_is_offered_only_where_the_store_allows_it(tmp_path, allowed):
    with tokenkeep.TokenStore(str(tmp_path / "t.db"), allow_never_expire=allowed) as store:
        assert store.allows_never_expire is allowed
        client = _client(store)
        page = client.get(PAGE).text
        create_choices = _options(page, "token-expiry")
        assert ("never" in create_choices) is allowed
        assert "never" not in _options(page, "rotate-expiry")  # regenerate keeps a date
        r = _create(client, "never")
        if allowed:
            assert r.status_code == 200
            (info,) = store.list("alice")
            assert info.expires_at is None
            assert "which expires on" not in r.text  # the secret dialog names no date
        else:
            assert r.status_code == 400
            error = re.search(r'id="token-expiry-error">.*?<span>(.*?)</span>', r.text, re.S)
            assert html.unescape(error.group(1)) == (
                "This store does not allow tokens that never expire."
            )
            assert store.list("alice") == []
