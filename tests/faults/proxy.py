"""A userspace TCP proxy with faults, one per node: everything a network does to a connection
that this kernel (no netem, no tc classifiers, no iptables) cannot do for us.

One asyncio loop in a background thread (`ProxyLoop`) runs every proxy. A `FaultProxy` listens
on one address and forwards each accepted connection to the PostgreSQL server (a Unix socket or
TCP); `set()` changes what happens to every connection through it, current and new:

    pass       forward at once
    delay      hold each chunk `delay` seconds (+- `jitter`, order kept), in each direction
    hold       stop forwarding, keep reading and buffering (a lossy link: TCP retransmits, and
               everything arrives late, in order, when the hold ends)
    blackhole  drop everything silently, sockets left open (a dead peer, a cut link); the
               connections caught in it stay dead, and are reset when the blackhole ends (as
               the retransmissions of a healed link would find no peer); new connections after
               it pass
    reset      reset (RST) every connection, and every new one while the mode lasts
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import random
import socket
import struct
import threading
from dataclasses import dataclass
from typing import Union

KINDS = ("pass", "delay", "hold", "blackhole", "reset")
CHUNK = 65536


@dataclass(frozen=True)
class Fault:
    kind: str = "pass"
    delay: float = 0.0  # seconds, one way
    jitter: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault {self.kind!r}; one of {KINDS}")
        if self.delay < 0 or self.jitter < 0 or self.jitter > self.delay:
            raise ValueError("delay >= jitter >= 0")


Upstream = Union[str, "tuple[str, int]"]  # a Unix socket path, or (host, port)


class ProxyLoop:
    """The event loop thread every proxy runs on; `close()` stops it and all its proxies."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="fault-proxy", daemon=True
        )
        self._thread.start()

    def call(self, coro, timeout: float = 10.0):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        if not self._thread.is_alive():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


def _abort(writer: asyncio.StreamWriter) -> None:
    """Closes with RST (linger 0) where the socket is TCP, at once."""
    sock = writer.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class _Direction:
    """One direction of one connection: chunks stamped with their release time, in order."""

    def __init__(self) -> None:
        self.queue: collections.deque = collections.deque()  # (release_at, bytes or b"" = EOF)
        self.kick = asyncio.Event()
        self.last_release = 0.0


class _Connection:
    def __init__(self, proxy: FaultProxy, client_w: asyncio.StreamWriter) -> None:
        self.proxy = proxy
        self.client_w = client_w
        self.server_w: asyncio.StreamWriter | None = None
        self.doomed = False  # caught in a blackhole: dead for good
        self.closed = False
        self.up = _Direction()  # client -> server
        self.down = _Direction()  # server -> client

    def kick(self) -> None:
        self.up.kick.set()
        self.down.kick.set()

    def abort(self) -> None:
        if self.closed:
            return
        self.closed = True
        for w in (self.client_w, self.server_w):
            if w is not None:
                _abort(w)
        self.kick()


class FaultProxy:
    """Listens on (host, port 0 = any) and forwards to `upstream` under the current `Fault`."""

    def __init__(self, loop: ProxyLoop, host: str, upstream: Upstream, name: str = "") -> None:
        self.name = name
        self._loop = loop
        self._upstream = upstream
        self._fault = Fault()
        self._conns: set[_Connection] = set()
        self._rng = random.Random(name)
        self.connections = 0  # accepted, ever
        self._server = loop.call(asyncio.start_server(self._accept, host, 0))
        self.address: tuple[str, int] = self._server.sockets[0].getsockname()[:2]

    @property
    def fault(self) -> Fault:
        return self._fault

    def set(self, kind: str = "pass", delay: float = 0.0, jitter: float = 0.0) -> None:
        """Applies a fault to every connection through this proxy from now on (thread-safe;
        returns once the proxy's loop has applied it)."""
        fault = Fault(kind, delay, jitter)

        async def apply() -> None:
            self._fault = fault
            for c in list(self._conns):
                if fault.kind == "blackhole":
                    c.doomed = True  # the data in flight is lost with the rest
                if fault.kind == "reset" or (c.doomed and fault.kind != "blackhole"):
                    c.abort()
                else:
                    c.kick()

        self._loop.call(apply())

    def close(self) -> None:
        async def shut() -> None:
            self._server.close()
            for c in list(self._conns):
                c.abort()

        with contextlib.suppress(RuntimeError):  # the loop is gone already
            self._loop.call(shut())

    # -- the loop's side --

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self.connections += 1
        conn = _Connection(self, client_w)
        fault = self._fault
        if fault.kind == "reset":
            _abort(client_w)
            return
        self._conns.add(conn)
        try:
            if fault.kind == "blackhole":
                conn.doomed = True  # never reaches the server: a connect that hangs
                await self._pump_in(client_r, conn, conn.up)
                await self._closed_when_healed(conn)
                return
            try:
                if isinstance(self._upstream, str):
                    server_r, server_w = await asyncio.open_unix_connection(self._upstream)
                else:
                    server_r, server_w = await asyncio.open_connection(*self._upstream)
            except OSError:
                _abort(client_w)  # the server is down: as a refused connection
                return
            conn.server_w = server_w
            await asyncio.gather(
                self._pump_in(client_r, conn, conn.up),
                self._pump_out(conn, conn.up, server_w),
                self._pump_in(server_r, conn, conn.down),
                self._pump_out(conn, conn.down, client_w),
                return_exceptions=True,
            )
        finally:
            self._conns.discard(conn)
            conn.abort()

    async def _closed_when_healed(self, conn: _Connection) -> None:
        while not conn.closed:
            conn.up.kick.clear()
            await conn.up.kick.wait()

    async def _pump_in(
        self, reader: asyncio.StreamReader, conn: _Connection, d: _Direction
    ) -> None:
        loop = asyncio.get_running_loop()
        while not conn.closed:
            try:
                data = await reader.read(CHUNK)
            except (ConnectionError, OSError):
                data = b""
            if conn.closed:
                return
            fault = self._fault
            if fault.kind == "blackhole" or conn.doomed:
                conn.doomed = True  # lost; the sockets stay open until the blackhole ends
                if not data:
                    return
                continue
            release = loop.time()
            if fault.kind == "delay":
                release += fault.delay + self._rng.uniform(-fault.jitter, fault.jitter)
            d.last_release = max(d.last_release, release)  # a stream keeps its order
            d.queue.append((d.last_release, data))
            d.kick.set()
            if not data:
                return

    async def _pump_out(
        self, conn: _Connection, d: _Direction, writer: asyncio.StreamWriter
    ) -> None:
        loop = asyncio.get_running_loop()
        while not conn.closed:
            if conn.doomed or not d.queue or self._fault.kind == "hold":
                d.kick.clear()
                await d.kick.wait()
                continue
            release, data = d.queue[0]
            wait = release - loop.time()
            if wait > 0:
                d.kick.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(d.kick.wait(), wait)
                continue
            d.queue.popleft()
            if not data:  # EOF, in its place in the stream
                try:
                    writer.write_eof()
                except (OSError, RuntimeError):
                    conn.abort()
                return
            try:
                writer.write(data)
                await writer.drain()
            except (ConnectionError, OSError):
                conn.abort()
                return
