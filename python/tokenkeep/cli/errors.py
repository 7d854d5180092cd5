"""Every error of a run becomes one line on stderr and an exit code (:mod:`.exit_codes`).

No secret is echoed: click quotes argv in its messages, so anything shaped like a secret is
hidden before printing.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from ..errors import NameTaken, NotFound, StoreError, TokenkeepError
from .secrets_file import hide_secrets


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def fail(message: str, code: int) -> NoReturn:
    click.echo(f"tokenkeep: error: {hide_secrets(one_line(message))}", err=True)
    sys.exit(code)


def error_message(e: TokenkeepError) -> str:
    message = str(e) or type(e).__name__
    if isinstance(e, StoreError):
        return f"{message} (check --db or TOKENKEEP_DB)"
    if isinstance(e, NameTaken):
        return f"{message}; choose another name or revoke the old token"
    if isinstance(e, NotFound):
        return f"{message}; run 'tokenkeep list' to see your tokens"
    return message
