"""Which processes of a dev command hold the queue, and which only wrap them (pure).

A dev command is rarely the worker itself: `npm run dev` -> `sh -c` -> `tsx watch` -> node, pnpm ->
tsx -> node, `concurrently`, a shipped runner, a node:cluster primary with N forks. A stop signal to
the wrappers does not reach the worker well: `sh` dies at once and orphans the rest, `tsx watch`
SIGKILLs its child 5 s after a stop, pnpm and tsx both relay a signal the worker already got, a
cluster primary forwards nothing. The processes holding jobs are known by their connection: a
consumer is a process of the dev command's tree with an established TCP connection to the queue's
Redis as the dev worker dials it (the Redis relay's address when the relay is used). On a stop,
``inv dev.worker`` signals exactly those, once each, waits for them to exit, and only then the
wrappers (`tasks/drivers/consumer_stop.py`).

The process table comes from `tasks/drivers/consumer_procs.py` (psutil); this module only chooses.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ProcRow:
    """One process as read from the system."""

    pid: int
    ppid: int
    name: str = ""
    cmdline: tuple[str, ...] = ()
    #: Remote (ip, port) of each established TCP connection; None when its connections could not be read.
    remotes: tuple[tuple[str, int], ...] | None = ()
    created: float = 0.0  # its start time (a pid reused later is another process)


@dataclass(frozen=True)
class Target:
    """An address the dev worker dials Redis at: ``host`` an IP (None: any host), ``port``."""

    host: str | None
    port: int


@dataclass(frozen=True)
class StopPlan:
    """How to stop a dev command: its consumers first (each once), then what wraps them."""

    consumers: list[int] = field(default_factory=list)  # hold a connection to Redis: signalled first
    wrappers: list[int] = field(default_factory=list)  # their ancestors in the tree: signalled after
    others: list[int] = field(default_factory=list)  # the rest (esbuild's service, tsc --watch): with the group
    names: dict[int, str] = field(default_factory=dict)
    unreadable: bool = False  # no process's connections could be read


def same_host(a: str, b: str) -> bool:
    """Are two IPs the same host? Every loopback address is one (a relay at 127.0.0.1, `localhost`
    resolved to ::1), and an IPv4-mapped IPv6 address is its IPv4 one."""
    try:
        x, y = ipaddress.ip_address(a.partition("%")[0]), ipaddress.ip_address(b.partition("%")[0])
    except ValueError:
        return a == b
    if isinstance(x, ipaddress.IPv6Address) and x.ipv4_mapped:
        x = x.ipv4_mapped
    if isinstance(y, ipaddress.IPv6Address) and y.ipv4_mapped:
        y = y.ipv4_mapped
    return x == y or (x.is_loopback and y.is_loopback)


def dials(remotes: Iterable[tuple[str, int]], targets: Sequence[Target]) -> bool:
    """Does one of these connections lead to one of the targets?"""
    return any(
        port == t.port and (t.host is None or same_host(host, t.host)) for host, port in remotes for t in targets
    )


def tree(table: Sequence[ProcRow], roots: Iterable[int]) -> list[int]:
    """The roots present in the table and every process under them, parents before children."""
    children: dict[int, list[int]] = {}
    for row in table:
        children.setdefault(row.ppid, []).append(row.pid)
    present = {row.pid for row in table}
    found: list[int] = []
    seen: set[int] = set()
    queue = [pid for pid in roots if pid in present]
    while queue:
        pid = queue.pop(0)
        if pid in seen:
            continue
        seen.add(pid)
        found.append(pid)
        queue.extend(sorted(children.get(pid, [])))
    return found


def plan(table: Sequence[ProcRow], roots: Iterable[int], targets: Sequence[Target]) -> StopPlan:
    """Consumers = the processes of the trees under ``roots`` (the dev command, and the members of its
    process group that were orphaned) holding a connection to a target, every fork included; wrappers =
    their ancestors within the trees; others = the rest of the trees."""
    rows = {row.pid: row for row in table}
    members = tree(table, roots)
    consumers = [pid for pid in members if rows[pid].remotes and dials(rows[pid].remotes or (), targets)]
    wrappers: list[int] = []
    inside = set(members)
    for pid in consumers:
        parent = rows[pid].ppid
        while parent in inside and parent not in consumers and parent not in wrappers:
            wrappers.append(parent)
            parent = rows[parent].ppid
    wrappers.sort(key=members.index)
    others = [pid for pid in members if pid not in consumers and pid not in wrappers]
    readable = [pid for pid in members if rows[pid].remotes is not None]
    return StopPlan(
        consumers=consumers,
        wrappers=wrappers,
        others=others,
        names={pid: label(rows[pid]) for pid in members},
        unreadable=bool(members) and not readable,
    )


def label(row: ProcRow) -> str:
    """A short name for a line: `node`, `tsx watch`, `sh`."""
    name = row.name or (row.cmdline[0].rsplit("/", 1)[-1] if row.cmdline else "?")
    return name


def describe(pids: Sequence[int], names: dict[int, str]) -> str:
    """`pid 12 (node), 13 (node)`."""
    if not pids:
        return "none"
    parts = [f"{pid} ({names[pid]})" if names.get(pid) else str(pid) for pid in pids]
    return ("pid " if len(pids) == 1 else "pids ") + ", ".join(parts)


def targets_text(targets: Sequence[Target]) -> str:
    """`127.0.0.1:45123` or `port 6379`, for a line."""
    if not targets:
        return "no known address"
    return ", ".join(f"{t.host}:{t.port}" if t.host else f"port {t.port}" for t in targets)
