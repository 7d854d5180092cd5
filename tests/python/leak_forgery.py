"""Checksum-valid tokens that no store issued, in bulk: what an attacker feeds a leak scan to
make it work (issue 19, item 6). Each is ``tk_`` + a random id + a random secret + the CRC."""

from __future__ import annotations

import random
import zlib

from leak_corpus import B62, b62


def forged_tokens(n: int, seed: int = 19, prefix: str = "tk") -> bytes:
    """``n`` distinct forged tokens, one per line (about 64 bytes each)."""
    rng = random.Random(seed)
    lines = []
    for _ in range(n):
        head = f"{prefix}_{b62(rng.randrange(1, 2**62), 11)}" + "".join(
            rng.choice(B62) for _ in range(43)
        )
        lines.append(head + b62(zlib.crc32(head.encode()), 6))
    return ("\n".join(lines) + "\n").encode()
