"""The README's Django section runs: its settings block configures what the site's settings
do, its views answer as documented (the code is executed as it is printed there)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .answers import bearer

README = Path(__file__).resolve().parents[3] / "README.md"


def django_blocks() -> list:
    text = README.read_text()
    section = text[text.index("### Django and Django REST framework") :]
    section = section[: section.index("\n## ", 1)]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_the_readme_settings_block_is_the_test_sites_configuration(tmp_path):
    from testsite import settings as site

    namespace = {"BASE_DIR": tmp_path, "INSTALLED_APPS": ["django.contrib.auth"]}
    exec(django_blocks()[0], namespace)
    assert namespace["INSTALLED_APPS"][-2:] == ["rest_framework", "tokenkeep.django"]
    assert namespace["TOKENKEEP"] == {"DB": tmp_path / "tokens.db"}
    for key in ("DEFAULT_AUTHENTICATION_CLASSES", "EXCEPTION_HANDLER"):
        assert namespace["REST_FRAMEWORK"][key] == site.REST_FRAMEWORK[key]


@pytest.mark.django_db
def test_the_readme_views_answer_as_documented(tk, users):
    from django.test import RequestFactory

    views: dict = {"__name__": "readme_views"}
    exec(django_blocks()[1], views)
    reader = tk.create(owner="alice", name="r", scopes={"device:read", "policy:read"})
    factory = RequestFactory()

    r = views["Devices"].as_view()(factory.get("/api/devices", **bearer(reader.secret)))
    r.render()
    assert r.status_code == 200 and r.data == {"owner": "alice", "user": "alice"}
    r = views["Devices"].as_view()(factory.post("/api/devices", **bearer(reader.secret)))
    r.render()
    assert r.status_code == 403 and r.data["scope"] == "device:write"
    r = views["policies"](factory.get("/policies", **bearer(reader.secret)))
    assert r.status_code == 200 and r.content == b'{"user": "alice", "token": "r"}'
