"""What a host's shared coherence file says (cpp/src/pg_host_relay.h, PgHostShared): the
relay's pid, how many relays it has had, and the host's row in tokenkeep_nodes. For tests:
which process of a host to kill or stop, and which lease row is the host's."""

from __future__ import annotations

import glob
import os
import struct
from dataclasses import dataclass


@dataclass(frozen=True)
class HostFile:
    deadline_ns: int  # CLOCK_BOOTTIME
    applied: int
    relay_pid: int
    relay_terms: int
    node: str  # "" until a relay named the row


def host_file_read(runtime_dir: str | os.PathLike[str]) -> HostFile:
    """The one host file in `runtime_dir` (one store opened there)."""
    paths = glob.glob(os.path.join(os.fspath(runtime_dir), "pg-*-host"))
    if len(paths) != 1:
        raise RuntimeError(f"expected one host file in {runtime_dir}, found {paths}")
    with open(paths[0], "rb") as f:
        raw = f.read(96)
    _, deadline, applied, pid, terms, node_set = struct.unpack_from("<QqQqQQ", raw)
    node = raw[48:96].split(b"\0", 1)[0].decode() if node_set else ""
    return HostFile(deadline, applied, pid, terms, node)
