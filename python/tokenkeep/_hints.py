"""What to tell a caller whose token argument is shaped wrong; only ever on a failure path.

The native ``verify`` calls :func:`note_token` after an InvalidToken, and only for an
argument that is not text or that starts with ``b``/``B`` or whitespace. A hint says how the
argument is wrong, never what it holds: no part of a secret is ever in a hint.
"""

from __future__ import annotations


def token_hint(token: object) -> str | None:
    """Why ``token`` cannot be a token as given, or None when it looks like one."""
    if hasattr(token, "secret") and hasattr(token, "info"):
        return "pass the IssuedToken's .secret (a str), not the IssuedToken itself"
    if isinstance(token, (bytes, bytearray)):
        try:
            token = bytes(token).decode("ascii")
        except UnicodeDecodeError:
            return None
    if not isinstance(token, str):
        return f"a token is a str (or bytes), not {type(token).__name__}"
    stripped = token.strip()
    if stripped[:7].lower() == "bearer ":
        return "pass the token alone, without the 'Bearer ' prefix of an Authorization header"
    if stripped != token:
        return "the token has surrounding whitespace; strip it first (token.strip())"
    if len(stripped) > 1 and stripped[0] in "\"'" and stripped[-1] == stripped[0]:
        return "the token is in quotes; pass it without them"
    if any(c.isspace() for c in stripped):
        return (
            "the token has whitespace inside it (a line break from copying?); join it into one word"
        )
    return None


def note_token(error: BaseException, token: object) -> None:
    """Attach :func:`token_hint` to ``error`` as ``error.hint`` and as a note (shown under the
    traceback); ``str(error)`` stays the one message of every invalid token."""
    hint = token_hint(token)
    if hint is None:
        return
    error.hint = hint  # type: ignore[attr-defined]
    add_note = getattr(error, "add_note", None)  # Python 3.11+
    if add_note is not None:
        add_note(f"hint: {hint}")
    else:
        error.__notes__ = [f"hint: {hint}"]
