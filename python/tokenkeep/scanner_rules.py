"""Rules for secret scanners, so a CI pipeline can block a commit that contains a token.

A token of prefix ``tk`` is ``tk_`` and 60 base62 characters, not part of a longer run of
``[A-Za-z0-9_]``; its last 6 characters are a checksum (CRC-32 of everything before them), so
a scanner that can run code (the detect-secrets plugin) reports real tokens only, and one that
matches a pattern alone (gitleaks, trufflehog) reports anything of that shape. The rules are
the engine's (cpp/src/token_format.cc, token_scan); tests/python/test_scanner_rules.py holds
each rendering to the engine's own scan of the same text.

>>> print(render("tk", "regex").splitlines()[-1])
\\btk_[0-9A-Za-z]{60}\\b
"""

from __future__ import annotations

from . import _core
from .errors import InvalidArgument

__all__ = ["FORMATS", "CHECKSUM_RULE", "token_regex", "render"]

FORMATS = ("gitleaks", "trufflehog", "detect-secrets", "regex")

CHECKSUM_RULE = (
    "the last 6 characters are the CRC-32 (IEEE 802.3, as zlib.crc32) of everything before them, "
    "as 6 base62 digits (alphabet 0-9A-Za-z, most significant first); the 11 characters after "
    "the underscore are the token id, base62, between 1 and 2^63-1"
)


def token_regex(prefix: str) -> str:
    """The token pattern for ``prefix``: ASCII ``\\b`` is exactly "not glued to [A-Za-z0-9_]",
    in RE2 (gitleaks, trufflehog), PCRE, and Python's ``re`` with ``re.ASCII``."""
    return rf"\b{prefix}_[0-9A-Za-z]{{{_core.TOKEN_BODY_LENGTH}}}\b"


def _gitleaks(prefix: str) -> str:
    return f"""# gitleaks rule for tokenkeep tokens of prefix "{prefix}" (tokenkeep scanner-rules).
# Use: gitleaks detect --config this.toml (or [extend] it from your own configuration).
# The pattern alone cannot check the checksum: {CHECKSUM_RULE}.
[extend]
useDefault = true

[[rules]]
id = "tokenkeep-{prefix}"
description = "tokenkeep personal access token (prefix {prefix}); revoke: tokenkeep leak FILE"
regex = '''{token_regex(prefix)}'''
keywords = ["{prefix}_"]
tags = ["tokenkeep", "token"]
"""


def _trufflehog(prefix: str) -> str:
    return f"""# trufflehog custom detector, tokenkeep tokens of prefix "{prefix}" (tokenkeep scanner-rules).
# Use: trufflehog filesystem --config this.yaml PATH
# The pattern alone cannot check the checksum: {CHECKSUM_RULE}.
detectors:
  - name: tokenkeep-{prefix}
    keywords:
      - {prefix}_
    regex:
      token: '{token_regex(prefix)}'
"""


def _detect_secrets(prefix: str) -> str:
    body = _core.TOKEN_BODY_LENGTH
    return f'''"""detect-secrets plugin, tokenkeep tokens of prefix "{prefix}" (tokenkeep scanner-rules).

Use: detect-secrets scan --plugin this_file.py PATH (or detect-secrets-hook in pre-commit).
Reports only strings whose checksum is valid: {CHECKSUM_RULE}.
"""

import re
import zlib

from detect_secrets.plugins.base import RegexBasedDetector

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_PREFIX = "{prefix}_"


def _base62(text):
    value = 0
    for c in text:
        value = value * 62 + _ALPHABET.index(c)
    return value


def tokenkeep_token_valid(token):
    body = token[len(_PREFIX):]
    if not token.startswith(_PREFIX) or len(body) != {body}:
        return False
    token_id = _base62(body[:11])
    checksum = zlib.crc32(token[:-6].encode("ascii"))
    return 1 <= token_id <= 2**63 - 1 and _base62(body[-6:]) == checksum


class TokenkeepTokenDetector(RegexBasedDetector):
    """tokenkeep personal access token, prefix {prefix}."""

    secret_type = "tokenkeep token ({prefix})"
    denylist = [re.compile(r"({token_regex(prefix)})", re.ASCII)]

    def analyze_string(self, string):
        for found in super().analyze_string(string):
            if tokenkeep_token_valid(found):
                yield found
'''


def _regex(prefix: str) -> str:
    return (
        f'# tokenkeep tokens of prefix "{prefix}"; checksum: {CHECKSUM_RULE}.\n'
        f"# Lines starting with # are comments; the pattern is the last line (ASCII \\b).\n"
        f"{token_regex(prefix)}\n"
    )


def render(prefix: str, fmt: str) -> str:
    """The rule for ``prefix`` in ``fmt`` (one of :data:`FORMATS`), as file text."""
    renderers = {
        "gitleaks": _gitleaks,
        "trufflehog": _trufflehog,
        "detect-secrets": _detect_secrets,
        "regex": _regex,
    }
    if fmt not in renderers:
        raise InvalidArgument(f"format must be one of {', '.join(FORMATS)}")
    return renderers[fmt](prefix)
