"""One error body for every guard: FastAPI answers a refused request with the same status,
challenge and JSON as Flask (``{"error": ..., "error_description": ...}``), whether or not the
application installed tokenkeep's handler, in a router and in a mounted sub-application; the
application's own HTTPExceptions keep FastAPI's ``{"detail": ...}``."""

from __future__ import annotations

import warnings

import fastapi
import flask
import pytest
import tokenkeep
import tokenkeep.fastapi as tk_fastapi
import tokenkeep.flask as tk_flask

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@pytest.fixture
def store(tmp_path):
    with tokenkeep.TokenStore(str(tmp_path / "tokens.db")) as s:
        yield s


@pytest.fixture
def reader(store):
    return store.create(owner="alice", name="reader", scopes={"device:read"})


def _refusals(store, reader) -> list[tuple[str, dict]]:
    """(query string, headers) for every kind of refusal a guard gives."""
    expired = store.create(owner="alice", name="gone", scopes={"device:read"})
    store.revoke(owner="alice", token_id=expired.info.id)
    return [
        ("", {}),  # 401, no token
        ("", {"Authorization": "Bearer not-a-token"}),  # 401 invalid_token
        ("", {"Authorization": f"Bearer {expired.secret}"}),  # 401 revoked
        ("?access_token=x", {"Authorization": f"Bearer {reader.secret}"}),  # 400
        ("", {"Authorization": f"Bearer {reader.secret}", "X-Want": "write"}),  # 403
    ]


def _fastapi_app(store, how: str) -> fastapi.FastAPI:
    app = fastapi.FastAPI()
    guard = tk_fastapi.TokenGuard(store, app=app if how == "guard-app" else None)
    if how == "install":
        tk_fastapi.install(app)
    read = fastapi.Depends(guard.require("device:read"))
    write = fastapi.Depends(guard.require("device:write"))
    router = fastapi.APIRouter()

    @router.get("/r")
    async def r(request: fastapi.Request, token=read):
        return {"ok": True}

    @router.get("/w")
    async def w(token=write):
        return {"ok": True}

    @app.get("/teapot")
    async def teapot():
        raise fastapi.HTTPException(418, detail="short and stout")

    if how == "mounted":
        sub = fastapi.FastAPI()
        sub.include_router(router)
        app.mount("/sub", sub)
    else:
        app.include_router(router)
    return app


def _flask_app(store) -> flask.Flask:
    app = flask.Flask(__name__)
    guard = tk_flask.TokenGuard(store)

    @app.get("/r")
    @guard.require("device:read")
    def r():
        return {"ok": True}

    @app.get("/w")
    @guard.require("device:write")
    def w():
        return {"ok": True}

    return app


def _answer(response) -> tuple:
    return (
        response.status_code,
        response.headers.get("www-authenticate"),
        response.headers.get("cache-control"),
        response.json() if callable(response.json) else response.json,  # httpx / werkzeug
    )


@pytest.mark.parametrize("how", ["nothing-installed", "install", "guard-app", "mounted"])
def test_fastapi_refusals_have_flasks_body(store, reader, how):
    app = _fastapi_app(store, how)
    base = "/sub" if how == "mounted" else ""
    differ = []
    answers = 0
    with TestClient(app) as fa:
        fl = _flask_app(store).test_client()
        for _ in range(3):  # the first refusal and the ones after it
            for query, headers in _refusals(store, reader):
                path = "/w" if headers.pop("X-Want", None) else "/r"
                got = _answer(fa.get(base + path + query, headers=headers))
                want = _answer(fl.get(path + query, headers=headers))
                answers += 1
                assert want[0] in (400, 401, 403)
                assert "error_description" in want[3]
                if got != want:
                    differ.append((how, path + query, got, want))
        teapot = fa.get("/teapot")
    assert answers == 15
    assert differ == []
    # The application's own errors are left as FastAPI answers them.
    assert teapot.status_code == 418
    assert teapot.json() == {"detail": "short and stout"}


def test_a_status_handler_the_application_registers_wins(store, reader):
    app = _fastapi_app(store, "install")

    @app.exception_handler(401)
    async def mine(request, exc):
        return fastapi.responses.JSONResponse({"mine": True}, status_code=401)

    with TestClient(app) as client:
        assert client.get("/r").json() == {"mine": True}
        # not a 401: still tokenkeep's body
        r = client.get("/w", headers={"Authorization": f"Bearer {reader.secret}"})
        assert r.status_code == 403
        assert r.json()["error"] == "insufficient_scope"
