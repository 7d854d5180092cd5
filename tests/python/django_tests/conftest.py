"""Django tests (issue 12). Django is configured here, from the test site's settings module
(tests/python/django_project/testsite/settings.py), only when these tests are collected:
the rest of the suite runs without Django settings. A package (``django_tests``), so that
this conftest is not the ``conftest`` module the other tests import ``T0`` from. Each test gets its own token database
through the ``tk`` fixture (``settings.TOKENKEEP`` overridden; the store reopens)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import tokenkeep

from .answers import PROJECT


def pytest_configure(config):
    if str(PROJECT) not in sys.path:
        sys.path.insert(0, str(PROJECT))
    import django
    from django.conf import settings

    if not settings.configured:
        import testsite.settings as site

        settings.configure(**{k: getattr(site, k) for k in dir(site) if k.isupper()})
        django.setup()


@pytest.fixture
def tk_db(tmp_path) -> Path:
    return tmp_path / "tokens.db"


@pytest.fixture
def tk(settings, tk_db, clock):
    """The site's store, on this test's database and clock (what get_store() returns)."""
    from tokenkeep.django import get_store

    settings.TOKENKEEP = {"DB": tk_db, "CLOCK": clock}
    return get_store()


@pytest.fixture
def users(django_user_model, db):
    alice = django_user_model.objects.create_user("alice", password="pw-alice")
    carol = django_user_model.objects.create_user("carol", password="pw-carol", is_active=False)
    staff = django_user_model.objects.create_user("sam", password="pw-sam", is_staff=True)
    return {"alice": alice, "carol": carol, "sam": staff}


@pytest.fixture
def api():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def reader(tk, users) -> tokenkeep.IssuedToken:
    return tk.create(owner="alice", name="reader", scopes={"device:read"})
