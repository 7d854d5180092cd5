"""Argument checks shared by :class:`TokenStore`'s modules: the accepted shapes of scopes,
owners, names and vocabularies, Unicode NFC for names, and the one NotFound message of a
token looked up by owner and id. Types only and text rules; the engine checks the values."""

from __future__ import annotations

import ipaddress
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from . import _core
from .errors import InvalidArgument, NotFound, with_field
from .service_tokens import owner_checked

Scopes = str | Iterable[str]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Vocabulary = Iterable[str] | Mapping[str, Iterable[str]]


def _scope_list(scopes: Scopes, what: str = "scopes") -> list[str]:
    if isinstance(scopes, str):
        return [scopes]
    try:
        out = list(scopes)
    except TypeError:
        raise with_field(
            InvalidArgument(f"{what} must be a string or an iterable of strings"), what
        ) from None
    for s in out:
        _text(s, what)
    return out


def _invalid(message: str, field: str) -> InvalidArgument:
    return with_field(InvalidArgument(message), field)


def _text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise _invalid(f"{what} must be a string", what.replace(" ", "_"))
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, e.g. from an undecodable argv or file name
        raise with_field(InvalidArgument(f"{what} must be valid Unicode text"), what) from None
    return value


def _owner(owner: object) -> str:
    """A user's owner name: text, and not in the namespace reserved for service tokens."""
    return _text(owner_checked(owner), "owner")


def _shown(text: str) -> str:
    """``text`` quoted for a message: control and invisible characters escaped, long cut."""
    text = text if len(text) <= 64 else text[:64] + "..."
    return "'" + "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text) + "'"


def _not_found(owner: str, token_id: str) -> NotFound:
    """NotFound naming what was looked for. An id is public and shown; anything else (it
    might be a pasted secret) is not."""
    what = (
        f"id {_shown(token_id)}"
        if _core.token_id_valid(token_id)
        else "that id (not a token id; use TokenInfo.id)"
    )
    return with_field(
        NotFound(
            f"no live token with {what} for owner {_shown(owner)} (revoked and other owners' tokens are not found)"
        ),
        "token_id",
    )


def _nfc(name: str) -> str:
    """Names are compared in Unicode NFC, so composed and decomposed spellings are one name."""
    return name if name.isascii() else unicodedata.normalize("NFC", name)


def _names_nfc(items: Sequence[Any]) -> Sequence[Any]:
    """The items with NFC names; the same object when every name already is (the usual case)."""
    out = None
    for i, item in enumerate(items):
        if (
            isinstance(item, (tuple, list))
            and item
            and isinstance(item[0], str)
            and not item[0].isascii()
        ):
            name = unicodedata.normalize("NFC", item[0])
            if name != item[0]:
                if out is None:
                    out = list(items)
                out[i] = (name, *item[1:])
    return items if out is None else out


def _vocabulary(v: Vocabulary | None) -> list[tuple[str, list[str]]] | None:
    if v is None:
        return None
    if isinstance(v, Mapping):
        return [(_text(k, "scope name"), _scope_list(a, "actions")) for k, a in v.items()]
    out = []
    for item in _scope_list(v, "vocabulary"):
        name, _, actions = item.partition(":")
        out.append((name, actions.split(",") if actions else ["read", "write"]))
    return out
