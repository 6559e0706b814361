"""A TCP relay between the dev worker and Redis that holds its connections until told to open.

`inv dev.worker` for an app without the start-gate hook: a BullMQ worker fetches jobs the moment its
connection answers, so the dev worker may not reach Redis while the background worker still
serves the queue. Stopping the background worker first leaves the queue unserved for as long as
the dev command takes to start (0.7 s for nodemon, over 2 s for `concurrently` with a compiler).
Instead the dev worker is given this relay's address: it starts, loads and connects while the
background worker serves; the relay accepts its connections but forwards nothing (the client's
first bytes wait in the socket), and says so (``connected``). Once the background worker has
stopped, ``open()`` dials Redis for each held connection and forwards both ways from then on: the
queue changes hands in the time of a few round trips.

The relay is a byte pipe (RESP, TLS, anything): it never reads what passes. It lives as long as
the session: when `inv` ends (or is killed) every connection through it ends too, so a leftover dev
worker can never keep consuming beside the background worker that comes back.

The relay runs as a small process of its own (``RelayProcess``, this file run by path: no package
import, ~30 ms), outside the terminal's process group, so that a Ctrl+C, a closed terminal or a
kill -9 of `inv` does not cut the dev worker's Redis while it finishes its job. `inv` steers it
through its stdin (``open``, ``close``) and hears ``connected`` on its stdout. Should `inv` die
(its stdin ends without ``close``), the relay accepts nothing more: a connection still held is
closed (that dev worker never had the queue), forwarded ones run on until the dev worker ends (the
guardian stops it gracefully, then brings the background worker back), then the relay exits.

Plain threads and blocking sockets: a dev worker opens a handful of connections (BullMQ: two or
three per worker, more with each restart of a watcher), and the same code runs on Windows.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

#: How often the accept loop looks at its stop flag (closing a listening socket does not wake a
#: blocked accept() everywhere).
ACCEPT_POLL_S = 0.2
#: Dialling Redis for a held connection: a published port on this machine answers in well under 1 ms.
DIAL_TIMEOUT_S = 5.0
CHUNK = 65536


def _no_delay(sock: socket.socket) -> None:
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        pass


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


class _Pipe:
    """One client connection and, once opened, its Redis connection, forwarded both ways."""

    def __init__(self, client: socket.socket):
        self.client = client
        self.upstream: socket.socket | None = None
        self._ends = 0
        self._lock = threading.Lock()

    @property
    def opened(self) -> bool:
        return self.upstream is not None

    @property
    def alive(self) -> bool:
        return self.client.fileno() != -1

    def open(self, address: tuple[str, int]) -> bool:
        try:
            upstream = socket.create_connection(address, timeout=DIAL_TIMEOUT_S)
        except OSError:
            _close(self.client)  # the client sees a closed connection and reconnects, as with Redis down
            return False
        upstream.settimeout(None)
        _no_delay(upstream)
        self.upstream = upstream
        for source, target in ((self.client, upstream), (upstream, self.client)):
            threading.Thread(target=self._pump, args=(source, target), name="redis-relay-pump", daemon=True).start()
        return True

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while True:
                data = source.recv(CHUNK)
                if not data:
                    break
                target.sendall(data)
        except OSError:
            pass
        try:
            target.shutdown(socket.SHUT_WR)  # the other side sees the end of this one
        except OSError:
            pass
        with self._lock:
            self._ends += 1
            done = self._ends == 2
        if done:
            self.close()

    def close(self) -> None:
        _close(self.client)
        if self.upstream is not None:
            _close(self.upstream)


class RedisRelay:
    """Listens on ``listen_host`` (a free port, ``port``) and forwards to ``upstream``; while holding
    (at first, and again after ``hold()``) a new connection waits, unforwarded, until ``open()``.
    A connection already forwarded is never held: it runs on until one side ends it."""

    def __init__(self, upstream: tuple[str, int], listen_host: str = "127.0.0.1"):
        self.upstream = upstream
        family = socket.AF_INET6 if ":" in listen_host else socket.AF_INET
        self.listener = socket.socket(family, socket.SOCK_STREAM)
        self.listener.bind((listen_host, 0))
        self.listener.listen(64)
        self.listener.settimeout(ACCEPT_POLL_S)
        self.host = listen_host
        self.port: int = self.listener.getsockname()[1]
        #: Set when a connection arrives while holding; cleared by ``hold()``.
        self.connected = threading.Event()
        #: Counts the holds: 1 at first, one more for each ``hold()``.
        self.generation = 1
        self._holding = True
        self._closed = threading.Event()
        self._pipes: list[_Pipe] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept_loop, name="redis-relay", daemon=True)

    def start(self) -> RedisRelay:
        self._thread.start()
        return self

    @property
    def holding(self) -> bool:
        return self._holding

    def _alive(self) -> list[_Pipe]:
        with self._lock:
            self._pipes = [pipe for pipe in self._pipes if pipe.alive]
            return list(self._pipes)

    @property
    def held(self) -> int:
        """Connections waiting for ``open()``."""
        return sum(1 for pipe in self._alive() if not pipe.opened)

    @property
    def forwarded(self) -> int:
        """Connections forwarded to Redis and not ended yet."""
        return sum(1 for pipe in self._alive() if pipe.opened)

    def open(self) -> None:
        """Forward every held connection, and every later one at once."""
        with self._lock:
            self._holding = False
            held = [pipe for pipe in self._pipes if not pipe.opened]
        for pipe in held:
            pipe.open(self.upstream)

    def hold(self) -> None:
        """Hold new connections again (the forwarded ones run on)."""
        with self._lock:
            if self._holding:
                return
            self._holding = True
            self.generation += 1
            self.connected.clear()

    def stop_accepting(self, wait: bool = True) -> None:
        """Accept nothing more; ``wait``: until the accept loop has seen it (up to one poll)."""
        self._closed.set()
        self.listener.close()
        if wait and self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(ACCEPT_POLL_S * 5)

    def close(self, wait: bool = True) -> None:
        """Stop accepting and end every connection through the relay (``wait``: see ``stop_accepting``)."""
        self.stop_accepting(wait)
        with self._lock:
            pipes, self._pipes = self._pipes, []
        for pipe in pipes:
            pipe.close()

    def drain(self, poll: float = 0.2) -> None:
        """Accept nothing more, end the connections still held, and wait until the forwarded ones end."""
        self.stop_accepting()
        for pipe in self._alive():
            if not pipe.opened:
                pipe.close()
        while self._alive():
            time.sleep(poll)

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # closed
            client.settimeout(None)
            _no_delay(client)
            pipe = _Pipe(client)
            with self._lock:
                if self._closed.is_set():
                    _close(client)
                    return
                self._pipes.append(pipe)
                holding = self._holding
                if holding:
                    self.connected.set()
            if not holding:
                pipe.open(self.upstream)


# -- the relay as a process of its own ------------------------------------------------------------

CONNECTED, IDLE, BUSY = "connected", "idle", "busy"
#: How often the relay process looks at its connections for what it reports.
REPORT_POLL_S = 0.02


def _report(relay: RedisRelay) -> None:
    """On stdout: ``connected N`` once a connection waits in hold number N; ``idle`` when the last
    forwarded connection has ended (the dev worker exited), ``busy`` when one is forwarded again."""
    said_connected = 0
    busy = False
    while True:
        if relay.connected.is_set() and said_connected != relay.generation:
            said_connected = relay.generation
            print(f"{CONNECTED} {said_connected}", flush=True)
        now = relay.forwarded > 0
        if now != busy:
            busy = now
            print(BUSY if busy else IDLE, flush=True)
        time.sleep(REPORT_POLL_S)


def serve(upstream_host: str, upstream_port: int, host: str) -> int:
    """The relay process: ``port N`` first, then the reports of ``_report``; ``open``, ``hold`` and
    ``close`` on stdin."""
    for name in ("SIGINT", "SIGHUP", "SIGBREAK"):  # a terminal's signals are the session's business
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    relay = RedisRelay((upstream_host, upstream_port), host).start()
    print(f"port {relay.port}", flush=True)
    threading.Thread(target=_report, args=(relay,), name="redis-relay-report", daemon=True).start()
    for line in sys.stdin:
        command = line.strip()
        if command == "open":
            relay.open()
        elif command == "hold":
            relay.hold()
        elif command == "close":
            relay.close(wait=False)  # the process ends now: no thread of it is left to wait for
            return 0
    relay.drain()  # stdin ended without `close`: `inv` is gone
    return 0


class RelayProcess:
    """`inv`'s handle on a relay process (see the module's doc)."""

    def __init__(self, upstream: tuple[str, int], host: str):
        # Imported here, not at the top: run as a script (below) this file imports nothing of the package.
        from .process import detached

        # By path and isolated (-I): no package import, and its folder's modules never shadow the stdlib.
        # Detached as the guardian is: a Ctrl+C or a closed terminal does not end it; its pipes still work.
        argv = [sys.executable, "-I", str(Path(__file__).resolve()), upstream[0], str(upstream[1]), host]
        self.proc = subprocess.Popen(  # type: ignore[call-overload]
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, close_fds=True, **detached()
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        first = self.proc.stdout.readline().split()
        if len(first) != 2 or first[0] != "port" or not first[1].isdigit():
            self.proc.kill()
            raise OSError(f"the Redis relay did not start ({' '.join(first) or 'no output'})")
        self.host = host
        self.port = int(first[1])
        self.generation = 1
        #: A connection waits in the current hold.
        self.connected = threading.Event()
        #: No connection is forwarded (set after the last one ended; clear while one is).
        self.idle = threading.Event()
        self.idle.set()
        threading.Thread(target=self._listen, name="redis-relay-listen", daemon=True).start()

    def _listen(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            words = line.split()
            if words[:1] == [CONNECTED] and words[1:] == [str(self.generation)]:
                self.connected.set()
            elif words == [IDLE]:
                self.idle.set()
            elif words == [BUSY]:
                self.idle.clear()

    def _tell(self, command: str) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(command + "\n")
            self.proc.stdin.flush()
        except (OSError, ValueError):
            pass  # it is gone: its connections went with it

    def open(self) -> None:
        self._tell("open")

    def hold(self) -> None:
        """New connections wait again until ``open()`` (``connected`` says when one does)."""
        self.generation += 1
        self.connected.clear()
        self._tell("hold")

    def close(self) -> None:
        """End every connection through the relay, and the relay."""
        self._tell("close")
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(2)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


if __name__ == "__main__":  # run by path: `python redis_relay.py UPSTREAM_HOST UPSTREAM_PORT LISTEN_HOST`
    sys.exit(serve(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
