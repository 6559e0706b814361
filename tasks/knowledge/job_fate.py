"""What became of the jobs a stopped worker held, and what a queue holds, read from Redis (pure).

BullMQ (and Bull v3/v4 before it) keeps a queue under `<prefix>:<queue>:<suffix>` keys: the lists
`wait`, `active` (and `paused`), the sorted sets `delayed`, `prioritized` (BullMQ only), `completed`,
`failed`, one hash per job (`<prefix>:<queue>:<id>`: `processedOn`, `finishedOn`, `failedReason`, BullMQ's
`ats` attempts started and `stc` stalled count, Bull's `attemptsMade`) and, while a worker runs a job, its
lock `<prefix>:<queue>:<id>:lock` (a string with a TTL of `lockDuration`, 30 s by default, renewed by the
worker holding it). A worker that dies holding a job leaves it in `active` with its lock; once the lock has
expired, the stalled-job check of a worker on the queue (every `stalledInterval`, 30 s by default) moves it
back to wait (a second stall fails it): BullMQ's at-least-once.

The queues are found from the consumers' client names (`bullmq_clients.worker_name`: BullMQ's
`<prefix>:<base64(queue)>[:w:<name>]`, Bull's `<prefix>:<base64(queue)>`, the same without `:w:`), else
by scanning for `*:meta` (BullMQ's queue hash) and `*:id` (the job id counter of both) keys.

This module builds the commands and reads their replies; `tasks/drivers/job_fate.py` sends them.
A reply is what `RESP` gives: a str, None (nil), an int-like str, or a list of those.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .bullmq_clients import Consumer, ip_of

Reply = str | None | list[Any]
Command = tuple[str, ...]

#: BullMQ's defaults: a dead worker's lock lives up to `lockDuration`, its job is retried at the next
#: `stalledInterval` check after that.
LOCK_DURATION_S = 30
STALLED_INTERVAL_S = 30
#: SCAN patterns of the fallback (queues with no consumer connected): the BullMQ queue hash, the id counter.
SCAN_PATTERNS = ("*:meta", "*:id")
SCAN_COUNT = "1000"


@dataclass(frozen=True, order=True)
class QueueRef:
    prefix: str
    name: str

    def key(self, suffix: str) -> str:
        return f"{self.prefix}:{self.name}:{suffix}"

    def __str__(self) -> str:
        return self.name if self.prefix == "bull" else f"{self.prefix}:{self.name}"


def queues_of(consumers: Iterable[Consumer], skip_ips: Iterable[str] = ()) -> list[QueueRef]:
    """The queues these consumers serve (those connected from ``skip_ips`` left out), sorted."""
    skip = {ip for ip in skip_ips if ip}
    return sorted({QueueRef(c.prefix, c.queue) for c in consumers if ip_of(c.addr) not in skip})


def stopping_queues(
    consumers: Iterable[Consumer], host_ip: str, stopping_ips: Collection[str] | None
) -> tuple[list[QueueRef], list[QueueRef]]:
    """The queues whose jobs a stop of the background worker may cut, and the queues other consumers
    serve (left out of the key scan when the stopped containers name no queue). ``stopping_ips``: the
    addresses of the containers being stopped; None when Docker could not tell them, then every
    consumer that is not on this machine counts (as before another worker shared the Redis)."""
    consumers = list(consumers)
    if stopping_ips is None:
        return queues_of(consumers, [host_ip]), []
    stopping = set(stopping_ips)
    mine = sorted({QueueRef(c.prefix, c.queue) for c in consumers if ip_of(c.addr) in stopping})
    others = sorted({QueueRef(c.prefix, c.queue) for c in consumers if ip_of(c.addr) not in stopping})
    return mine, others


def survivors(consumers: Iterable[Consumer], before: Iterable[str], skip_ips: Iterable[str] = ()) -> set[QueueRef]:
    """The queues still consumed, after a stop, by a connection that was there before it (a new
    connection, the restarted worker's, cannot hold a lock taken before the stop)."""
    known = set(before)
    return set(queues_of([c for c in consumers if c.id in known], skip_ips))


def queue_of_key(key: str) -> QueueRef | None:
    """`bull:digest:meta` / `bull:digest:id` -> the queue (prefix `bull`, name `digest`); a prefix may hold
    colons (`{app}:jobs`), a queue name may not (BullMQ refuses one)."""
    head, sep, suffix = key.rpartition(":")
    if not sep or suffix not in ("meta", "id"):
        return None
    prefix, sep, name = head.rpartition(":")
    if not sep or not prefix or not name:
        return None
    return QueueRef(prefix, name)


def scan_cursor(reply: Reply) -> tuple[str, list[str]]:
    """A `SCAN` reply -> (next cursor, keys); cursor "0" when done."""
    if not isinstance(reply, list) or len(reply) != 2 or not isinstance(reply[1], list):
        return "0", []
    return str(reply[0]), [str(k) for k in reply[1] if isinstance(k, str)]


def candidate_queues(keys: Iterable[str]) -> list[QueueRef]:
    return sorted({q for q in (queue_of_key(k) for k in keys) if q is not None})


def confirm_commands(queue: QueueRef) -> list[Command]:
    """Is this a Bull/BullMQ queue, not an app's own `x:y:id` key? Its id counter is a string, or its
    `meta` a hash; and one of its lists or sets exists."""
    states = [queue.key(s) for s in ("wait", "active", "paused", "delayed", "completed", "failed", "prioritized")]
    return [("TYPE", queue.key("id")), ("TYPE", queue.key("meta")), ("EXISTS", *states)]


def confirmed(replies: Sequence[Reply]) -> bool:
    id_type, meta_type, exists = [*replies, None, None, None][:3]
    return (id_type == "string" or meta_type == "hash") and _int(exists) > 0


# -- the jobs in flight, before and after a stop -----------------------------------------------


@dataclass(frozen=True)
class Held:
    """A job in a queue's `active` list when looked at, and its lock then ("" when it had none)."""

    queue: QueueRef
    id: str
    lock: str = ""


@dataclass
class Snapshot:
    queues: list[QueueRef]
    jobs: list[Held] = field(default_factory=list)
    library: str = "BullMQ"  # "Bull" when the queues show no BullMQ (no version in `meta`, no `events` stream)
    #: The consumer connections (ids) when it was taken: only one of them can hold a lock from then.
    before: frozenset[str] = frozenset()
    #: Queues consumed then on which no stalled-job check was running (`checks`): a job cut there is
    #: not retried by the worker's coming back.
    unchecked: frozenset[QueueRef] = frozenset()


def active_commands(queues: Sequence[QueueRef]) -> list[Command]:
    """Per queue: its active list and its `meta` version (BullMQ writes `bullmq:<version>`)."""
    out: list[Command] = []
    for q in queues:
        out += [("LRANGE", q.key("active"), "0", "-1"), ("HGET", q.key("meta"), "version")]
    return out


def active_ids(queues: Sequence[QueueRef], replies: Sequence[Reply]) -> tuple[list[tuple[QueueRef, str]], str]:
    """(queue, job id) for each active job, and the library: "BullMQ" when a queue's `meta` carries a
    BullMQ version (BullMQ writes `bullmq:<version>`), else "Bull"."""
    jobs: list[tuple[QueueRef, str]] = []
    for i, q in enumerate(queues):
        ids = replies[2 * i]
        jobs += [(q, j) for j in (ids if isinstance(ids, list) else []) if isinstance(j, str)]
    return jobs, library_of_versions([replies[2 * i + 1] for i in range(len(queues))]) if queues else "BullMQ"


def library_of_versions(versions: Sequence[Reply]) -> str:
    return "BullMQ" if any(isinstance(v, str) and v.startswith("bullmq") for v in versions) else "Bull"


def check_commands(queues: Sequence[QueueRef]) -> list[Command]:
    """Per queue: the type of its `events` key (a stream in BullMQ of every version, which writes its
    version in `meta` only since 5.21; Bull has none) and the `stalled-check` key's PTTL: each stalled-
    job check sets it for `stalledInterval` and the next runs when it expires, so it is there while a
    check runs on the queue (a BullMQ >= 2 or Bull worker; before 2.0, only a QueueScheduler)."""
    out: list[Command] = []
    for q in queues:
        out += [("TYPE", q.key("events")), ("PTTL", q.key("stalled-check"))]
    return out


def checks(queues: Sequence[QueueRef], replies: Sequence[Reply]) -> tuple[bool, list[QueueRef]]:
    """From ``check_commands``' replies: is it BullMQ (an `events` stream), and the queues with no
    `stalled-check` key now."""
    bullmq = any(replies[2 * i] == "stream" for i in range(len(queues)))
    return bullmq, [q for i, q in enumerate(queues) if _int(replies[2 * i + 1], -2) == -2]


def lock_commands(jobs: Sequence[tuple[QueueRef, str]]) -> list[Command]:
    return [("GET", q.key(f"{j}:lock")) for q, j in jobs]


def snapshot(
    queues: Sequence[QueueRef],
    jobs: Sequence[tuple[QueueRef, str]],
    locks: Sequence[Reply],
    library: str,
    consumers: Iterable[Consumer] = (),
    unchecked: Iterable[QueueRef] = (),
) -> Snapshot:
    """The jobs in flight: active AND locked (one active without a lock was cut before, not now)."""
    held = [Held(q, j, lock) for (q, j), lock in zip(jobs, locks, strict=False) if isinstance(lock, str) and lock]
    return Snapshot(list(queues), held, library, frozenset(c.id for c in consumers), frozenset(unchecked))


def after_commands(snap: Snapshot) -> list[Command]:
    """Per queue its active list and when its next stalled-job check may run (the `stalled-check` key
    lives `stalledInterval`); per job its hash's finish fields, its lock with the time it has left,
    and whether the last check marked it (the `stalled` set: the next check moves it if unlocked)."""
    out: list[Command] = []
    for q in snap.queues:
        out += [("LRANGE", q.key("active"), "0", "-1"), ("PTTL", q.key("stalled-check"))]
    for job in snap.jobs:
        out += [
            ("HMGET", job.queue.key(job.id), "finishedOn", "failedReason", "processedOn"),
            ("GET", job.queue.key(f"{job.id}:lock")),
            ("PTTL", job.queue.key(f"{job.id}:lock")),
            ("SISMEMBER", job.queue.key("stalled"), job.id),
        ]
    return out


#: A job's fate after the stop.
FINISHED, FAILED, REQUEUED, CUT, LOCKED = "finished", "failed", "requeued", "cut", "locked"


@dataclass(frozen=True)
class Fate:
    job: Held
    state: str
    lock_left_ms: int = 0  # CUT: how long the dead worker's lock still blocks the retry
    #: CUT: when a worker on its queue retries it, in ms, from the stalled-job check's own key
    #: (None: unknown, no check has run lately)
    retry_in_ms: int | None = None


def retry_estimate(lock_left_ms: int, marked: bool, check_in_ms: int) -> int | None:
    """When the stalled-job check moves a cut job back to wait (a worker running the checks): the
    next check (in ``check_in_ms``, the `stalled-check` key's PTTL) if the last one marked it and its
    lock has expired by then; else the one after (`STALLED_INTERVAL_S` later: BullMQ's default, the
    interval itself is not stored). None when no check has run lately (no key)."""
    if check_in_ms < 0:
        return None
    if marked and lock_left_ms <= check_in_ms:
        return check_in_ms
    return check_in_ms + STALLED_INTERVAL_S * 1000


def fates(snap: Snapshot, replies: Sequence[Reply], serving: set[QueueRef] | None) -> list[Fate]:
    """Each job of ``snap`` after the stop, from ``after_commands``' replies; ``serving``: the queues a
    connection from before the stop, other than the stopped worker's, still consumes (`survivors`;
    None: unknown).

    Gone from active with `finishedOn`: FINISHED, or FAILED (a `failedReason`); its hash removed
    (removeOnComplete/removeOnFail): FINISHED; gone without either: REQUEUED (back to wait or delayed).
    Still active: CUT when nothing can be running it any more (no lock, or the lock from before while no
    other worker consumes its queue: the stopped worker's, left to expire after its PTTL); else LOCKED
    (a lock another connected worker may hold: Redis cannot tell whose)."""
    n = 2 * len(snap.queues)
    active = {q: {str(j) for j in _list(replies[2 * i])} for i, q in enumerate(snap.queues)}
    check_in = {q: _int(replies[2 * i + 1], -2) for i, q in enumerate(snap.queues)}
    out: list[Fate] = []
    for k, job in enumerate(snap.jobs):
        fields, lock, pttl, marked = replies[n + 4 * k : n + 4 * k + 4]
        finished_on, failed_reason, processed_on = [*_list(fields), None, None, None][:3]
        if job.id in active.get(job.queue, set()):
            locked = isinstance(lock, str) and lock != ""
            if locked and (serving is None or job.queue in serving or lock != job.lock):
                out.append(Fate(job, LOCKED))
                continue
            left = max(_int(pttl), 0) if locked else 0
            estimate = retry_estimate(left, _int(marked) == 1, check_in.get(job.queue, -2))
            out.append(Fate(job, CUT, left, estimate))
        elif finished_on:
            out.append(Fate(job, FAILED if failed_reason else FINISHED))
        elif isinstance(fields, list) and not any((finished_on, failed_reason, processed_on)):
            out.append(Fate(job, FINISHED))  # its hash is gone: removed on completion
        else:
            out.append(Fate(job, REQUEUED))
    return out


def _ids(fates_: Sequence[Fate]) -> str:
    return ", ".join(f.job.id for f in fates_)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def jobs_were(n: int) -> str:
    return "1 job was" if n == 1 else f"{n} jobs were"


def retry_text(cut: Sequence[Fate], library: str, served: bool) -> str:
    """When the stalled-job check will give cut jobs to a worker again. ``served``: a worker consumes
    their queue now (it runs the checks); else one must first come back."""
    lock_s = max((f.lock_left_ms for f in cut), default=0) / 1000
    lock = f" (the stopped worker's lock expires in {lock_s:.0f} s)" if lock_s >= 0.5 else ""
    estimates = [f.retry_in_ms for f in cut]
    window = f"{STALLED_INTERVAL_S}-{2 * STALLED_INTERVAL_S} s"
    if not served:
        when = f"once a worker consumes the queue again, about {window} after it starts"
    elif estimates and all(e is not None for e in estimates):
        when = f"within about {max(e for e in estimates if e is not None) / 1000:.0f} s"
    else:
        when = f"within about {window}"
    return f"{library}'s stalled-job check retries them {when}{lock}"


def describe(
    snap: Snapshot | None, results: Sequence[Fate] | None, *, served: bool = False, redis_goes: bool = False
) -> str:
    """ONE line: `all N jobs in flight finished` / `N jobs cut (ids ...): BullMQ retries them ...` /
    `no job was in flight`, with what else happened (failed, back in the queue, held by another worker)."""
    if snap is None or results is None:
        return "jobs in flight: unknown (their queue could not be read from Redis)"
    queues = ", ".join(f"`{q}`" for q in snap.queues) or "no queue found"
    if not snap.jobs:
        return f"no job was in flight ({queues})"
    by: dict[str, list[Fate]] = {}
    for f in results:
        by.setdefault(f.state, []).append(f)
    done = by.get(FINISHED, []) + by.get(FAILED, [])
    cut = by.get(CUT, [])
    parts: list[str] = []
    retried = [f for f in cut if f.job.queue not in snap.unchecked]
    stuck = [f for f in cut if f.job.queue in snap.unchecked]
    if redis_goes:  # removed with Redis's keys next: neither retried nor left active
        retried, stuck = [], []
        parts.append(f"{_plural(len(cut), 'job')} cut (ids {_ids(cut)}): lost with Redis's keys, not retried")
    if retried:
        parts.append(
            f"{_plural(len(retried), 'job')} cut (ids {_ids(retried)}): {retry_text(retried, snap.library, served)}"
        )
    if stuck:
        names = ", ".join(f"`{q}`" for q in dict.fromkeys(f.job.queue for f in stuck))
        parts.append(
            f"{_plural(len(stuck), 'job')} cut (ids {_ids(stuck)}): no stalled-job check runs on {names} (none was "
            "running while it was consumed: BullMQ before 2.0 runs it only in a QueueScheduler), so they stay "
            "active until one runs"
        )
    if done and not cut and len(done) == len(results):
        failed = by.get(FAILED, [])
        parts.append(
            f"all {_plural(len(done), 'job')} in flight finished"
            + (f" ({len(failed)} failed: {_ids(failed)})" if failed else "")
        )
    elif done:
        parts.append(f"{len(done)} finished")
    if by.get(REQUEUED):
        parts.append(f"{len(by[REQUEUED])} back in the queue (ids {_ids(by[REQUEUED])})")
    if by.get(LOCKED):
        parts.append(
            f"{len(by[LOCKED])} still locked (ids {_ids(by[LOCKED])}: held by another worker on the queue, "
            "or the stopped one's lock until it expires)"
        )
    return "; ".join(parts)


# -- worker.status: what each queue holds, and who consumes it ----------------------------------


def count_commands(queues: Sequence[QueueRef]) -> list[Command]:
    out: list[Command] = []
    for q in queues:
        out += [
            ("LLEN", q.key("wait")),
            ("LLEN", q.key("paused")),
            ("ZCARD", q.key("prioritized")),
            ("LLEN", q.key("active")),
            ("ZCARD", q.key("delayed")),
            ("ZCARD", q.key("failed")),
        ]
    return out


def counts(queues: Sequence[QueueRef], replies: Sequence[Reply]) -> dict[QueueRef, dict[str, int]]:
    """waiting (wait + paused + BullMQ's prioritized; Bull's `priority` set mirrors its wait list and is
    not counted), active, delayed, failed."""
    out = {}
    for i, q in enumerate(queues):
        wait, paused, prioritized, active, delayed, failed = (_int(r) for r in replies[6 * i : 6 * i + 6])
        out[q] = {"waiting": wait + paused + prioritized, "active": active, "delayed": delayed, "failed": failed}
    return out


DEV_WORKER = "dev worker"


def consumer_owner(consumer: Consumer, containers: dict[str, str], host_ip: str, dev_session: bool) -> str:
    """Who holds a consumer connection: the container with its address (``containers``: ip -> name),
    this machine (the dev worker during a session), else its address."""
    ip = ip_of(consumer.addr)
    if ip in containers:
        return containers[ip]
    if host_ip and ip == host_ip:
        return DEV_WORKER if dev_session else "a process on this machine"
    return f"unknown ({ip})"


def its_queues(
    queues: Sequence[QueueRef],
    consumers: Sequence[Consumer],
    containers: dict[str, str],
    host_ip: str,
    dev_session: bool,
) -> list[QueueRef]:
    """A worker's queues: those its container (an address of ``containers``) consumes, or, during its
    dev session, the dev worker (this machine); when it consumes none (stopped), the queues nobody
    consumes: its own are among them, and their jobs wait."""
    own = {
        QueueRef(c.prefix, c.queue)
        for c in consumers
        if ip_of(c.addr) in containers or (dev_session and host_ip and ip_of(c.addr) == host_ip)
    }
    if own:
        return [q for q in queues if q in own]
    served = {QueueRef(c.prefix, c.queue) for c in consumers}
    return [q for q in queues if q not in served]


def queue_view(
    queues: Sequence[QueueRef],
    queue_counts: dict[QueueRef, dict[str, int]],
    consumers: Sequence[Consumer],
    containers: dict[str, str],
    host_ip: str,
    dev_session: bool,
) -> list[dict[str, Any]]:
    """The `queues` of `worker.status --json`: per queue its counts and its consumers (`its_queues`)."""
    out = []
    for q in its_queues(queues, consumers, containers, host_ip, dev_session):
        mine = [c for c in consumers if (c.prefix, c.queue) == (q.prefix, q.name)]
        out.append(
            {
                "queue": q.name,
                "prefix": q.prefix,
                **queue_counts.get(q, {"waiting": 0, "active": 0, "delayed": 0, "failed": 0}),
                "consumers": [
                    {
                        "by": consumer_owner(c, containers, host_ip, dev_session),
                        "address": c.addr,
                        "worker": c.worker or None,
                    }
                    for c in mine
                ],
            }
        )
    return out


def render_queues(queues: list[dict[str, Any]] | None, problem: str = "") -> list[str]:
    """Text lines of ``queue_view``: one per queue, its consumers after it."""
    if queues is None:
        return [f"  queues:         unknown ({problem})" if problem else "  queues:         unknown"]
    if not queues:
        return ["  queues:         none (it consumes none now, and every queue in Redis has a consumer)"]
    lines = []
    if not any(q["consumers"] for q in queues):
        # Its own queues have it as a consumer: these are the unserved ones, not necessarily its own.
        lines.append("  queues:         it consumes none now; the queues on its Redis no one consumes:")
    for q in queues:
        name = q["queue"] if q["prefix"] == "bull" else f"{q['prefix']}:{q['queue']}"
        by: dict[str, int] = {}
        for c in q["consumers"]:
            by[c["by"]] = by.get(c["by"], 0) + 1
        who = ", ".join(f"{owner}" + (f" ({n} connections)" if n > 1 else "") for owner, n in by.items())
        lines.append(
            f"  queue {name}: {q['waiting']} waiting, {q['active']} active, {q['delayed']} delayed, "
            f"{q['failed']} failed; consumers: {who or 'none'}"
        )
    return lines


def _list(value: Reply) -> list[Any]:
    return value if isinstance(value, list) else []


def _int(value: Reply, default: int = 0) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return default
