"""edge_api: a small device-management API guarded by tokenkeep personal access tokens.

Three resources, each guarded by its scope: reading needs ``<scope>:read``, changing needs
``<scope>:write`` (a token holding the bare scope, e.g. ``device``, has both).

    ==================================  =====================
    GET    /api/collections             collection:read
    POST   /api/collections             collection:write
    DELETE /api/collections/{item_id}   collection:write
    GET    /api/devices                 device:read
    POST   /api/devices                 device:write
    DELETE /api/devices/{item_id}       device:write
    GET    /api/policies                policy:read
    POST   /api/policies                policy:write
    DELETE /api/policies/{item_id}      policy:write
    GET    /healthz                     (no token)
    ==================================  =====================

Run it from the repository (the database is ``$TOKENKEEP_DB``, else tokenkeep's default)::

    export TOKENKEEP_DB=./tokenkeep.db
    TOKEN=$(tokenkeep create --owner alice --name edge-demo --scope device:read)  # shown once
    .venv/bin/uvicorn --no-access-log --app-dir examples edge_api:app --port 8080 &
    curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/api/devices      # []
    curl -X POST -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \\
         -d '{"name": "gateway-7"}' http://127.0.0.1:8080/api/devices   # 403: needs device:write

(``--no-access-log``: uvicorn's access log records full URLs, and a client that wrongly puts a
token in the query string, refused with 400, would still leave it there.) The README runs the
same steps in its tests.

Items live in memory; the point is the guard, not the storage.
"""

import itertools
import threading
from contextlib import asynccontextmanager
from typing import Annotated

import fastapi
import pydantic
import tokenkeep
from tokenkeep.fastapi import TokenGuard

RESOURCES = {"collections": "collection", "devices": "device", "policies": "policy"}


class NewItem(pydantic.BaseModel):
    name: str = pydantic.Field(min_length=1, max_length=100)


class Item(pydantic.BaseModel):
    id: int
    name: str
    created_by: str


class Inventory:
    """In-memory items per resource, safe across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._items: dict[str, dict[int, Item]] = {r: {} for r in RESOURCES}

    def list(self, resource: str) -> list[Item]:
        with self._lock:
            return list(self._items[resource].values())

    def add(self, resource: str, name: str, owner: str) -> Item:
        with self._lock:
            item = Item(id=next(self._ids), name=name, created_by=owner)
            self._items[resource][item.id] = item
            return item

    def delete(self, resource: str, item_id: int) -> bool:
        with self._lock:
            return self._items[resource].pop(item_id, None) is not None


def create_app(store: tokenkeep.TokenStore | None = None) -> fastapi.FastAPI:
    """The API over ``store``; without one, it opens ``$TOKENKEEP_DB`` at startup."""
    state: dict[str, tokenkeep.TokenStore] = {}
    if store is not None:
        state["store"] = store

    @asynccontextmanager
    async def lifespan(app: fastapi.FastAPI):
        opened = "store" not in state
        if opened:
            state["store"] = tokenkeep.TokenStore()  # $TOKENKEEP_DB or the default path
        yield
        if opened:
            state.pop("store").close()

    app = fastapi.FastAPI(
        title="edge_api", summary="Device management, guarded by tokenkeep", lifespan=lifespan
    )
    app.state.inventory = inventory = Inventory()
    # With a store at hand, unknown scope names fail here; otherwise at the first request.
    guard = TokenGuard(state["store"] if store is not None else (lambda: state["store"]), app=app)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    def add_resource(resource: str, scope: str) -> None:
        Reader = Annotated[tokenkeep.TokenInfo, fastapi.Depends(guard.require(f"{scope}:read"))]
        Writer = Annotated[tokenkeep.TokenInfo, fastapi.Depends(guard.require(f"{scope}:write"))]

        @app.get(f"/api/{resource}", name=f"list_{resource}")
        async def list_items(token: Reader) -> list[Item]:
            return inventory.list(resource)

        @app.post(
            f"/api/{resource}",
            status_code=201,
            name=f"add_{resource}",
            openapi_extra={
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": NewItem.model_json_schema()}},
                }
            },
        )
        async def add_item(request: fastapi.Request, token: Writer) -> Item:
            # The body is read after the guard ran: FastAPI parses declared body parameters
            # before any dependency, so an anonymous caller would get a 422 describing the
            # schema instead of the 401 that RFC 6750 asks for.
            try:
                new = NewItem.model_validate_json(await request.body())
            except pydantic.ValidationError as e:
                raise fastapi.HTTPException(
                    422, detail=e.errors(include_url=False, include_input=False)
                ) from None
            return inventory.add(resource, new.name, token.owner)

        @app.delete(f"/api/{resource}/{{item_id}}", status_code=204, name=f"delete_{resource}")
        async def delete_item(item_id: int, token: Writer) -> None:
            if not inventory.delete(resource, item_id):
                raise fastapi.HTTPException(404, detail="no such item")

    for resource, scope in RESOURCES.items():
        add_resource(resource, scope)
    return app


app = create_app()
