"""What protects the Access Token page, apart from its routes: host filtering (DNS
rebinding), security headers (a strict Content-Security-Policy, no-store on every page),
signed double-submit CSRF tokens and the same-origin check on posted forms.

Framework-free except :class:`SecurityMiddleware`, a plain ASGI middleware: :class:`Csrf` and
:func:`same_origin` take strings and header mappings, so another framework's page (the
Django helper) can reuse them.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from typing import (
    Any,
)

__all__ = [
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "SECURITY_HEADERS",
    "NO_STORE",
    "Csrf",
    "same_origin",
    "host_parse",
    "SecurityMiddleware",
]

CSRF_COOKIE = "tokenkeep_csrf"
CSRF_FIELD = "csrf_token"

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
NO_STORE: dict[str, str] = {"Cache-Control": "no-store, max-age=0", "Pragma": "no-cache"}


class Csrf:
    """Signed double-submit tokens: the form field is an HMAC of the cookie's random value and
    the user's name under a key derived from the store's pepper (``TokenStore._subkey``), so
    every worker process and every restart agrees on it. A form from another site has
    neither; a form for another user does not match."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("a CSRF key is 32 bytes")
        self._key = key

    @staticmethod
    def new_cookie() -> str:
        return secrets.token_urlsafe(32)

    @staticmethod
    def cookie_usable(cookie: str | None) -> bool:
        """False for a missing or oversized cookie: the page then sets a fresh one."""
        return bool(cookie) and len(cookie or "") <= 100

    def token(self, cookie: str, user: str) -> str:
        msg = f"{len(user)}:{user}:{cookie}".encode()
        return hmac.new(self._key, msg, hashlib.sha256).hexdigest()

    def valid(self, cookie: str | None, user: str, sent: object | None) -> bool:
        if not cookie or not sent or not isinstance(sent, str):
            return False
        return hmac.compare_digest(self.token(cookie, user), sent)


# RFC 3986 reg-name as a Host header spells a DNS name or IPv4 address: letters, digits, '-',
# '.', '_' (no userinfo, no percent-escapes, no sub-delims), then an optional ":port".
_REG_NAME = re.compile(r"[A-Za-z0-9._-]{1,253}")
_PORT = re.compile(r"[0-9]{1,5}")


def host_parse(value: str) -> tuple[str, int | None] | None:
    """``(host, port)`` of a ``Host`` header (RFC 7230 5.4: RFC 3986 ``host [":" port]``), the
    host lower-cased and an IPv6 literal kept in brackets (``"[::1]"``); None for anything
    else: userinfo (``127.0.0.1:1@evil.com``), a path, blanks, an empty or out-of-range port,
    a malformed IPv6 literal."""
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        try:
            address = ipaddress.IPv6Address(value[1:end])
        except ValueError:
            return None
        host, rest = f"[{address.compressed}]", value[end + 1 :]
    else:
        host, sep, port_text = value.partition(":")
        if not _REG_NAME.fullmatch(host):
            return None
        rest = sep + port_text
    if not rest:
        return host.lower(), None
    if rest[0] != ":" or not _PORT.fullmatch(rest[1:]) or int(rest[1:]) > 65535:
        return None
    return host.lower(), int(rest[1:])


def same_origin(headers: Mapping[str, str]) -> bool:
    """False for a request a browser marks as coming from another site (Fetch Metadata), or
    whose Origin header names another host. ``headers``: lower-case names."""
    site = headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = headers.get("origin")
    if origin is None or (origin == "null" and site is not None):
        return True  # "null": a privacy-minded browser hid it; Sec-Fetch-Site vouched above
    host = headers.get("host", "")
    return origin.split("://", 1)[-1].rstrip("/") == host


ASGIApp = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]


class SecurityMiddleware:
    """ASGI middleware: refuses a ``Host`` outside ``allowed_hosts`` (None: any) with 400, and
    adds :data:`SECURITY_HEADERS` to every response and :data:`NO_STORE` to every one but the
    static files (under ``<mount>/static/``)."""

    def __init__(self, app: ASGIApp, allowed_hosts: Iterable[str] | None = None) -> None:
        self.app = app
        self.hosts = None if allowed_hosts is None else {h.lower() for h in allowed_hosts}
        self._always: list[tuple[bytes, bytes]] = [
            (k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()
        ]
        self._no_store: list[tuple[bytes, bytes]] = [
            (k.lower().encode(), v.encode()) for k, v in NO_STORE.items()
        ]

    def host_allowed(self, host: str) -> bool:
        """True with ``allowed_hosts=None``; else for a well-formed ``Host`` (:func:`host_parse`)
        whose host, with or without its port, is allowed."""
        if self.hosts is None:
            return True
        parsed = host_parse(host)
        if parsed is None:
            return False
        name = parsed[0]
        return host.lower() in self.hosts or name in self.hosts or name.strip("[]") in self.hosts

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = ""
        for name, value in scope.get("headers", ()):
            if name == b"host":
                host = value.decode("latin-1")
                break
        if not self.host_allowed(host):
            await _plain(send, 400, b"Invalid host", self._always + self._no_store)
            return
        base = scope.get("root_path", "").rstrip("/")
        static = scope.get("path", "").startswith(
            base + "/static/"
        )  # before routing changes root_path
        extra = self._always if static else self._always + self._no_store

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                names = {k for k, _ in extra}
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() not in names]
                message = dict(message, headers=headers + extra)
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _plain(send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ]
            + headers,
        }
    )
    await send({"type": "http.response.body", "body": body})
