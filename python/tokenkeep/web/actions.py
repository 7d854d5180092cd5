"""The Access Token page's actions, framework-free: what showing the page and each posted form
(create, edit, revoke, regenerate) does with the store, and what the answer is.

Each function takes the store, the signed-in owner and the request's query or form (any
mapping with ``get``, and ``getlist`` for forms: Starlette's ``FormData``, Django's
``QueryDict``) and returns an :class:`Answer`: the page to render (``status``, the listing
``params`` and the ``state`` for :func:`tokenkeep.web.view.token_page`), or a redirect back to
the listing (``redirect``: its query parameters). ``tokenkeep serve`` (``admin.py``) and the
Django page (``tokenkeep.django.page``) only read the request, check who is signed in and
CSRF, and turn the Answer into their framework's response.

>>> answer = actions.create(store, "alice", {"name": "ci", "scopes": ["device"], "expiry": "30"})
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..client_networks import split_networks
from ..errors import InvalidArgument, NameTaken, NotFound, TokenkeepError, UnknownScope
from ..store import TokenStore
from . import view

__all__ = ["Answer", "LISTING_PARAMS", "back", "create", "edit", "revoke", "rotate", "shown"]

log = logging.getLogger("tokenkeep.web")

LISTING_PARAMS = ("view", "q", "scope", "sort", "dir", "page")
# The query parameters the page reads: the listing, and a row whose dialog opens without JS.
SHOWN_PARAMS = LISTING_PARAMS + (
    "edit",
    "revoke",
    "rotate",
    "narrow",
    "restrict",
    "create",
    "revoke_all",
)
REVOKED_AFTER = "Anything using it can no longer sign in."
REVOKED = "The access token was revoked. " + REVOKED_AFTER
GONE = "That access token no longer exists."
NETWORKS_FIELD_MAX = 20_000  # characters of the "Restrict to networks" field read


@dataclass
class Answer:
    """The page to render (``status``, ``params``, ``state``) or, when ``redirect`` is set, a
    303 to the page with those query parameters."""

    status: int = 200
    params: dict[str, str] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    redirect: dict[str, str] | None = None


def _getlist(data: Any, key: str) -> list:
    getlist = getattr(data, "getlist", None)
    if getlist is not None:
        return list(getlist(key))
    value = data.get(key, [])
    return list(value) if isinstance(value, (list, tuple)) else [value]


def back(data: Mapping[str, Any]) -> dict[str, str]:
    """The listing a form was posted from (its hidden ``back_*`` fields), to return to it."""
    sent = {k: str(data.get("back_" + k, "")) for k in LISTING_PARAMS if data.get("back_" + k)}
    return view.listing_from(sent).params()


def shown(store: TokenStore, owner: str, query: Mapping[str, Any]) -> Answer:
    """``GET`` of the page: the listing the query asks for, and the banner or dialog that a
    redirect after an edit (``updated=<id>``) or a revoke (``revoked=<id>``) asks for."""
    params = {k: str(query.get(k)) for k in SHOWN_PARAMS if query.get(k) is not None}
    updated = None
    if query.get("updated"):
        try:
            updated = store.get(owner=owner, token_id=str(query.get("updated")))
        except (NotFound, InvalidArgument):
            updated = None
    notice = (
        _revoked_notice(store, owner, str(query.get("revoked"))) if query.get("revoked") else ""
    )
    if query.get("revoked_all"):
        from .revoke_all import revoked_all_notice  # (it builds on this module)

        notice = revoked_all_notice(store, owner, str(query.get("revoked_all")))
    return Answer(params=params, state={"updated": updated, "notice": notice})


def _revoked_notice(store: TokenStore, owner: str, token_id: str) -> str:
    """The banner after a revoke (``revoked=<id>``), naming the token: the name comes from the
    owner's own audit log, never from the URL, so a link cannot make the page say anything."""
    for event in store.audit(owner, limit=50):
        if event.action == "revoke" and event.token_id == token_id:
            return f"The access token \u201c{event.name}\u201d was revoked. " + REVOKED_AFTER
    return REVOKED


def create(store: TokenStore, owner: str, data: Mapping[str, Any]) -> Answer:
    """The create form: the secret shown once, or the form again with every error."""
    params = back(data)
    form = view.Form(
        kind="create",
        name=str(data.get("name", ""))[:1000],
        description=str(data.get("description", ""))[:1000],
        scopes=view.scopes_from(_getlist(data, "scopes")),
        expiry=str(data.get("expiry", view.DEFAULT_EXPIRY)),
        expires_on=str(data.get("expires_on", "")),
        networks=str(data.get("networks", ""))[:NETWORKS_FIELD_MAX],
    )
    expiry, expiry_error = view.expiry_from(form.expiry, form.expires_on)
    networks = split_networks(form.networks)
    form.errors = view.form_errors(
        store.create_problems(
            owner,
            form.name,
            form.scopes,
            description=form.description,
            networks=networks,
            **expiry,
        )
    )
    if expiry_error:
        form.errors["expiry"] = expiry_error
    status = 400
    if not form.errors:
        try:
            issued = store.create(
                owner=owner,
                name=form.name,
                scopes=form.scopes,
                description=form.description,
                networks=networks,
                actor=owner,
                **expiry,
            )
        except NameTaken:
            name = form.name.strip()
            form.errors["name"] = (
                f"You already have an access token named “{name}”. Choose another name."
            )
            status = 409
        except TokenkeepError as e:
            form.errors = view.form_errors([e])
        else:
            log.info("access token created: owner=%s id=%s", owner, issued.info.id)
            return Answer(params=params, state={"created": (issued.info, issued.secret)})
    return Answer(status, params, {"form": form})


def edit(store: TokenStore, owner: str, token_id: str, data: Mapping[str, Any]) -> Answer:
    """The edit form (scopes, and networks when the form has the field): back to the listing
    with the "updated" dialog. Both are checked by the engine (``create_problems``, every
    error by its ``field``) before anything is saved, so a form that comes back with an error
    has changed nothing; networks are saved only when they changed."""
    params = back(data)
    form = view.Form(
        kind="edit",
        token_id=token_id,
        scopes=view.scopes_from(_getlist(data, "scopes")),
        networks=str(data.get("networks", ""))[:NETWORKS_FIELD_MAX],
    )
    try:
        old = store.get(owner, token_id)
    except (NotFound, InvalidArgument):
        return Answer(404, params, {"error": GONE})
    wanted = split_networks(form.networks) if "networks" in data else sorted(old.networks)
    problems = [
        p
        for p in store.create_problems(owner, old.name, form.scopes, networks=wanted)
        if p.field in ("scopes", "networks") or isinstance(p, UnknownScope)
    ]
    if problems:
        form.errors = view.form_errors(problems)
        return Answer(400, params, {"form": form})
    try:
        if set(wanted) != set(old.networks):
            store.update_networks(owner, token_id, wanted, actor=owner)
            log.info("access token networks changed: owner=%s id=%s", owner, token_id)
        store.update_scopes(owner=owner, token_id=token_id, scopes=form.scopes, actor=owner)
    except NotFound:
        return Answer(404, params, {"error": GONE})
    except TokenkeepError as e:
        form.errors = view.form_errors([e])
        return Answer(400, params, {"form": form})
    log.info("access token scopes changed: owner=%s id=%s", owner, token_id)
    return Answer(redirect={**params, "updated": token_id})


def revoke(store: TokenStore, owner: str, token_id: str, data: Mapping[str, Any]) -> Answer:
    """The revoke confirmation: back to the listing with the "revoked" notice."""
    params = back(data)
    try:
        store.revoke(owner=owner, token_id=token_id, actor=owner)
    except (NotFound, InvalidArgument):
        return Answer(404, params, {"error": GONE})
    log.info("access token revoked: owner=%s id=%s", owner, token_id)
    return Answer(redirect={**params, "revoked": token_id})


def rotate(store: TokenStore, owner: str, token_id: str, data: Mapping[str, Any]) -> Answer:
    """Regenerate: the new secret shown once (same name and scopes, a new id); ``expiry`` is
    "keep" (the current date) or one of the page's lifetimes from now."""
    params = back(data)
    choice = str(data.get("expiry", "keep"))
    expiry, expiry_error = ({}, "") if choice == "keep" else view.expiry_from(choice, "")
    if expiry_error:
        return Answer(400, params, {"error": expiry_error})
    try:
        issued = store.rotate(owner=owner, token_id=token_id, actor=owner, **expiry)
    except NotFound:
        return Answer(404, params, {"error": GONE})
    except TokenkeepError as e:
        return Answer(400, params, {"error": view.sentence(str(e))})
    log.info("access token regenerated: owner=%s old=%s id=%s", owner, token_id, issued.info.id)
    return Answer(
        params=params, state={"created": (issued.info, issued.secret), "regenerated": True}
    )
