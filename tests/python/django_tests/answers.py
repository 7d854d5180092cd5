"""What every RFC 6750 answer of the Django surfaces must look like (shared by the tests)."""

from __future__ import annotations

import json
import re
from pathlib import Path

# The Django test site: settings, urls, views and manage.py.
PROJECT = Path(__file__).resolve().parent.parent / "django_project"

START_REQUIRED = "A bearer token is required (Authorization: Bearer <token>)"
INVALID = {"error": "invalid_token", "error_description": "The access token is invalid"}


def bearer(secret: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def challenge(response) -> dict:
    scheme, _, rest = response["WWW-Authenticate"].partition(" ")
    params = dict(re.findall(r'(\w+)="([^"]*)"', rest))
    params["scheme"] = scheme
    return params


def body(response) -> dict:
    assert response["Content-Type"] == "application/json"
    return json.loads(response.content)


def assert_refused(response, status: int, *secrets: str) -> dict:
    """The status, JSON, no-store, and no secret echoed in the body or a header."""
    assert response.status_code == status, response.content
    assert response["Cache-Control"] == "no-store"
    text = response.content.decode()
    for secret in secrets:
        assert secret not in text
        assert all(secret not in v for _, v in response.items())
    return body(response)
