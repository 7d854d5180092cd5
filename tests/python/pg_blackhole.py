"""A TCP proxy on loopback in front of the test PostgreSQL server that can cut the link
silently: once `cut()` is called it reads and discards everything in both directions and
accepts new connections that lead nowhere, but closes no socket. No error, no reset, no FIN:
what a dead middlebox, a dropped route or a frozen NAT looks like to the client, and what only
timeouts measured by the client can detect (issue 18, problem 4)."""

from __future__ import annotations

import socket
import threading
import urllib.parse


class Blackhole:
    def __init__(self, pg_url: str):
        u = urllib.parse.urlsplit(pg_url)
        query = urllib.parse.parse_qs(u.query)
        host = query.pop("host", [u.hostname or ""])[0]
        port = int(query.pop("port", [u.port or 5432])[0])
        if host.startswith("/"):
            self._upstream = (socket.AF_UNIX, f"{host}/.s.PGSQL.{port}")
        else:
            self._upstream = (socket.AF_INET, (host, port))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        user = f"{u.username}@" if u.username else ""
        self.url = urllib.parse.urlunsplit(
            (
                u.scheme,
                f"{user}127.0.0.1:{self.port}",
                u.path,
                urllib.parse.urlencode(query, doseq=True),
                "",
            )
        )
        self._cut = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        self._cut.set()

    def close(self) -> None:
        self._listener.close()
        with self._lock:
            for s in self._sockets:
                s.close()

    def __enter__(self) -> Blackhole:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.socket(self._upstream[0])
            server.connect(self._upstream[1])
            with self._lock:
                self._sockets += [client, server]
            for src, dst in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        while True:
            try:
                data = src.recv(65536)
                if not data:
                    dst.shutdown(socket.SHUT_WR)
                    return
                if not self._cut.is_set():
                    dst.sendall(data)
            except OSError:
                return
