"""``tokenkeep serve --api``: the RFC 7662 / RFC 7009 endpoints on their own, no page.

>>> app = create_api_app(store)            # POST /oauth/introspect, POST /oauth/revoke
>>> serve_api("tokens.db", port=8400)      # doctest: +SKIP
"""

from __future__ import annotations

import fastapi

from ..store import TokenStore

__all__ = ["create_api_app", "serve_api"]


def create_api_app(store: TokenStore) -> fastapi.FastAPI:
    """A FastAPI application serving :func:`tokenkeep.fastapi.oauth_router` and ``GET
    /healthz`` (200 ``ok``: for load balancers; it says nothing about any token)."""
    from ..fastapi import oauth_router

    app = fastapi.FastAPI(title="tokenkeep OAuth endpoints", docs_url=None, redoc_url=None)
    app.include_router(oauth_router(store))

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> fastapi.Response:
        return fastapi.Response("ok\n", media_type="text/plain")

    return app


def serve_api(db_path: str, *, host: str = "127.0.0.1", port: int = 8400) -> None:
    """Serve :func:`create_api_app` on the database until interrupted. Tokens travel in the
    body, so uvicorn's access log (method, path, status) never holds one. Put TLS in front
    of it (a reverse proxy) beyond loopback."""
    import uvicorn

    from .admin import _port_check

    _port_check(host, port)
    store = TokenStore(db_path)
    try:
        uvicorn.run(
            create_api_app(store), host=host, port=port, log_level="info", server_header=False
        )
    except SystemExit as e:
        if e.code == 3:
            raise OSError(f"cannot serve on {host}:{port}: the server failed to start") from None
        raise
    finally:
        store.close()
