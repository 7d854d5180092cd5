"""Every error of a run becomes one report on stderr and an exit code (:mod:`.exit_codes`).

As text: one line, ``tokenkeep: error: MESSAGE``. With ``--json``: one JSON object,
``{"error": {"code": CODE, "message": MESSAGE, "field": FLAG-or-null}}``, CODE being the
name of the exit code (:data:`.exit_codes.EXIT_NAMES`). An error's ``.field`` (the API
argument it is about) is shown as the command-line flag that sets it, so a message says
``--expires-at``, never ``expires_at``. No secret is echoed: click quotes argv in its
messages, so anything shaped like a secret is hidden before printing.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from typing import Any, NoReturn

import click

from ..errors import InsufficientScope, NameTaken, NotFound, StoreError, TokenkeepError
from .exit_codes import EXIT_NAMES
from .secrets_file import hide_secrets

# API argument (an error's .field) -> the flag or argument that sets it on the command line.
FLAGS: Mapping[str, str] = {
    "name": "--name",
    "description": "--description",
    "scopes": "--scope",
    "expires_in": "--expires-in",
    "expires_at": "--expires-at",
    "owner": "--owner",
    "path": "--db",
    "within": "--within",
    "older_than": "--older-than",
    "limit": "--limit",
    "offset": "--offset",
    "search": "--search",
    "scope": "--scope",
    "state": "--state",
    "sort": "--sort",
    "token_id": "TOKEN",
    "networks": "--allow-from",
}


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def with_flags(message: str, field: str | None, names: Mapping[str, str] = FLAGS) -> str:
    """``message`` with the API argument ``field`` spelt as ``names`` does (a flag by default).

    Where the message names the argument as an identifier (``expires_at must be ...``), that
    becomes the flag (``--expires-at must be ...``); where it does not, the flag is added at
    the end, ``at least one scope is required (--scope)``.
    """
    name = names.get(field or "")
    if name is None or name in message:
        return message
    identifier = re.compile(rf"(?<![\w-]){re.escape(field or '')}(?![\w-])")
    if message.startswith(f"{field} ") or ("_" in (field or "") and identifier.search(message)):
        return identifier.sub(name, message)
    if message.startswith("unknown scope"):  # names the scope already, and says what is known
        return message
    return f"{message} ({name})"


def error_message(e: TokenkeepError, names: Mapping[str, str] = FLAGS) -> str:
    """The message for a tokenkeep error, with what to do next where there is something."""
    message = with_flags(str(e) or type(e).__name__, e.field, names)
    if isinstance(e, StoreError):
        return f"{message} (check --db or TOKENKEEP_DB)"
    if isinstance(e, NameTaken):
        return f"{message}; choose another name or revoke the old token"
    if isinstance(e, NotFound):
        return f"{message}; run 'tokenkeep list' to see your tokens"
    return message


def error_object(
    message: str, code: int, field: str | None, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "code": EXIT_NAMES.get(code, "error"),
        "message": message,
        "field": field,
    }
    obj.update(extra or {})
    return {"error": obj}


def fail(
    message: str,
    code: int,
    *,
    as_json: bool = False,
    field: str | None = None,
    error: BaseException | None = None,
) -> NoReturn:
    """Report one error on stderr (text or JSON) and exit with ``code``."""
    message = hide_secrets(one_line(message))
    if as_json:
        flag = FLAGS.get(field, field) if field else None
        extra = None
        if isinstance(error, InsufficientScope):
            extra = {"required": sorted(error.required), "granted": sorted(error.granted)}
        click.echo(
            json.dumps(error_object(message, code, flag, extra), ensure_ascii=False), err=True
        )
    else:
        click.echo(f"tokenkeep: error: {message}", err=True)
    sys.exit(code)
