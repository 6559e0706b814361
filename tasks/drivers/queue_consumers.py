"""Asking Redis which BullMQ workers are connected (`CLIENT LIST` over a plain socket, RESP2; no client library).

Used by `inv dev.worker` for a dev command without the ready-file hook: the background worker is
stopped first (never two workers on one queue: a BullMQ worker without the start gate fetches jobs
the moment it connects, so "wait for it to connect, then stop the background one" would overlap),
then the dev command starts, and `dev worker running` is said only once a new BullMQ worker
connection appears in Redis. A dev command that never connects (nodemon waiting for a `dist/` that
is not there) is reported within a bounded time and the background worker given back.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ..knowledge.bullmq_clients import Consumer, RedisAddress, consumers, ip_of, parse_client_list, redis_addresses
from ..knowledge.dev_env import parse_names, parse_pairs
from ..knowledge.queue_owners import QueueRef, on_queues

if TYPE_CHECKING:
    from .compose import Compose

TIMEOUT_S = 2.0


class RedisError(Exception):
    pass


def _command(*words: str) -> bytes:
    out = [f"*{len(words)}\r\n".encode()]
    for word in words:
        data = word.encode("utf-8")
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class _Reader:
    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buffer = b""

    def line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RedisError("connection closed")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line

    def exactly(self, size: int) -> bytes:
        while len(self.buffer) < size + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RedisError("connection closed")
            self.buffer += chunk
        data, self.buffer = self.buffer[:size], self.buffer[size + 2 :]
        return data

    def reply(self) -> str:
        line = self.line()
        kind, rest = line[:1], line[1:].decode("utf-8", "replace")
        if kind == b"-":
            raise RedisError(rest)
        if kind in (b"+", b":"):
            return rest
        if kind == b"$":
            size = int(rest)
            return "" if size < 0 else self.exactly(size).decode("utf-8", "replace")
        raise RedisError(f"unexpected reply {line[:40]!r}")


@dataclass
class Redis:
    address: RedisAddress

    def query(self, *words: str) -> str:
        return self.queries(words)[0]

    def queries(self, *commands: tuple[str, ...]) -> list[str]:
        """The replies to ``commands``, sent on one connection."""
        with socket.create_connection((self.address.host, self.address.port), timeout=TIMEOUT_S) as sock:
            reader = _Reader(sock)
            if self.address.password:
                auth = (
                    ("AUTH", self.address.username, self.address.password)
                    if self.address.username
                    else ("AUTH", self.address.password)
                )
                sock.sendall(_command(*auth))
                reader.reply()
            sock.sendall(b"".join(_command(*words) for words in commands))
            return [reader.reply() for _ in commands]

    def consumers(self) -> list[Consumer]:
        return consumers(self.query("CLIENT", "LIST"))

    def own_ip(self) -> str:
        """This machine's address as Redis sees it: the one of the connection asking (through
        Docker's port publishing, the network's gateway), shared by every process on the host."""
        client_id, listing = self.queries(("CLIENT", "ID"), ("CLIENT", "LIST"))
        return next((ip_of(c.get("addr", "")) for c in parse_client_list(listing) if c.get("id") == client_id), "")


def find(
    env: dict[str, str],
    host_port_vars: str | Sequence[str],
    url_vars: str | Sequence[str],
    endpoints: Sequence[tuple[str, int]] = (),
) -> Redis | None:
    """The dev worker's Redis: the first of its addresses that answers PING with PONG, or None.

    Candidates are Redis URLs and host/port variables of its environment (with their passwords), then
    every other address the dev worker dials (``endpoints``, found by value from Compose): Redis is
    recognised by its answer, not by a variable's name."""
    return first_answering(candidates(env, host_port_vars, url_vars, endpoints))


def candidates(
    env: dict[str, str],
    host_port_vars: str | Sequence[str],
    url_vars: str | Sequence[str],
    endpoints: Sequence[tuple[str, int]] = (),
) -> list[RedisAddress]:
    """Where a worker's Redis may be: its Redis URLs and host/port variables, then every other address
    it dials (``endpoints``); the caller asks each one (`first_answering`, `all_answering`)."""
    found = redis_addresses(env, parse_pairs(host_port_vars), parse_names(url_vars))
    known = {(a.host, a.port) for a in found}
    return found + [RedisAddress(host, port) for host, port in endpoints if (host, port) not in known]


def _answers(redis: Redis) -> bool:
    try:
        return redis.query("PING") == "PONG"
    except (OSError, RedisError, ValueError):
        return False


def first_answering(candidates: Iterable[RedisAddress]) -> Redis | None:
    """The first address that answers PING with PONG (a Redis), or None."""
    return next((redis for redis in map(Redis, candidates) if _answers(redis)), None)


def all_answering(candidates: Iterable[RedisAddress]) -> list[Redis]:
    """Every address that answers PING with PONG (an app may use one Redis for its queue, another as
    a cache: which one holds its workers is for `CLIENT LIST` to say)."""
    return [redis for redis in map(Redis, candidates) if _answers(redis)]


def stack_redis(compose: Compose) -> Redis | None:
    """A Redis among the ports the project's running containers publish (the first answering PING), for
    an app that dials an address of its own (no variable of its environment leads to Redis): its
    consumers can still be watched, so a dev worker that never consumes gives the queue back."""
    from ..knowledge.failures import UserError
    from ..knowledge.stack_config import published_ports

    try:
        running = [ct for ct in compose.containers() if ct.running]
    except UserError:
        return None
    ordered = sorted(running, key=lambda ct: "redis" not in ct.service.lower())
    return first_answering(
        RedisAddress("127.0.0.1", port) for ct in ordered for port in sorted(published_ports(ct.ports))
    )


def snapshot(redis: Redis | None) -> list[Consumer] | None:
    """The BullMQ worker connections now; None when they cannot be read (no Redis, CLIENT forbidden)."""
    if redis is None:
        return None
    try:
        return redis.consumers()
    except (OSError, RedisError, ValueError):
        return None


#: How long a dev command started after the background stop may take to connect its BullMQ worker
#: (a first compile may be slow; the queue is unserved meanwhile). DEVSTACK_DEV_CONNECT_WAIT overrides it.
CONNECT_WAIT_S = 30.0


def connect_wait(env: dict[str, str]) -> float:
    try:
        return float(env.get("DEVSTACK_DEV_CONNECT_WAIT", "") or CONNECT_WAIT_S)
    except ValueError:
        return CONNECT_WAIT_S


#: After this long, say once what is awaited.
CONNECT_HINT_AFTER_S = 2.0
POLL_S = 0.05


class ChildLike(Protocol):
    """What the wait needs of the dev command (tasks.drivers.foreground.ForegroundChild)."""

    @property
    def received(self) -> list[int]: ...

    def exited(self) -> bool: ...


class WatchedChild(ChildLike, Protocol):
    """A dev command whose worker's presence is reported to it (ForegroundChild.worker_gone)."""

    worker_gone: bool


class ConsumerWatch:
    """New BullMQ worker connections since this object was made (made before the dev command starts)."""

    def __init__(
        self,
        env: dict[str, str],
        host_port_vars: str | Sequence[str],
        url_vars: str | Sequence[str],
        endpoints: Sequence[tuple[str, int]] = (),
    ):
        self.redis = find(env, host_port_vars, url_vars, endpoints)
        self.before = snapshot(self.redis)
        self._own_ip = ""
        #: The dev worker's queues (those its background worker consumed when the session began), or
        #: None when unknown: then a new worker connection on any queue counts. Known, they keep another
        #: session's dev worker (same machine, same address) from being taken for this one.
        self.queues: set[QueueRef] | None = None

    def new(self, now: list[Consumer]) -> list[Consumer]:
        """Connections in ``now`` that are new since the session began, on the dev worker's queues."""
        return on_queues(new_consumers(self.before or [], now), self.queues)

    def own_ip(self) -> str:
        """This machine's address as Redis sees it (asked once: it does not change); "" when it cannot
        be read (asked again next time)."""
        if self._own_ip or self.redis is None:
            return self._own_ip
        try:
            self._own_ip = self.redis.own_ip()
        except (OSError, RedisError, ValueError):
            pass
        return self._own_ip

    def new_from(self, ip: str) -> list[Consumer]:
        """New BullMQ worker connections from ``ip`` (a dev worker on this machine)."""
        now = snapshot(self.redis)
        if now is None or self.before is None:
            return []
        return [c for c in self.new(now) if ip_of(c.addr) == ip]

    def wait(
        self, child: ChildLike, timeout: float = CONNECT_WAIT_S, say: Callable[[str], None] = print
    ) -> tuple[str, str]:
        """("consuming", what) / ("unknown", why) / ("ended", "") / ("interrupted", "") / ("timeout", "")."""
        import time

        if self.before is None:
            return "unknown", "its BullMQ connections cannot be read from Redis"
        started = time.monotonic()
        hinted = False
        while True:
            if child.received:
                return "interrupted", ""
            if child.exited():
                return "ended", ""
            now = snapshot(self.redis)
            if now is None:
                return "unknown", "Redis stopped answering CLIENT LIST"
            new = self.new(now)
            if new:
                queues = sorted({c.queue for c in new})
                return "consuming", ", ".join(f"`{q}`" for q in queues)
            waited = time.monotonic() - started
            if waited > timeout:
                return "timeout", ""
            if not hinted and waited > CONNECT_HINT_AFTER_S:
                hinted = True
                say(
                    "waiting for the dev worker to connect to the queue (a new BullMQ worker connection in Redis); "
                    f"it is given {timeout:.0f} s"
                )
            time.sleep(POLL_S)


#: A dev worker whose queue connection has been gone this long (while its dev command runs) is said
#: to have stopped consuming: a watcher restart takes a second or two, a crash leaves it gone.
GONE_AFTER_S = 10.0
WATCH_POLL_S = 1.0


class GoneWatch:
    """While the dev command runs, say once when its BullMQ worker connection has been gone for
    ``after`` seconds (a crash under `tsx watch` or nodemon: the watcher waits for a change and the
    queue is unserved), and once when it is back. Reports only: a watcher may restart the worker on
    the next change, so the background worker is not brought back behind its back; but a stop while
    the connection is gone (checked every ``poll`` s) needs no grace period (``child.worker_gone``)."""

    def __init__(
        self,
        watch: ConsumerWatch,
        child: WatchedChild,
        say: Callable[[str], None],
        queues: str,
        after: float = GONE_AFTER_S,
        poll: float = WATCH_POLL_S,
    ):
        import threading

        self.watch, self.child, self.say, self.queues = watch, child, say, queues
        self.after, self.poll = after, poll
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="dev-worker-gone-watch", daemon=True)

    def start(self) -> GoneWatch:
        if self.watch.before is not None:
            self.thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()

    def _run(self) -> None:
        import time

        gone_since: float | None = None
        said = False
        while not self.stopped.wait(self.poll):
            if self.child.received or self.child.exited():
                return  # the session is ending: its own lines say what happens
            now = snapshot(self.watch.redis)
            if now is None or self.watch.before is None:
                continue
            if on_queues(new_consumers(self.watch.before, now), self.watch.queues):
                if said:
                    self.say(f"the dev worker consumes {self.queues} again")
                gone_since, said = None, False
                self.child.worker_gone = False
                continue
            gone_since = gone_since or time.monotonic()
            self.child.worker_gone = True  # no connection, no job held: a stop needs no grace period
            if not said and time.monotonic() - gone_since >= self.after:
                said = True
                self.say(
                    f"the dev worker has not been connected to {self.queues} for {self.after:g} s (it ended; a "
                    "watcher waits for a change): the queue is unserved until it restarts; Ctrl+C ends the "
                    "session and brings the background worker back"
                )


def new_consumers(before: list[Consumer], now: list[Consumer]) -> list[Consumer]:
    from ..knowledge.bullmq_clients import new_consumers as diff

    return diff(before, now)
