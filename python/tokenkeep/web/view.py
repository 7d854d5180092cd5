"""The Access Token page's view model, framework-free: what the templates in ``web/templates``
show, computed from a store, the signed-in owner and the request's query parameters.

:func:`token_page` returns a plain dict; a framework adds its own values (``urls``, the CSRF
field and token, ``title``, ``user``) and renders ``access_tokens.html``. The FastAPI page
(``admin.py``) does so, and another framework (Django) can do the same with these templates.
Every list is one page of a listing query answered by the database (``store.list(...)``):
50 rows, a count, search, a scope filter, the active or the inactive view, sortable columns.
Every input rule is the engine's: errors come back as tokenkeep errors, read by ``field``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from .._time import day_end
from ..client_networks import networks_text
from ..errors import InvalidArgument, TokenkeepError, UnknownScope
from ..models import TokenInfo, TokenList
from ..store import TokenStore
from . import hygiene_view, networks_view

__all__ = [
    "PAGE_SIZE",
    "Form",
    "Listing",
    "Row",
    "token_page",
    "listing_from",
    "form_errors",
    "expiry_from",
    "scopes_from",
    "TEMPLATE_FILTERS",
]

PAGE_SIZE = 50
SOON = timedelta(days=7)  # the most warning a token gets ...
SOON_FLOOR = timedelta(days=1)  # ... and the least: its last day always shows


def soon_window(lifetime: timedelta) -> timedelta:
    """How long before its expiry a token of this lifetime shows "Expires soon": the last
    quarter of its life, at least its last day, at most 7 days. A token created for 7 days is
    not "soon" at once (issue 22); one created for 90 days is, 7 days before."""
    return min(SOON, max(SOON_FLOOR, lifetime / 4))


EXPIRY_CHOICES: tuple[tuple[str, str], ...] = (
    ("7", "7 days"),
    ("30", "30 days"),
    ("60", "60 days"),
    ("90", "90 days"),
    ("365", "1 year"),
    ("custom", "Custom date…"),
)
DEFAULT_EXPIRY = "30"
# Offered only where the store's policy allows it (TokenStore.allows_never_expire).
NEVER_CHOICE = ("never", "No expiration")
# The sortable columns: (store sort word, heading). Scope is not sortable.
SORT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("name", "Token Name"),
    ("created", "Date of Creation"),
    ("expires", "Date of Expiration"),
    ("last_used", "Last Used"),
)
VIEWS = ("active", "inactive")
# Form controls, and the engine fields each one answers for.
FORM_FIELDS = {
    "name": ("name",),
    "description": ("description",),
    "scopes": ("scopes",),
    "expiry": ("expires_in", "expires_at", "never_expires", "expiry"),
    "networks": ("networks",),
}
# What the page calls an engine field that starts an engine message ("expires_at must be in
# the future" -> "The expiration date must be in the future."): the page never shows the API's
# argument names.
FIELD_LABELS = {
    "name": "the token name",
    "expires_at": "the expiration date",
    "expires_in": "the expiration",
}


# -- values the templates show ---------------------------------------------------------------


def scope_label(scope: str) -> str:
    """``device`` -> ``Device``; ``device:read`` -> ``Device (read)``."""
    name, _, action = scope.partition(":")
    label = name.replace("_", " ").replace("-", " ").capitalize()
    return f"{label} ({action})" if action else label


def scope_sort_key(scope: str) -> tuple[str, str]:
    name, _, action = scope.partition(":")
    return (name, action)


def fmt_date(dt: datetime | None) -> str:
    return "" if dt is None else f"{dt:%b} {dt.day}, {dt.year}"


def fmt_time(dt: datetime | None) -> str:
    return "" if dt is None else f"{dt:%H:%M} UTC"


def fmt_datetime(dt: datetime | None) -> str:
    return "" if dt is None else f"{fmt_date(dt)}, {fmt_time(dt)}"


TEMPLATE_FILTERS = {
    "networks": lambda networks: networks_text(networks).splitlines(),
    "scope_label": scope_label,
    "date": fmt_date,
    "time": fmt_time,
    "datetime": fmt_datetime,
}


def sentence(message: str) -> str:
    """An engine message as a sentence: ``a name must not be empty`` -> ``A name...empty.``"""
    message = message.strip()
    if not message:
        return "That value cannot be used."
    message = message[0].upper() + message[1:]
    return message if message.endswith(".") else message + "."


@dataclass
class Row:
    """A token as the table shows it. ``status``: "" (active), "soon" (in the last quarter
    of its lifetime, between 1 and 7 days: :func:`soon_window`), "expired" or "revoked"; only active rows have actions."""

    info: TokenInfo
    scopes: list[str]
    status: str
    days_left: int | None = None
    clients: list[Any] = field(default_factory=list)  # recent clients (web/networks_view.py)
    suggested: list[str] = field(default_factory=list)  # "Restrict to the networks it used"

    @property
    def editable(self) -> bool:
        return self.status in ("", "soon")


@dataclass
class Form:
    """What a create or edit form sent back, shown again with every error at once:
    ``errors`` maps a control ("name", "scopes", "expiry", or "" for the whole form) to its
    message."""

    kind: str = ""  # "create" or "edit"
    token_id: str = ""
    name: str = ""
    description: str = ""
    scopes: list[str] = field(default_factory=list)
    expiry: str = DEFAULT_EXPIRY
    expires_on: str = ""
    networks: str = ""  # the "Restrict to networks" field as typed (one per line)
    errors: dict[str, str] = field(default_factory=dict)


@dataclass
class Listing:
    """The listing the query string asks for; ``problems`` maps a parameter to why it was
    ignored (its default is used instead)."""

    view: str = "active"
    search: str = ""
    scope: str = ""
    sort: str = "created"
    descending: bool = True
    page: int = 1
    problems: dict[str, str] = field(default_factory=dict)

    def params(self, **changes: Any) -> dict[str, str]:
        """The query parameters of this listing (defaults left out), with ``changes``."""
        values = {
            "view": self.view,
            "q": self.search,
            "scope": self.scope,
            "sort": self.sort,
            "dir": "desc" if self.descending else "asc",
            "page": str(self.page),
        }
        values.update({k: str(v) for k, v in changes.items()})
        defaults = {
            "view": "active",
            "q": "",
            "scope": "",
            "sort": "created",
            "dir": "desc",
            "page": "1",
        }
        return {k: v for k, v in values.items() if v != defaults.get(k)}

    def query(self, **changes: Any) -> str:
        """``?...`` for this listing with ``changes`` ("" when every value is a default)."""
        params = self.params(**changes)
        return "?" + urlencode(params) if params else ""


def listing_from(params: Mapping[str, str]) -> Listing:
    """The listing asked for by query parameters ``view``, ``q``, ``scope``, ``sort``, ``dir``
    and ``page``. Values the store refuses are reported by :func:`token_page`."""
    out = Listing()
    out.view = "inactive" if params.get("view") == "inactive" else "active"
    out.search = str(params.get("q", "") or "")
    out.scope = str(params.get("scope", "") or "")
    out.sort = str(params.get("sort", "") or "created")
    out.descending = params.get("dir", "desc") != "asc"
    page = str(params.get("page", "1") or "1")
    out.page = int(page) if page.isdigit() and 0 < len(page) < 10 and int(page) > 0 else 1
    return out


def _rows(store: TokenStore, tokens: Iterable[TokenInfo], inactive: bool) -> list[Row]:
    now = store.now()
    out = []
    for info in tokens:
        status, days = "", None
        if info.expires_at is not None:
            if info.expires_at < now:
                status = "expired"
            else:
                days = (info.expires_at - now) // timedelta(days=1)
                if info.expires_at - now <= soon_window(info.expires_at - info.created_at):
                    status = "soon"
        if inactive and status != "expired":
            status = "revoked"
        out.append(Row(info, sorted(info.scopes, key=scope_sort_key), status, days))
    return out


def _own(tokens: TokenList, since: datetime | None) -> TokenList:
    """The page without tokens made before ``since`` (its total one less for each)."""
    if since is None:
        return tokens
    kept = [t for t in tokens if t.created_at >= since]
    if len(kept) == len(tokens):
        return tokens
    total = tokens.total - (len(tokens) - len(kept))
    return TokenList(kept, total=total, limit=tokens.limit, offset=tokens.offset)


def _list(store: TokenStore, owner: str, listing: Listing, page_size: int):
    """One page of the listing; a refused parameter is dropped (and reported), not fatal."""
    for _ in range(4):
        try:
            return store.list(
                owner,
                state=listing.view,
                search=listing.search or None,
                scope=listing.scope or None,
                sort=listing.sort,
                descending=listing.descending,
                limit=page_size,
                offset=(listing.page - 1) * page_size,
            )
        except (InvalidArgument, UnknownScope) as e:
            param = {"search": "q", "scope": "scope", "sort": "sort"}.get(e.field or "")
            if param is None:
                raise
            listing.problems[param] = sentence(str(e))
            if param == "q":
                listing.search = ""
            elif param == "scope":
                listing.scope = ""
            else:
                listing.sort = "created"
    raise InvalidArgument("the listing could not be read")


def scope_options(vocabulary: Mapping[str, Sequence[str]]) -> list[tuple[str, str]]:
    """(value, label) for the scope filter: each name, then each of its actions."""
    out = []
    for name, actions in sorted(vocabulary.items()):
        out.append((name, scope_label(name)))
        out.extend((f"{name}:{a}", scope_label(f"{name}:{a}")) for a in actions)
    return out


def token_page(
    store: TokenStore,
    owner: str,
    params: Mapping[str, str],
    *,
    form: Form | None = None,
    created: tuple[TokenInfo, str] | None = None,
    regenerated: bool = False,
    updated: TokenInfo | None = None,
    notice: str = "",
    error: str = "",
    page_size: int = PAGE_SIZE,
    since: datetime | None = None,
) -> dict[str, Any]:
    """Everything ``access_tokens.html`` shows except URLs and the CSRF token: one page of the
    owner's tokens for the listing in ``params`` (see :func:`listing_from`), the dialogs' state
    (``form`` coming back with errors, a ``created`` (info, secret) shown once, ``updated``),
    and a ``notice`` or ``error`` banner. ``params`` may also name a row whose edit, revoke or
    regenerate dialog opens without JavaScript (``edit``, ``revoke``, ``rotate`` = token id),
    and ``create=1`` the create dialog. ``since``: tokens created before it belong to an
    earlier account of the owner's name (a Django user's ``date_joined``) and are not shown."""
    listing = listing_from(params)
    tokens = _own(_list(store, owner, listing, page_size), since)
    pages = max(1, math.ceil(tokens.total / page_size))
    if listing.page > pages:  # past the end (tokens were revoked meanwhile): the last page
        listing.page = pages
        tokens = _own(_list(store, owner, listing, page_size), since)
    rows = _rows(store, tokens, listing.view == "inactive")
    first = (listing.page - 1) * page_size + 1 if rows else 0
    now = store.now()
    sort_links = {}
    for sort, heading in SORT_COLUMNS:
        active = listing.sort == sort
        # A new column starts newest/soonest/most recent first, a name column A to Z.
        descending = (not listing.descending) if active else sort != "name"
        sort_links[sort] = {
            "heading": heading,
            "href": listing.query(sort=sort, dir="desc" if descending else "asc", page=1),
            "aria": ("descending" if listing.descending else "ascending") if active else "none",
        }
    chosen: dict[str, Row | None] = {}
    for action in ("edit", "revoke", "rotate"):
        wanted = str(params.get(action, "") or "")
        match = next((r for r in rows if r.info.id == wanted and r.editable), None)
        if match is not None:
            chosen[action] = match
    if form is None and str(params.get("create", "")) == "1":
        form = Form(kind="create")  # ?create=1: the create dialog open, without JavaScript
    form = form or Form()
    if form.kind == "edit" and "edit" not in chosen:
        chosen["edit"] = next((r for r in rows if r.info.id == form.token_id), None) or _row_of(
            store, owner, form
        )
    lifetime = store.max_lifetime
    # The leak banner and the edit dialog's scope usage (hygiene_view.py).
    hints = hygiene_view.page_hints(store, owner, rows, chosen)
    edit, used = chosen.get("edit"), hints["edit_usage"]
    # Each row's recent clients, and the edit dialog's networks (web/networks_view.py).
    places = networks_view.page_networks(store, owner, rows, edit)
    if (
        edit is not None
        and not form.kind
        and str(params.get("narrow", "")) == "1"
        and used["narrow"]
    ):
        # ?edit=<id>&narrow=1 (the no-script "Narrow to what it used" link): the scopes the
        # token used, checked, still to be saved.
        form = Form(
            kind="edit",
            token_id=edit.info.id,
            scopes=list(used["used"]),
            networks=places["edit_networks"]["value"],
        )
    if edit is not None and not form.kind and str(params.get("restrict", "")) == "1":
        # ?edit=<id>&restrict=1 (the no-script "Restrict to the networks it used" link): the
        # suggested networks in the field, still to be saved.
        suggested = places["edit_networks"]["suggested"]
        form = Form(
            kind="edit",
            token_id=edit.info.id,
            scopes=list(edit.scopes),
            networks=suggested or places["edit_networks"]["value"],
        )
    return {
        **hints,
        **places,
        "rows": rows,
        "total": tokens.total,
        "listing": listing,
        "page": listing.page,
        "pages": pages,
        "first": first,
        "last": first + len(rows) - 1 if rows else 0,
        "prev_query": listing.query(page=listing.page - 1) if listing.page > 1 else "",
        "clear_query": Listing(
            view=listing.view, sort=listing.sort, descending=listing.descending
        ).query(),
        "next_query": listing.query(page=listing.page + 1) if listing.page < pages else "",
        "view_queries": {v: listing.query(view=v, page=1) for v in VIEWS},
        "sort_links": sort_links,
        "back": listing.query(),
        "chosen": chosen,
        "form": form,
        "created": created,
        "regenerated": regenerated,
        "updated": updated,
        "notice": notice,
        "error": error,
        "live_count": _live_count(store, owner, since),
        "revoke_all_open": str(params.get("revoke_all", "")) == "1",
        "vocabulary": sorted(store.vocabulary.items()),
        "scope_options": scope_options(store.vocabulary),
        "expiry_choices": expiry_choices(store),
        "default_expiry": DEFAULT_EXPIRY,
        "expiry_preview": fmt_date(now + timedelta(days=int(DEFAULT_EXPIRY))),
        "now_ms": int(now.timestamp() * 1000),
        "today": now.date().isoformat(),
        # A custom date means the end of that day (UTC): the last day that fits the cap.
        "last_day": (now + lifetime - timedelta(days=1)).date().isoformat()
        if lifetime is not None
        else "",
    }


def _live_count(store: TokenStore, owner: str, since: datetime | None) -> int:
    """How many tokens "Revoke all" would revoke (``web/revoke_all.py``, which builds on the
    actions, which build on this module: imported here, when called)."""
    from .revoke_all import live_count

    return live_count(store, owner, since)


def _row_of(store: TokenStore, owner: str, form: Form) -> Row | None:
    """The row an edit form was for, when it is not on the page shown."""
    try:
        info = store.get(owner, form.token_id)
    except TokenkeepError:
        return None
    return _rows(store, [info], False)[0]


# -- forms -------------------------------------------------------------------------------------


def scopes_from(values: Iterable[Any]) -> list[str]:
    """The selected scopes, with ``device:read`` dropped when ``device`` itself is selected."""
    chosen = {str(v) for v in values if str(v)}
    return sorted(
        (s for s in chosen if s.partition(":")[0] == s or s.partition(":")[0] not in chosen),
        key=scope_sort_key,
    )


def expiry_choices(store: TokenStore) -> tuple[tuple[str, str], ...]:
    """The expiry control's (value, label)s: "No expiration" only where the store allows it."""
    if not store.allows_never_expire:
        return EXPIRY_CHOICES
    return EXPIRY_CHOICES[:-1] + (NEVER_CHOICE,) + EXPIRY_CHOICES[-1:]


def expiry_from(choice: str, on: str) -> tuple[dict[str, Any], str]:
    """Keyword arguments for ``TokenStore.create`` from the page's expiry control, or why the
    control's value is not one it offers. "never" asks for ``never_expires``: the engine
    refuses it where the store does not allow it (a form it did not offer it in)."""
    if choice == NEVER_CHOICE[0]:
        return {"never_expires": True}, ""
    if choice == "custom":
        try:
            day = date.fromisoformat(on)
        except ValueError:
            return {}, "Choose an expiration date."
        return {"expires_at": day_end(day)}, ""
    if any(choice == value for value, _ in EXPIRY_CHOICES):
        return {"expires_in": timedelta(days=int(choice))}, ""
    return {}, "Choose when the token expires."


def form_errors(problems: Iterable[TokenkeepError]) -> dict[str, str]:
    """Engine errors by the form control they are about (its ``field``); "" for the rest."""
    out: dict[str, str] = {}
    for problem in problems:
        control = next((c for c, fields in FORM_FIELDS.items() if problem.field in fields), "")
        if isinstance(problem, UnknownScope):
            message = "One of the selected scopes does not exist."
        else:
            message = str(problem).strip()
            field_name = problem.field or ""
            if field_name in FIELD_LABELS and message.startswith(field_name + " "):
                message = FIELD_LABELS[field_name] + message[len(field_name) :]
            message = sentence(message)
        out.setdefault(control, message)
    return out
