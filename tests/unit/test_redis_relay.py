"""The relay that holds a dev worker's Redis connections until the background worker has stopped
(tasks/drivers/redis_relay.py), on real sockets and real processes.

Upstream is a small TCP echo server on this machine, not Redis: the relay never reads what passes, so
what is checked is when bytes pass and when connections end. The same relay in front of a real Redis
with real BullMQ workers: tests/integration/test_watchers.py.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tasks.drivers.redis_relay import RedisRelay, RelayProcess

ROOT = Path(__file__).resolve().parents[2]


class EchoServer:
    """Answers every chunk with itself; remembers everything it received."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = self.listener.getsockname()[:2]
        self.received = b""
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    def _echo(self, conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(65536):
                self.received += data
                conn.sendall(data)

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    server = EchoServer()
    yield server
    server.close()


def dial(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    return sock


def nothing_within(sock: socket.socket, seconds: float) -> bool:
    sock.settimeout(seconds)
    try:
        sock.recv(100)
    except TimeoutError:
        return True
    finally:
        sock.settimeout(5)
    return False


def test_a_connection_is_held_until_open_then_forwarded_both_ways(echo):
    relay = RedisRelay(echo.address).start()
    try:
        client = dial(relay.port)
        client.sendall(b"PING\r\n")
        assert relay.connected.wait(2)
        assert nothing_within(client, 0.3)
        assert echo.connections == 0 and echo.received == b""  # Redis never dialled while held
        relay.open()
        assert client.recv(100) == b"PING\r\n"  # the held bytes went through, the answer came back
        late = dial(relay.port)  # after open: straight through
        late.sendall(b"LATE\r\n")
        assert late.recv(100) == b"LATE\r\n"
        assert echo.connections == 2 and relay.held == 0 and relay.forwarded == 2
    finally:
        relay.close()


def test_hold_again_holds_new_connections_and_lets_forwarded_ones_run(echo):
    """What a watcher's restart meets once the queue went back to the background worker."""
    relay = RedisRelay(echo.address).start()
    try:
        first = dial(relay.port)
        assert relay.connected.wait(2)
        relay.open()
        first.sendall(b"ONE\r\n")
        assert first.recv(100) == b"ONE\r\n"
        relay.hold()
        assert not relay.connected.is_set() and relay.generation == 2
        first.sendall(b"STILL\r\n")
        assert first.recv(100) == b"STILL\r\n"  # a forwarded connection is never held
        second = dial(relay.port)
        second.sendall(b"TWO\r\n")
        assert relay.connected.wait(2)
        assert nothing_within(second, 0.3) and relay.held == 1 and echo.connections == 1
        relay.open()
        assert second.recv(100) == b"TWO\r\n"
    finally:
        relay.close()


def test_close_ends_every_connection(echo):
    relay = RedisRelay(echo.address).start()
    held = dial(relay.port)
    assert relay.connected.wait(2)
    relay.close()
    assert held.recv(100) == b""  # the dev worker sees its connection end
    with pytest.raises(OSError):
        dial(relay.port)


def test_an_upstream_that_refuses_closes_the_held_connection():
    unused = socket.create_server(("127.0.0.1", 0))
    address = unused.getsockname()[:2]
    unused.close()  # nothing listens there any more
    relay = RedisRelay(address).start()
    try:
        client = dial(relay.port)
        assert relay.connected.wait(2)
        relay.open()
        assert client.recv(100) == b""  # as if Redis were down: the client reconnects
    finally:
        relay.close()


def test_the_relay_process_reports_opens_holds_and_closes(echo):
    relay = RelayProcess(echo.address, "127.0.0.1")
    assert relay.idle.is_set()
    client = dial(relay.port)
    client.sendall(b"HELLO\r\n")
    assert relay.connected.wait(5)
    assert nothing_within(client, 0.3) and echo.received == b""
    relay.open()
    assert client.recv(100) == b"HELLO\r\n"
    assert wait_until(lambda: not relay.idle.is_set())  # `busy`: a connection is forwarded
    relay.hold()
    client.close()  # the dev worker exited
    assert relay.idle.wait(5)  # `idle`: its last connection ended
    again = dial(relay.port)  # the watcher started it again: held
    again.sendall(b"AGAIN\r\n")
    assert relay.connected.wait(5)
    assert nothing_within(again, 0.3)
    relay.open()
    assert again.recv(100) == b"AGAIN\r\n"
    relay.close()
    assert relay.proc.returncode == 0
    assert again.recv(100) == b""


def wait_until(condition, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


#: `inv` in miniature: starts a relay process, prints its port, then waits to be killed.
PARENT = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {root!r})
    from tasks.drivers.redis_relay import RelayProcess
    relay = RelayProcess(({host!r}, {port}), "127.0.0.1")
    print(relay.port, relay.proc.pid, flush=True)
    if {opened}:
        relay.connected.wait(5)
        relay.open()
        print("opened", flush=True)
    time.sleep(600)
    """
)


def killed_parent(echo: EchoServer, *, opened: bool) -> tuple[socket.socket, int]:
    """A relay whose `inv` was killed -9 with one dev worker connection through it; (that connection, relay pid)."""
    code = PARENT.format(root=str(ROOT), host=echo.address[0], port=echo.address[1], opened=opened)
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    port, pid = (int(x) for x in parent.stdout.readline().split())
    client = dial(port)
    if opened:
        assert parent.stdout.readline().strip() == "opened"
        client.sendall(b"BEFORE\r\n")
        assert client.recv(100) == b"BEFORE\r\n"
    parent.kill()
    parent.wait(5)
    return client, pid


def ended(sock: socket.socket) -> bool:
    """The peer ended the connection: closed it, or reset it (closed before the relay accepted it)."""
    try:
        return sock.recv(100) == b""
    except ConnectionResetError:
        return True


def relay_exits(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.skipif(sys.platform == "win32", reason="kill -9 of a parent, and reaping by pid: POSIX")
def test_a_killed_inv_leaves_a_forwarded_connection_working_until_the_dev_worker_ends(echo):
    """The dev worker can finish its job (and be stopped gracefully by the guardian); nothing new gets in."""
    client, pid = killed_parent(echo, opened=True)
    time.sleep(0.3)  # the relay has seen its stdin end
    client.sendall(b"AFTER\r\n")
    assert client.recv(100) == b"AFTER\r\n"
    with pytest.raises(OSError):
        dial(int(client.getpeername()[1]))  # accepts nothing more
    assert not relay_exits(pid, 0.3)
    client.close()  # the dev worker ended
    assert relay_exits(pid, 5)


@pytest.mark.skipif(sys.platform == "win32", reason="kill -9 of a parent, and reaping by pid: POSIX")
def test_a_killed_inv_closes_a_held_connection_and_the_relay_exits(echo):
    """A dev worker still held never had the queue: it is cut off, and Redis was never dialled."""
    client, pid = killed_parent(echo, opened=False)
    assert ended(client)
    assert relay_exits(pid, 5)
    assert echo.connections == 0


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_the_relay_process_ignores_a_terminals_ctrl_c(echo):
    """In a session of its own a terminal's Ctrl+C never reaches it; were it sent, it would be ignored."""
    relay = RelayProcess(echo.address, "127.0.0.1")
    try:
        assert os.getsid(relay.proc.pid) == relay.proc.pid
        os.kill(relay.proc.pid, signal.SIGINT)
        time.sleep(0.3)
        assert relay.proc.poll() is None
    finally:
        relay.close()


@pytest.mark.skipif(sys.platform == "win32", reason="a POSIX shell builds the process tree")
def test_process_count_sees_a_worker_leave_its_watcher():
    """What tells a watcher waiting for a change (its worker gone) from a restart: the tree shrinks."""
    from tasks.drivers.handover.watcher_gaps import process_count

    tree = subprocess.Popen(["sh", "-c", "sleep 60 & sleep 60 & wait"])
    try:
        assert wait_until(lambda: process_count(tree.pid) == 3)
        import psutil

        worker = psutil.Process(tree.pid).children()[0]
        worker.kill()
        assert wait_until(lambda: process_count(tree.pid) == 2)  # the shell reaped it: one fewer
    finally:
        tree.kill()
        tree.wait()
    assert process_count(tree.pid) == 0
