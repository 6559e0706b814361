"""Reading a dev command's processes and their TCP connections (psutil), for the consumer-first stop.

What is read: the dev command's process, every process under it (a runner's worker in a process group
of its own included), and the members of its process group that lost their parent (`sh -c` dying
orphans `tsx watch` and the worker). For each: parent, name, command line, start time and the
remote addresses of its established TCP connections. The choice (which of them are the consumers)
is `tasks/knowledge/consumer_procs.py`.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable, Sequence

from ..knowledge.consumer_procs import ProcRow, StopPlan, Target, plan


def targets(addresses: Iterable[tuple[str, int]]) -> list[Target]:
    """The addresses the dev worker dials Redis at, hosts resolved to IPs (an unresolvable host: any
    host on that port)."""
    found: list[Target] = []
    for host, port in addresses:
        ips: list[str | None] = []
        try:
            ips = [*sorted({str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)})]
        except (OSError, UnicodeError):
            ips = [None]
        for ip in ips or [None]:
            target = Target(ip, int(port))
            if target not in found:
                found.append(target)
    return found


def _connections(proc: object) -> list[object]:
    reader = getattr(proc, "net_connections", None) or proc.connections  # type: ignore[attr-defined]
    return list(reader(kind="tcp"))


def read_table(root: int) -> list[ProcRow]:
    """The dev command's processes (empty when ``root`` is gone)."""
    import psutil

    procs: dict[int, psutil.Process] = {}
    try:
        top = psutil.Process(root)
        procs[top.pid] = top
        for child in top.children(recursive=True):
            procs[child.pid] = child
    except psutil.Error:
        pass
    if hasattr(os, "getpgid"):  # orphans of the dev command's group (and what they started)
        for proc in psutil.process_iter():
            if proc.pid in procs:
                continue
            try:
                if os.getpgid(proc.pid) != root:
                    continue
                procs[proc.pid] = proc
                for child in proc.children(recursive=True):
                    procs.setdefault(child.pid, child)
            except (OSError, psutil.Error):
                continue
    rows = []
    for proc in procs.values():
        try:
            with proc.oneshot():
                if proc.status() == psutil.STATUS_ZOMBIE:
                    continue
                ppid, name, created = proc.ppid(), proc.name(), proc.create_time()
                try:
                    cmdline = tuple(proc.cmdline())
                except psutil.Error:
                    cmdline = ()
            remotes: tuple[tuple[str, int], ...] | None
            try:
                remotes = tuple(
                    (str(c.raddr[0]), int(c.raddr[1]))  # type: ignore[attr-defined]
                    for c in _connections(proc)
                    if c.raddr and c.status == psutil.CONN_ESTABLISHED  # type: ignore[attr-defined]
                )
            except psutil.AccessDenied:
                remotes = None
        except psutil.Error:
            continue
        rows.append(ProcRow(proc.pid, ppid, name, cmdline, remotes, created))
    return rows


def roots_of(root: int, table: Sequence[ProcRow]) -> list[int]:
    """The dev command and the members of its group whose parent is outside the table (orphans)."""
    pids = {row.pid for row in table}
    found = [root]
    if hasattr(os, "getpgid"):
        for row in table:
            if row.pid != root and row.ppid not in pids:
                found.append(row.pid)
    return found


def find(root: int, wanted: Sequence[Target]) -> StopPlan | None:
    """How to stop the dev command, or None when its processes cannot be read at all."""
    try:
        table = read_table(root)
    except Exception:  # psutil missing a platform part, /proc unreadable: the caller falls back
        return None
    found = plan(table, roots_of(root, table), wanted)
    return None if found.unreadable else found


def alive(pid: int, created: float | None = None) -> bool:
    """Is this process (the one started at ``created``, when given) still running (not a zombie)?"""
    import psutil

    try:
        proc = psutil.Process(pid)
        if created is not None and abs(proc.create_time() - created) > 0.01:
            return False  # the pid was reused
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def created(pid: int) -> float | None:
    import psutil

    try:
        return float(psutil.Process(pid).create_time())
    except psutil.Error:
        return None
