"""Which scopes a request needs, by HTTP method: the rule behind HasScopes and require_token.

>>> rule = ScopeRule(("device:read",), POST="device:write")
>>> rule.for_method("GET"), rule.for_method("POST")
(('device:read',), ('device:write',))
>>> ScopeRule(GET="device:read").for_method("DELETE") is None   # no rule: refused
True

Positional scopes apply to every method; ``read=`` replaces them for the safe methods (GET,
HEAD, OPTIONS), ``write=`` for every other one; ``GET=``, ``POST=``, ``DELETE=``… replace
them for that method (HEAD falls back to GET's entry). The most specific entry wins, and
entries do not add up: ``ScopeRule(("device:read",), POST="device:write")`` lets a POST
through with ``device:write`` alone. A value is a scope, several separated by blanks, or a
sequence; an empty one (``DELETE=()``) explicitly lets any valid token through.

A method no entry covers is refused (``for_method`` is None, the guards answer 403): a rule
that names only ``GET=`` and ``POST=`` does not let a PUT or DELETE through. ``ScopeRule()``
with no entry at all is the explicit "any valid token, every method". Whether a token's
scopes grant them is the engine's decision (``TokenStore.verify``).
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence

from ..web.bearer import split_scopes

__all__ = ["ScopeRule", "SAFE_METHODS", "rules_in_use"]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_METHODS = SAFE_METHODS | {"POST", "PUT", "PATCH", "DELETE", "TRACE", "CONNECT"}

ScopeSpec = str | Sequence[str]


def _scopes(value: ScopeSpec, what: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return split_scopes((value,))
    if not isinstance(value, (list, tuple, set, frozenset)):
        raise TypeError(
            f"{what} must be a scope, a blank-separated string of them, or a sequence of them"
        )
    return split_scopes(tuple(value))


class ScopeRule:
    """The scopes each HTTP method requires (see the module docstring)."""

    __slots__ = ("default", "read", "write", "methods", "where", "__weakref__")

    def __init__(
        self,
        scopes: Sequence[str] = (),
        read: ScopeSpec | None = None,
        write: ScopeSpec | None = None,
        **methods: ScopeSpec,
    ) -> None:
        self.default = split_scopes(tuple(scopes))
        self.read = None if read is None else _scopes(read, "read")
        self.write = None if write is None else _scopes(write, "write")
        self.methods: dict[str, tuple[str, ...]] = {}
        for method, value in methods.items():
            if method not in _METHODS:
                raise TypeError(
                    f"unknown keyword {method!r}: use read=, write= or an HTTP method in capitals "
                    f"({', '.join(sorted(_METHODS))})"
                )
            self.methods[method] = _scopes(value, method)
        self.where = ""  # who uses it, for the system check's message
        _RULES.add(self)

    def for_method(self, method: str) -> tuple[str, ...] | None:
        """The scopes a request with this HTTP method needs (empty: any valid token), or None
        when no entry covers the method (the request is then refused)."""
        method = method.upper()
        found = self.methods.get(method)
        if found is None and method == "HEAD":
            found = self.methods.get("GET")
        if found is not None:
            return found
        if method in SAFE_METHODS:
            if self.read is not None:
                return self.read
        elif self.write is not None:
            return self.write
        if self.default or self.is_open():
            return self.default
        return None

    def is_open(self) -> bool:
        """True for the rule with no entry at all: any valid token, every method."""
        return not (self.default or self.methods) and self.read is None and self.write is None

    def unguarded_unsafe_methods(self) -> tuple[str, ...]:
        """The unsafe methods (POST, PUT, PATCH, DELETE) that an explicit empty entry lets
        through with any valid token, for the system check (empty for an open rule)."""
        if self.is_open():
            return ()
        return tuple(m for m in ("POST", "PUT", "PATCH", "DELETE") if self.for_method(m) == ())

    def all_scopes(self) -> tuple[str, ...]:
        """Every scope named anywhere in the rule (for checking names against the vocabulary)."""
        out = list(self.default) + list(self.read or ()) + list(self.write or ())
        for scopes in self.methods.values():
            out.extend(scopes)
        return tuple(dict.fromkeys(out))

    def __repr__(self) -> str:
        parts = [repr(" ".join(self.default))] if self.default else []
        if self.read is not None:
            parts.append(f"read={' '.join(self.read)!r}")
        if self.write is not None:
            parts.append(f"write={' '.join(self.write)!r}")
        parts.extend(f"{m}={' '.join(s)!r}" for m, s in self.methods.items())
        return ", ".join(parts)


_RULES: weakref.WeakSet[ScopeRule] = weakref.WeakSet()


def rules_in_use() -> list[ScopeRule]:
    """Every rule made so far (HasScopes classes and require_token views alive), for the
    system check that names a scope the store's vocabulary does not know."""
    return list(_RULES)
