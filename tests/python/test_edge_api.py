"""examples/edge_api.py, the guarded device-management service, through FastAPI's test client."""

from __future__ import annotations

import os
import sys

import pytest
import tokenkeep  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples"))
import edge_api  # noqa: E402


@pytest.fixture
def api(tmp_path):
    store = tokenkeep.TokenStore(str(tmp_path / "edge.db"))
    reader = store.create("alice", "reader", {"device:read"}).secret
    writer = store.create("alice", "writer", {"device"}).secret
    with TestClient(edge_api.create_app(store)) as client:
        yield client, reader, writer
    store.close()


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def test_reading_needs_read_and_writing_needs_write(api):
    client, reader, writer = api
    assert client.get("/api/devices").status_code == 401
    assert client.get("/api/devices", headers=auth(reader)).json() == []
    assert client.post("/api/devices", json={"name": "gw"}, headers=auth(reader)).status_code == 403
    made = client.post("/api/devices", json={"name": "gw"}, headers=auth(writer))
    assert made.status_code == 201 and made.json()["created_by"] == "alice"
    assert [d["name"] for d in client.get("/api/devices", headers=auth(reader)).json()] == ["gw"]
    assert (
        client.delete(f"/api/devices/{made.json()['id']}", headers=auth(reader)).status_code == 403
    )
    assert (
        client.delete(f"/api/devices/{made.json()['id']}", headers=auth(writer)).status_code == 204
    )
    assert client.get("/api/policies", headers=auth(reader)).status_code == 403


def test_an_anonymous_post_is_401_before_its_body_is_looked_at(api):
    client, _, writer = api
    r = client.post("/api/devices", content=b"{", headers={"Content-Type": "application/json"})
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    r = client.post(
        "/api/devices", content=b"{", headers={**auth(writer), "Content-Type": "application/json"}
    )
    assert r.status_code == 422
    assert writer not in r.text
