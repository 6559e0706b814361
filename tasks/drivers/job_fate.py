"""Reading the queue from Redis: the jobs a stop finds in flight and what became of them, and what
each queue holds for `worker.status` (the I/O; the decisions are `tasks/knowledge/job_fate.py`).

Spoken over a plain socket like `queue_consumers.Redis` (RESP2, no client library), pipelined: each
look is one to three round trips on one connection. Nothing here fails a command: a Redis that
cannot be read gives one honest line instead.

At each stop of a worker (``worker.down``, ``worker.restart``, ``stack.down``, a handover's stop)::

    with job_fate.around_stop(compose, say):
        <the stop>
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..knowledge import job_fate as jf
from ..knowledge.bullmq_clients import Consumer, consumers, ip_of, parse_client_list
from .queue_consumers import TIMEOUT_S, Redis, RedisError, _command, _Reader

if TYPE_CHECKING:
    from ..knowledge.compose_cli import ContainerState
    from ..knowledge.dev_env import DevEnv
    from .compose import Compose

Say = Callable[[str], None]
#: How many SCAN calls the key fallback may take (COUNT 1000 each): a dev Redis needs one or two.
SCAN_CALLS = 20


class _Values(_Reader):
    def value(self) -> jf.Reply:
        """One reply: str, None (nil or an error: this pipeline's reader keeps going), or a list."""
        line = self.line()
        kind, rest = line[:1], line[1:].decode("utf-8", "replace")
        if kind in (b"+", b":"):
            return rest
        if kind == b"-":
            return None
        if kind == b"$":
            size = int(rest)
            return None if size < 0 else self.exactly(size).decode("utf-8", "replace")
        if kind == b"*":
            size = int(rest)
            return None if size < 0 else [self.value() for _ in range(size)]
        raise RedisError(f"unexpected reply {line[:40]!r}")


class Connection:
    """One connection to ``redis``; ``send`` pipelines commands (one round trip)."""

    def __init__(self, redis: Redis):
        address = redis.address
        self.sock = socket.create_connection((address.host, address.port), timeout=TIMEOUT_S)
        self.reader = _Values(self.sock)
        if address.password:
            auth = ("AUTH", address.username, address.password) if address.username else ("AUTH", address.password)
            self.sock.sendall(_command(*auth))
            if self.reader.value() is None:
                self.close()
                raise RedisError("authentication refused")

    def send(self, commands: Sequence[tuple[str, ...]]) -> list[jf.Reply]:
        if not commands:
            return []
        self.sock.sendall(b"".join(_command(*c) for c in commands))
        return [self.reader.value() for _ in commands]

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def clients(conn: Connection) -> tuple[list[Consumer] | None, str]:
    """The BullMQ/Bull consumer connections (None: CLIENT LIST refused) and this machine's address as
    Redis sees it (the connection asking; "" when unknown)."""
    client_id, listing = conn.send([("CLIENT", "ID"), ("CLIENT", "LIST")])
    if not isinstance(listing, str):
        return None, ""
    own = next((ip_of(c.get("addr", "")) for c in parse_client_list(listing) if c.get("id") == client_id), "")
    return consumers(listing), own


def scan_queues(conn: Connection) -> list[jf.QueueRef]:
    """Queues found by their keys (`*:meta`, `*:id`; SCAN, never KEYS), each confirmed by its key types."""
    keys: list[str] = []
    for pattern in jf.SCAN_PATTERNS:
        cursor = "0"
        for _ in range(SCAN_CALLS):
            (reply,) = conn.send([("SCAN", cursor, "MATCH", pattern, "COUNT", jf.SCAN_COUNT)])
            cursor, found = jf.scan_cursor(reply)
            keys += found
            if cursor == "0":
                break
    candidates = jf.candidate_queues(keys)
    replies = conn.send([c for q in candidates for c in jf.confirm_commands(q)])
    return [q for i, q in enumerate(candidates) if jf.confirmed(replies[3 * i : 3 * i + 3])]


#: A queue's `stalled-check` key is missing between its expiry and the next check (a few ms every
#: `stalledInterval`): missing twice this far apart, no check runs.
RECHECK_S = 0.05


def held_jobs(conn: Connection, queues: Sequence[jf.QueueRef], found: Sequence[Consumer]) -> jf.Snapshot:
    """The jobs in flight in these queues (active and locked), with the consumers connected now, and
    the consumed queues on which no stalled-job check runs (`jf.check_commands`)."""
    import time

    n = len(queues)
    replies = conn.send([*jf.active_commands(queues), *jf.check_commands(queues)])
    jobs, library = jf.active_ids(queues, replies[: 2 * n])
    bullmq, no_key = jf.checks(queues, replies[2 * n :])
    consumed = set(jf.queues_of(found))
    missing = [q for q in no_key if q in consumed]
    unchecked: list[jf.QueueRef] = []
    if missing:
        time.sleep(RECHECK_S)
        again = conn.send([("PTTL", q.key("stalled-check")) for q in missing])
        unchecked = [q for q, reply in zip(missing, again, strict=True) if reply == "-2"]
    locks = conn.send(jf.lock_commands(jobs))
    return jf.snapshot(queues, jobs, locks, "BullMQ" if bullmq else library, found, unchecked)


def look_after(conn: Connection, snap: jf.Snapshot, skip_ips: Sequence[str]) -> tuple[list[jf.Fate], bool]:
    """Each job's fate, and whether a worker (any) consumes one of the queues of the cut ones now."""
    replies = conn.send([("CLIENT", "LIST"), *jf.after_commands(snap)])
    listing = replies[0]
    now = consumers(listing) if isinstance(listing, str) else None
    serving = None if now is None else jf.survivors(now, snap.before, skip_ips)
    results = jf.fates(snap, replies[1:], serving)
    cut_queues = {f.job.queue for f in results if f.state == jf.CUT}
    served = now is not None and bool(cut_queues & set(jf.queues_of(now)))
    return results, served


def redis_of(
    compose: Compose, plan: DevEnv | None = None, containers: Sequence[ContainerState] | None = None
) -> Redis | None:
    """The worker's Redis, as `inv dev.worker` finds it: its environment (host side), answering PING.
    ``containers``: the project's, when already read (where their ports are published)."""
    from ..knowledge.failures import UserError
    from . import dev_preflight, queue_consumers

    s = compose.settings
    try:
        plan = plan or dev_preflight.environment(compose, scheduler=True, containers=containers)
        endpoints = [(e.host, e.port) for e in plan.endpoints]
        return queue_consumers.find(plan.env, s.host_port_vars, s.url_vars, endpoints)
    except (UserError, OSError, ValueError, LookupError, AttributeError, TypeError):
        return None  # a configuration that cannot be read: the line says Redis is unknown, the stop goes on


class StopWatch:
    """The background worker's jobs in flight before its stop (``before``), their fate after (``line``)."""

    def __init__(self, redis: Redis | None, stopping_ips: Collection[str] | None = None, redis_goes: bool = False):
        self.redis = redis
        #: Redis is removed next with its keys (`stack.down`): a cut job is lost, not retried.
        self.redis_goes = redis_goes
        #: The addresses of the containers being stopped (their consumers' jobs are the ones told);
        #: None: unknown, every container's consumer counts.
        self.stopping_ips = stopping_ips
        self.snap: jf.Snapshot | None = None
        self.host_ip = ""
        self.problem = "" if redis is not None else "no Redis answers at the worker's addresses"
        self.last: tuple[list[jf.Fate], bool] | None = None  # follow(): the last look during the stop
        self.thread: threading.Thread | None = None
        self.stopped = False
        #: Why no queue is looked at ("" when its queues are): said in the line instead of the queues.
        self.idle = ""

    def before(self) -> StopWatch:
        if self.redis is None:
            return self
        try:
            with Connection(self.redis) as conn:
                found, self.host_ip = clients(conn)
                # The stopped containers' queues, by their consumers' addresses: another worker's jobs
                # on the same Redis are not this stop's. Other consumers named but none of these: they
                # consume nothing. No consumer named at all (none consuming, or CLIENT SETNAME refused):
                # every queue found by its keys that no other consumer serves.
                mine, others = jf.stopping_queues(found or [], self.host_ip, self.stopping_ips)
                if not mine and found and self.stopping_ips is not None:
                    queues = []
                    self.idle = "it consumed no queue"
                else:
                    queues = mine or [q for q in scan_queues(conn) if q not in others]
                self.snap = held_jobs(conn, queues, found or [])
        except (OSError, RedisError, ValueError) as error:
            self.problem = f"Redis did not answer: {error}"
            self.snap = None
        return self

    def follow(self) -> StopWatch:
        """Look again every ``FOLLOW_S`` during the stop, keeping the last answer: a stop that takes
        Redis down too (`stack.down`) leaves nothing to read afterwards."""
        if self.snap is not None and self.snap.jobs:
            self.thread = threading.Thread(target=self._follow, name="job-fate-follow", daemon=True)
            self.thread.start()
        return self

    FOLLOW_S = 0.1

    def _follow(self) -> None:
        import time

        while not self.stopped:
            try:
                self.last = self._look()
            except (OSError, RedisError, ValueError):
                return  # Redis is gone (or going): the last answer stands
            time.sleep(self.FOLLOW_S)

    def _look(self) -> tuple[list[jf.Fate], bool]:
        assert self.redis is not None and self.snap is not None
        with Connection(self.redis) as conn:
            return look_after(conn, self.snap, [self.host_ip])

    def line(self) -> str:
        self.stopped = True
        if self.thread is not None:
            self.thread.join(2 * TIMEOUT_S)
        if self.snap is None or self.redis is None:
            return f"jobs in flight: unknown ({self.problem})"
        if not self.snap.jobs:
            return f"no job was in flight ({self.idle})" if self.idle else jf.describe(self.snap, [])
        try:
            results, served = self._look()
        except (OSError, RedisError, ValueError) as error:
            if self.last is not None:  # read while the stop went on, until Redis stopped answering
                done = [f for f in self.last[0] if f.state in (jf.FINISHED, jf.FAILED)]
                if len(done) == len(self.last[0]):
                    return jf.describe(self.snap, self.last[0]) + " (before Redis stopped)"
            ids = ", ".join(job.id for job in self.snap.jobs)
            return (
                f"{jf.jobs_were(len(self.snap.jobs))} in flight (ids {ids}); what became of them is unknown "
                f"(Redis did not answer after the stop: {error})"
            )
        return jf.describe(self.snap, results, served=served, redis_goes=self.redis_goes)


def addresses_of(compose: Compose, services: Collection[str]) -> set[str] | None:
    """The network addresses of these services' running containers (who they are to Redis): empty
    when none runs; None when Docker cannot tell them (a container on the host's network has none
    of its own: its consumers are not told apart from others, as before)."""
    from ..knowledge.failures import UserError
    from . import stack_facts

    try:
        names = [ct.name for ct in compose.containers() if ct.service in services and ct.running]
        facts = stack_facts.inspect_containers(compose.gateway, names)
    except UserError:
        return None
    if len(facts) < len(names):
        return None  # one went away meanwhile: not told apart, every consumer counts
    if any(not each.addresses for each in facts.values()):
        return None
    return {ip for each in facts.values() for ip in each.addresses}


@contextmanager
def around_stop(
    compose: Compose,
    say: Say,
    *,
    plan: DevEnv | None = None,
    follow: bool = False,
    also: Sequence[str] = (),
    redis_goes: bool = False,
) -> Iterator[None]:
    """Around a stop of the background worker (and of the services in ``also``, stopped with it):
    one line on their jobs in flight once stopped (nothing when the stop fails: its error says what
    happened; nothing when none of them was running). Jobs of other workers on the same Redis are not
    theirs and are not told. ``follow``: the stop takes Redis down too; read during the stop.
    ``redis_goes``: Redis is removed next with its keys (`stack.down`), so a cut job is not retried."""
    stopping = addresses_of(compose, {compose.settings.service, *also})
    if stopping is not None and not stopping:  # nothing of it runs: no job of it can be in flight
        yield
        return
    watch = StopWatch(redis_of(compose, plan), stopping, redis_goes).before()
    if follow:
        watch.follow()
    try:
        yield
    except BaseException:
        watch.stopped = True
        raise
    say(watch.line())


class DevJobs:
    """The dev worker's jobs when it stops: its queues (this machine's consumers) when watching starts,
    its jobs in flight when a stop signal arrives (``received``), their fate once it has ended."""

    POLL_S = 0.02

    def __init__(self, compose: Compose, plan: DevEnv, received: Callable[[], bool]):
        self.received = received
        self.redis = redis_of(compose, plan)
        self.queues: list[jf.QueueRef] = []
        self.snap: jf.Snapshot | None = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._watch, name="dev-jobs", daemon=True)

    def start(self) -> DevJobs:
        if self.redis is None:
            return self
        try:
            with Connection(self.redis) as conn:
                found, host_ip = clients(conn)
            self.queues = sorted({jf.QueueRef(c.prefix, c.queue) for c in found or [] if ip_of(c.addr) == host_ip})
        except (OSError, RedisError, ValueError):
            return self
        if self.queues:
            self.thread.start()
        return self

    def _watch(self) -> None:
        while not self.done.wait(self.POLL_S):
            if self.received():
                self.snap = self._held()
                return

    def _held(self) -> jf.Snapshot | None:
        assert self.redis is not None
        try:
            with Connection(self.redis) as conn:
                found, _ = clients(conn)
                return held_jobs(conn, self.queues, found or [])
        except (OSError, RedisError, ValueError):
            return None

    def line(self) -> str | None:
        """After the dev command ended: one line, or None when it held no queue."""
        self.done.set()
        if self.thread.is_alive():
            self.thread.join(1.0)
        if not self.queues or self.redis is None:
            return None
        # Ended by itself (no stop signal): what it still holds now is what it left behind.
        snap = self.snap or self._held()
        if snap is None:
            return "dev worker's jobs in flight: unknown (Redis did not answer)"
        if not snap.jobs:
            return f"dev worker's jobs: {jf.describe(snap, [])}" if self.snap is not None else None
        try:
            with Connection(self.redis) as conn:
                results, served = look_after(conn, snap, [])
        except (OSError, RedisError, ValueError) as error:
            return f"dev worker's jobs in flight: unknown (Redis did not answer: {error})"
        return f"dev worker's jobs: {jf.describe(snap, results, served=served)}"


# -- worker.status ------------------------------------------------------------------------------


@dataclass
class QueuesRead:
    """What `worker.status` reads of the worker's Redis: queues, their counts, the consumers, this
    machine's address as Redis sees it; or why it could not (``problem``)."""

    queues: list[jf.QueueRef] = field(default_factory=list)
    counts: dict[jf.QueueRef, dict[str, int]] = field(default_factory=dict)
    consumers: list[Consumer] = field(default_factory=list)
    host_ip: str = ""
    problem: str = ""


def read_queues(compose: Compose, containers: Sequence[ContainerState] | None = None) -> QueuesRead:
    """The queues on the worker's Redis (named by consumers or found by their keys), counted, in four
    pipelined round trips on one connection. With ``containers`` (the project's, as `worker.status`
    has read them) it asks Docker nothing."""
    redis = redis_of(compose, containers=containers)
    if redis is None:
        return QueuesRead(problem="no Redis answers at the worker's addresses")
    try:
        with Connection(redis) as conn:
            found, host_ip = clients(conn)
            queues = sorted(set(jf.queues_of(found or [])) | set(scan_queues(conn)))
            counted = jf.counts(queues, conn.send(jf.count_commands(queues)))
    except (OSError, RedisError, ValueError) as error:
        return QueuesRead(problem=f"Redis did not answer: {error}")
    return QueuesRead(queues, counted, found or [], host_ip)


def queues_view(read: QueuesRead, containers: dict[str, str], dev_session: bool) -> list[dict[str, Any]] | None:
    """``read`` as `worker.status` shows it (``containers``: ip -> container name); None when unreadable."""
    if read.problem:
        return None
    return jf.queue_view(read.queues, read.counts, read.consumers, containers, read.host_ip, dev_session)
