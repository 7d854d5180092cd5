"""The fault proxy itself, against an echo server on loopback: each fault does what the
scenarios rely on (fast; part of `make test` with the scenarios)."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
import time

import pytest

from .proxy import FaultProxy, ProxyLoop


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        with contextlib.suppress(ConnectionError):
            while data := self.request.recv(65536):
                self.request.sendall(data)


@pytest.fixture(scope="module")
def echo():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy(echo):
    loop = ProxyLoop()
    p = FaultProxy(loop, "127.0.0.1", echo, "test")
    yield p
    p.close()
    loop.close()


def _connect(proxy: FaultProxy) -> socket.socket:
    s = socket.create_connection(proxy.address, timeout=5)
    s.settimeout(5)
    return s


def _round_trip(s: socket.socket, data: bytes) -> float:
    t0 = time.monotonic()
    s.sendall(data)
    got = b""
    while len(got) < len(data):
        chunk = s.recv(65536)
        assert chunk, "closed"
        got += chunk
    assert got == data
    return time.monotonic() - t0


def test_pass_forwards_both_ways(proxy):
    with _connect(proxy) as s:
        assert _round_trip(s, b"hello" * 1000) < 0.5


def test_delay_applies_to_each_direction_and_keeps_order(proxy):
    with _connect(proxy) as s:
        proxy.set("delay", 0.1, 0.05)
        took = _round_trip(s, b"".join(b"%06d" % i for i in range(20000)))
        assert 0.1 < took < 1.5  # at least one way's 0.05 s minimum, twice
        proxy.set("pass")
        assert _round_trip(s, b"x") < 0.5


def test_hold_buffers_until_released_then_delivers_in_order(proxy):
    with _connect(proxy) as s:
        proxy.set("hold")
        s.sendall(b"first ")
        s.sendall(b"second")
        s.settimeout(0.4)
        with pytest.raises(socket.timeout):
            s.recv(100)
        proxy.set("pass")
        s.settimeout(5)
        got = b""
        while len(got) < 12:
            got += s.recv(100)
        assert got == b"first second"


def test_blackhole_drops_silently_then_resets_its_connections_when_it_ends(proxy):
    with _connect(proxy) as s:
        assert _round_trip(s, b"before") < 0.5
        proxy.set("blackhole")
        s.sendall(b"lost")
        s.settimeout(0.4)
        with pytest.raises(socket.timeout):  # no answer, and no close either
            s.recv(100)
        with _connect(proxy) as s2:  # a connection made during it hangs too
            s2.sendall(b"lost too")
            s2.settimeout(0.4)
            with pytest.raises(socket.timeout):
                s2.recv(100)
            proxy.set("pass")
            s2.settimeout(5)
            with pytest.raises(ConnectionResetError):
                assert not s2.recv(100)
        s.settimeout(5)
        with pytest.raises(ConnectionResetError):
            assert not s.recv(100)
    with _connect(proxy) as s3:  # after it, new connections pass
        assert _round_trip(s3, b"after") < 0.5


def test_reset_resets_current_and_new_connections_while_it_lasts(proxy):
    with _connect(proxy) as s:
        assert _round_trip(s, b"x") < 0.5
        proxy.set("reset")
        with pytest.raises(ConnectionResetError):
            s.recv(100)
    # reset at connect, or at the first read
    with pytest.raises(ConnectionResetError), _connect(proxy) as s2:
        s2.recv(100)
    proxy.set("pass")
    with _connect(proxy) as s3:
        assert _round_trip(s3, b"z") < 0.5
