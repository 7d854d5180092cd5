"""What the shell completes beyond commands and options (which click knows): scopes from the
store's own vocabulary and the owner's token names, read when the user presses Tab.

These run inside ``tokenkeep`` started by the completion script (click's
``_TOKENKEEP_COMPLETE`` protocol), with the global options already parsed. They never fail
loudly: no database yet, or an unreadable one, simply completes nothing.
"""

from __future__ import annotations

import os
from typing import Any

import click
from click.shell_completion import CompletionItem

from ..store import TokenStore, store_location_kind
from .context import App


def _store(ctx: click.Context) -> TokenStore | None:
    app = ctx.find_object(App) or App()
    if store_location_kind(app.db) == "file" and not os.path.exists(app.db):
        return None
    try:
        return TokenStore(app.db, read_only=True, cache_size=0)
    except Exception:  # completion must never print a traceback into the prompt
        return None


def complete_scopes(ctx: click.Context, param: Any, incomplete: str) -> list[CompletionItem]:
    """Every scope of the store's vocabulary (``device``, ``device:read``, ...)."""
    store = _store(ctx)
    if store is None:
        return []
    with store:
        vocabulary = store.vocabulary
    # "a,b" completes the part after the last comma.
    head, _, tail = incomplete.rpartition(",")
    prefix = head + "," if head else ""
    words = [
        w for name, actions in vocabulary.items() for w in (name, *(f"{name}:{a}" for a in actions))
    ]
    return [CompletionItem(prefix + w) for w in words if w.startswith(tail)]


def complete_tokens(ctx: click.Context, param: Any, incomplete: str) -> list[CompletionItem]:
    """The owner's live token names (ids are rarely typed from memory)."""
    store = _store(ctx)
    if store is None:
        return []
    app = ctx.find_object(App) or App()
    try:
        with store:
            names = [t.name for t in store.list(app.owner_opt or app.owner)]
    except Exception:
        return []
    return [CompletionItem(n) for n in names if n.startswith(incomplete) and n.isprintable()]


def scope_option(help: str, **extra):
    """The repeatable ``--scope/-s`` option every command spells the same way (completion of
    the store's scopes included); ``help`` says what the scopes mean for this command."""
    return click.option(
        "--scope",
        "-s",
        "scopes",
        metavar="SCOPE",
        shell_complete=complete_scopes,
        multiple=True,
        help=help,
        **extra,
    )
