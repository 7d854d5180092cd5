"""The change board: a small file every process maps, one int64 per token, where the writer
publishes when its change to that token returned (time.monotonic_ns(), the clock every process
on the machine shares). Nodes read it to count, as they go, the successful verifications that
started after that instant (violations), and to keep verifying the tokens whose changes are
recent or coming; the checker also confirms each count against the writer's own log.
"""

from __future__ import annotations

import mmap
import os

PENDING = (1 << 63) - 1  # not changed yet (or in flight)
FAILED = PENDING - 1  # the change raised: not a returned change (and never "before" a verify)


class Board:
    def __init__(self, path: str, n: int, create: bool = False) -> None:
        self.n = n
        if create:
            with open(path, "wb") as f:
                f.write(PENDING.to_bytes(8, "little", signed=True) * n)
        fd = os.open(path, os.O_RDWR)
        try:
            self._map = mmap.mmap(fd, 8 * n)
        finally:
            os.close(fd)
        self.view = memoryview(self._map).cast("q")  # view[k]: one aligned 8-byte load

    def publish(self, k: int, returned_ns: int) -> None:
        self.view[k] = returned_ns

    def close(self) -> None:
        self.view.release()
        self._map.close()
