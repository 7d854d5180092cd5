"""Network namespaces for link-down partitions (root only): each node process runs inside its
own namespace, joined to the host by a veth pair in a private /30 of 10.231.0.0/16; cutting a
link is `ip link set <host side> down` (the kernel drops the packets, sockets stay open, TCP
retransmits), healing it is `up`.

Every namespace this module creates is named `tkf-<pid>-<i>` for the process that made it, and
is deleted when that process exits (atexit; `netns_sweep()` also removes the ones a killed
harness left behind, by their dead pid), with every process still inside it.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import signal
import subprocess
import threading

PREFIX = "tkf-"
_lock = threading.Lock()
_live: list[Netns] = []


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=30)


def netns_unavailable() -> str | None:
    """None if this process can create namespaces with veth links, else why not."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    try:
        probe = Netns(63)
    except (OSError, subprocess.SubprocessError) as e:
        return f"cannot create a network namespace with a veth pair: {e}"
    probe.delete()
    return None


def netns_sweep() -> list[str]:
    """Deletes the namespaces of harnesses that are gone (killed before their atexit ran)."""
    if os.geteuid() != 0:
        return []
    removed = []
    for line in _ip("netns", "list", check=False).stdout.splitlines():
        m = re.match(rf"{PREFIX}(\d+)-(\d+)\b", line)
        if not m or _alive(int(m.group(1))):
            continue
        name = m.group(0)
        _kill_inside(name)
        _ip("netns", "delete", name, check=False)
        _ip("link", "delete", f"tkf{m.group(1)}h{m.group(2)}", check=False)
        removed.append(name)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_inside(name: str) -> None:
    for pid in _ip("netns", "pids", name, check=False).stdout.split():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)


class Netns:
    """Namespace number `index` of this process: `ns_addr` inside, `host_addr` on the host."""

    def __init__(self, index: int) -> None:
        if not 0 <= index < 64:
            raise ValueError("index in 0..63")
        pid = os.getpid()
        self.name = f"{PREFIX}{pid}-{index}"
        self.host_if = f"tkf{pid}h{index}"
        ns_if = f"tkf{pid}n{index}"
        net = f"10.231.{pid % 256}"
        self.host_addr = f"{net}.{4 * index + 1}"
        self.ns_addr = f"{net}.{4 * index + 2}"
        self.is_up = True
        with _lock:
            _live.append(self)
        try:
            _ip("netns", "add", self.name)
            _ip("link", "add", self.host_if, "type", "veth", "peer", "name", ns_if)
            _ip("link", "set", ns_if, "netns", self.name)
            _ip("addr", "add", f"{self.host_addr}/30", "dev", self.host_if)
            _ip("link", "set", self.host_if, "up")
            _ip("-n", self.name, "addr", "add", f"{self.ns_addr}/30", "dev", ns_if)
            _ip("-n", self.name, "link", "set", ns_if, "up")
            _ip("-n", self.name, "link", "set", "lo", "up")
        except subprocess.CalledProcessError as e:
            self.delete()
            raise OSError(e.stderr.strip() or str(e)) from None

    def prefix(self) -> list[str]:
        """The argv prefix that runs a command inside this namespace."""
        return ["ip", "netns", "exec", self.name]

    def cut(self) -> None:
        """Link down on the host side: packets to and from the namespace are dropped."""
        _ip("link", "set", self.host_if, "down")
        self.is_up = False

    def heal(self) -> None:
        _ip("link", "set", self.host_if, "up")
        self.is_up = True

    def delete(self) -> None:
        with _lock:
            if self in _live:
                _live.remove(self)
        _kill_inside(self.name)
        _ip("netns", "delete", self.name, check=False)
        _ip("link", "delete", self.host_if, check=False)  # gone with the namespace, normally


@atexit.register
def _delete_all() -> None:
    for ns in list(_live):
        ns.delete()
