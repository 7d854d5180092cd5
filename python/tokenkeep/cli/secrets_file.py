"""Secrets on their way out and in: the 0600 secrets file of ``create --secrets-out``, the
token read by ``verify`` (stdin or ``TOKENKEEP_TOKEN``, never argv), and the shape of a
secret, so one pasted where an id belongs is refused and never echoed."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Sequence
from typing import IO

import click

from ..models import IssuedToken
from .exit_codes import EXIT_ERROR, EXIT_USAGE, CliError
from .output import issued_json

_MAX_TOKEN_INPUT = 4096
SECRET_LIKE = re.compile(r"[a-z0-9]{1,16}_[A-Za-z0-9]{40,}")


def looks_like_secret(text: str) -> bool:
    return bool(SECRET_LIKE.fullmatch(text.strip()))


def hide_secrets(text: str) -> str:
    """``text`` with anything shaped like a secret replaced (click quotes argv in messages)."""
    return SECRET_LIKE.sub("<secret hidden>", text)


def open_secrets_file(path: str) -> IO[str]:
    """A new file readable only by its owner (0600); an existing file is never overwritten."""
    try:
        fd = os.open(
            path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600
        )
    except FileExistsError:
        raise CliError(
            f"{path} already exists; give --secrets-out a new file (secrets are never "
            "written over an existing file)",
            EXIT_USAGE,
        ) from None
    except OSError as e:
        raise CliError(f"cannot create {path}: {e.strerror}", EXIT_ERROR) from None
    os.fchmod(fd, 0o600)
    return open(fd, "w", encoding="utf-8", newline="\n")


def write_secrets(out: IO[str], issued: Sequence[IssuedToken]) -> None:
    for t in issued:
        out.write(json.dumps(issued_json(t), ensure_ascii=False))
        out.write("\n")


def read_token() -> str:
    secret = os.environ.get("TOKENKEEP_TOKEN", "")
    if not secret.strip():
        stdin = sys.stdin
        if stdin is None:
            secret = ""
        elif stdin.isatty():
            secret = click.prompt(
                "Token", hide_input=True, err=True, default="", show_default=False
            )
        else:
            secret = stdin.read(_MAX_TOKEN_INPUT)
    secret = secret.strip()
    if not secret:
        raise CliError(
            "no token given: pipe it on stdin or set TOKENKEEP_TOKEN (never pass it as an "
            "argument)",
            EXIT_USAGE,
        )
    return secret
