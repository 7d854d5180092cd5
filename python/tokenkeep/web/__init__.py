"""Web surfaces of tokenkeep: the RFC 6750 bearer checks behind the FastAPI and Flask guards
(:mod:`tokenkeep.web.bearer`), and the Access Token admin page (:mod:`tokenkeep.web.admin`).

The admin page needs the ``web`` extra (FastAPI, Jinja2, uvicorn, python-multipart); it is
imported only when asked for, so the guards do not pull it in.

>>> from tokenkeep.web import create_app, serve
>>> serve("tokens.db", user="alice")          # http://127.0.0.1:8000/  # doctest: +SKIP
"""

from typing import Any

__all__ = ["create_app", "serve"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import admin

        return getattr(admin, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
