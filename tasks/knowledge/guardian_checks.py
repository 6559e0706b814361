"""The guardian's decisions (pure): is the killed session's stop of the background worker over, and
does the worker it brought back serve its queue again.

The guardian (tasks/drivers/handover/guardian.py) takes the background worker as restored only when
the dead session's `docker compose stop` has finished (else a restore is undone by it seconds later),
the container runs, and a BullMQ worker of that container is connected to Redis again. A worker whose
Redis cannot be read, or that shows no BullMQ connection in the time allowed (a Bull app), is taken as
restored on its container's readiness, and the log says so.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from .bullmq_clients import Consumer, ip_of


def stop_action(alive: bool, waited_s: float, bound_s: float) -> str:
    """What to do about the dead session's stop command: "done" (none runs), "wait", or "end" once it
    has run past ``bound_s`` (the engine's own stop ends at the grace period: past it, the command
    itself hangs, e.g. on an engine that stopped answering)."""
    if not alive:
        return "done"
    return "end" if waited_s > bound_s else "wait"


def matches_stop(cmdline: list[str], argv: list[str], created: float, since: float) -> bool:
    """Is this process (``cmdline``, created at ``created``) the stop command ``argv`` a session was
    about to run at ``since``? (Found this way when the session died before it recorded the pid.)
    The program is compared by its name (the command was resolved on PATH when it ran)."""
    if len(cmdline) != len(argv) or not argv or created < since - 1.0:
        return False
    name = cmdline[0].replace("\\", "/").rsplit("/", 1)[-1].removesuffix(".exe")
    wanted = argv[0].replace("\\", "/").rsplit("/", 1)[-1].removesuffix(".exe")
    return name == wanted and cmdline[1:] == argv[1:]


@dataclass(frozen=True)
class Served:
    restored: bool
    detail: str  # how it was confirmed, or what is awaited


def served(
    running: bool, consumers: list[Consumer] | None, container_ips: Collection[str], waited: float | None = None
) -> Served:
    """Does the restored worker serve its queue? ``consumers`` are the BullMQ worker connections in
    Redis (None: Redis cannot be read); ``container_ips`` the container's addresses (empty when unknown:
    then any BullMQ worker connection counts: the dead session's stop has finished and its dev worker
    was stopped, so none of theirs is left). ``waited``: seconds waited in vain for its connection, after
    which a running container is taken on its readiness (a Bull app, or a Redis that keeps no client
    names, never shows a BullMQ worker name)."""
    if not running:
        return Served(False, "its container is not running")
    if consumers is None:
        return Served(
            True, "its BullMQ connections cannot be read from Redis: taken as restored on its container's readiness"
        )
    mine = [c for c in consumers if not container_ips or ip_of(c.addr) in container_ips]
    if not mine and waited is not None:
        return Served(
            True,
            f"no BullMQ worker of its container appeared in Redis in {waited:g} s (a Bull app, or client names "
            "Redis does not keep): taken as restored on its container's readiness",
        )
    if not mine:
        return Served(False, "no BullMQ worker of its container is connected to Redis yet")
    queues = ", ".join(f"`{q}`" for q in sorted({c.queue for c in mine}))
    return Served(True, f"it consumes {queues} again (a BullMQ worker of its container in Redis)")


def restoring_line(session_pid: int, since: str, guardian_pid: int, service_name: str) -> str:
    """`worker.status`'s line while the guardian of a killed session is at work."""
    return (
        f"dev worker: a session (pid {session_pid}, since {since}) was killed; its guardian (pid {guardian_pid}) is "
        f"restoring the {service_name} (it waits for the session's stop of it to finish): nothing to run"
    )
