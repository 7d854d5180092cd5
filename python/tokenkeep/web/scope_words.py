"""What each scope grants, in words, next to its checkbox on the page (issue 22).

A deployment words its scopes with ``create_app(..., scope_descriptions={...})`` or Django's
``TOKENKEEP["SCOPE_DESCRIPTIONS"]``: keys are scopes of the store's vocabulary (``device`` or
``device:read``), values plain text (escaped when shown). A scope it does not word gets a
default generated from its name and actions: ``device`` (read, write) -> "Every action on
Device: read and write"; ``device:read`` -> "Read access to Device".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..errors import InvalidArgument

__all__ = ["scope_descriptions", "check_descriptions"]


def _label(name: str) -> str:
    return name.replace("_", " ").replace("-", " ").capitalize()


def _default(scope: str, actions: Sequence[str]) -> str:
    name, _, action = scope.partition(":")
    if action:
        return f"{action.replace('_', ' ').capitalize()} access to {_label(name)}"
    if not actions:
        return f"Full access to {_label(name)}"
    listed = [a.replace("_", " ") for a in actions]
    words = listed[0] if len(listed) == 1 else ", ".join(listed[:-1]) + " and " + listed[-1]
    return f"Every action on {_label(name)}: {words}"


def check_descriptions(
    vocabulary: Mapping[str, Sequence[str]], words: Mapping[str, str] | None
) -> dict[str, str]:
    """``words`` checked against the vocabulary: a scope it does not know, or a value that is
    not a non-empty string, raises :class:`InvalidArgument` (a typo is not silently ignored)."""
    if words is None:
        return {}
    if not isinstance(words, Mapping):
        raise InvalidArgument("scope_descriptions must map a scope to its description")
    known = set(vocabulary) | {f"{n}:{a}" for n, acts in vocabulary.items() for a in acts}
    out = {}
    for scope, text in words.items():
        if scope not in known:
            raise InvalidArgument(f"scope_descriptions names {scope!r}, not in the vocabulary")
        if not isinstance(text, str) or not text.strip():
            raise InvalidArgument(f"the description of {scope!r} must be a non-empty string")
        out[scope] = text.strip()
    return out


def scope_descriptions(
    vocabulary: Mapping[str, Sequence[str]], words: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Every scope of the vocabulary (names and name:action) -> what it grants, in words:
    the deployment's where it gave one, else the default."""
    chosen = check_descriptions(vocabulary, words)
    out = {}
    for name, actions in vocabulary.items():
        out[name] = chosen.get(name) or _default(name, actions)
        for action in actions:
            scope = f"{name}:{action}"
            out[scope] = chosen.get(scope) or _default(scope, actions)
    return out
