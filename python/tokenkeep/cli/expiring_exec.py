"""`tokenkeep expiring --exec CMD`: act on each token that expires soon.

CMD is a shell command (``/bin/sh -c CMD``), run once per token, soonest first, with stdin
from /dev/null, stdout and stderr passed through, and the token's fields in its environment:

    TOKENKEEP_TOKEN_ID, TOKENKEEP_TOKEN_NAME, TOKENKEEP_TOKEN_OWNER,
    TOKENKEEP_TOKEN_SCOPES (space-separated, sorted), TOKENKEEP_TOKEN_CREATED_AT,
    TOKENKEEP_TOKEN_EXPIRES_AT, TOKENKEEP_TOKEN_LAST_USED_AT (ISO 8601 UTC; empty if never used),
    TOKENKEEP_TOKEN_EXPIRES_IN_SECONDS (whole seconds from now, never negative).

Never the secret: tokenkeep does not have it. Every token is tried even when a command fails;
the caller exits 0 when every command exited 0 (or no token expires), 1 otherwise, after one
line on stderr per failure.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime

from ..models import TokenInfo

__all__ = ["token_environment", "run_for_each"]

ENV_PREFIX = "TOKENKEEP_TOKEN_"


def _iso(when: datetime | None) -> str:
    return "" if when is None else when.isoformat()


def token_environment(t: TokenInfo, now: datetime) -> dict[str, str]:
    """The variables CMD sees for token ``t`` (names without the process's own environment)."""
    left = 0 if t.expires_at is None else max(0, int((t.expires_at - now).total_seconds()))
    fields = {
        "ID": t.id,
        "NAME": t.name,
        "OWNER": t.owner,
        "SCOPES": " ".join(sorted(t.scopes)),
        "CREATED_AT": _iso(t.created_at),
        "EXPIRES_AT": _iso(t.expires_at),
        "LAST_USED_AT": _iso(t.last_used_at),
        "EXPIRES_IN_SECONDS": str(left),
    }
    return {ENV_PREFIX + key: value for key, value in fields.items()}


def run_for_each(
    tokens: Sequence[TokenInfo], command: str, now: datetime | None = None
) -> list[tuple[TokenInfo, int]]:
    """Run ``command`` once per token; returns the tokens whose command failed, with its status
    (negative: killed by that signal)."""
    now = now or datetime.now(UTC)
    failed = []
    for t in tokens:
        env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
        env.update(token_environment(t, now))
        rc = subprocess.run(
            ["/bin/sh", "-c", command], env=env, stdin=subprocess.DEVNULL
        ).returncode
        if rc != 0:
            failed.append((t, rc))
    return failed
