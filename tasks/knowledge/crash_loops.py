"""Did a service of the stack restart while it was being started? (pure: reads `docker inspect`)

`docker compose up --wait` takes a container without a healthcheck as up the moment it runs, so a
service in a crash loop (it runs 0.3 s, exits 1, is restarted by its policy) passes the wait while it
never stays up (seen: `stack.up` returned 0 in 3.7 s while a side service restarted 5 times in 10 s).
So after the wait, every container is compared with what it was before `up` (its restart count, by
container id: a recreated container starts again at 0), and one without a healthcheck is watched until
it has been up for `readiness.STABLE_WITHOUT_HEALTHCHECK_S`. A one-shot service that exited 0 is fine.
A container this `up` never started (the same one, with the same start time: an `up` that failed
before it, a worker stopped earlier with `worker.down`) is not blamed for exiting before it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from .readiness import STABLE_WITHOUT_HEALTHCHECK_S


@dataclass(frozen=True)
class Started:
    """One container as `docker inspect` describes it."""

    id: str
    name: str
    service: str
    status: str  # running, restarting, exited, ...
    restarts: int
    exit_code: int
    healthcheck: bool
    started_at: float | None  # epoch seconds, None when unknown
    restart_policy: str


def parse_inspect(output: str) -> list[Started]:
    """`docker inspect` JSON of the project's containers -> Started entries (unreadable ones skipped)."""
    try:
        items = json.loads(output or "[]")
    except ValueError:
        return []
    found = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        state = item.get("State") or {}
        config = item.get("Config") or {}
        labels = config.get("Labels") or {}
        policy = ((item.get("HostConfig") or {}).get("RestartPolicy") or {}).get("Name") or "no"
        found.append(
            Started(
                id=str(item.get("Id", "")),
                name=str(item.get("Name", "")).lstrip("/"),
                service=str(labels.get("com.docker.compose.service", "")),
                status=str(state.get("Status", "")),
                restarts=int(item.get("RestartCount") or 0),
                exit_code=int(state.get("ExitCode") or 0),
                healthcheck=bool(state.get("Health")),
                started_at=_epoch(str(state.get("StartedAt") or "")),
                restart_policy=str(policy),
            )
        )
    return found


def _epoch(stamp: str) -> float | None:
    """`2026-12-07T05:20:01.123456789Z` -> epoch seconds (Docker writes nanoseconds; Python reads micro)."""
    if not stamp or stamp.startswith("0001-"):
        return None
    head, _, fraction = stamp.rstrip("Z").partition(".")
    try:
        whole = datetime.fromisoformat(head + "+00:00").timestamp()
    except ValueError:
        return None
    return whole + (float(f"0.{fraction[:6]}") if fraction.isdigit() else 0.0)


def untouched(before: Mapping[str, Started], container: Started) -> bool:
    """The same container as before `up`, not started since (its start time and restart count unchanged)."""
    was = before.get(container.id)
    return was is not None and (was.started_at, was.restarts) == (container.started_at, container.restarts)


def restarted(before: Mapping[str, Started], now: list[Started], services: list[str]) -> list[tuple[str, str]]:
    """(service, why) for each of ``services`` whose container restarted since ``before`` (by container
    id), keeps restarting, or exited with a non-zero code after this `up` started it."""
    failing = []
    for container in now:
        if container.service not in services:
            continue
        was = before.get(container.id)
        times = container.restarts - (was.restarts if was else 0)
        if container.status == "restarting" or times > 0:
            # ExitCode is the last exit's only while it is down (a running container shows 0)
            code = f", last exit code {container.exit_code}" if container.status != "running" else ""
            what = (
                f"restarted {times} time{'s' if times != 1 else ''} while starting" if times > 0 else "keeps restarting"
            )
            failing.append((container.service, f"{what}{code}: a crash loop"))
        elif container.status in ("exited", "dead") and container.exit_code != 0 and not untouched(before, container):
            failing.append((container.service, f"exited with code {container.exit_code}"))
    return list(dict.fromkeys(failing))


def still_settling(now: list[Started], services: list[str], clock: float, watched_s: float) -> list[str]:
    """Services with a running container and no healthcheck not yet up for the stable time: by its
    start time (Docker's clock), or by how long this wait has watched it when that is unknown."""
    pending = []
    for container in now:
        if container.service not in services or container.status != "running" or container.healthcheck:
            continue
        up_for = clock - container.started_at if container.started_at is not None else watched_s
        # never watched longer than the stable time itself, whatever Docker's clock says
        if up_for < STABLE_WITHOUT_HEALTHCHECK_S and watched_s < STABLE_WITHOUT_HEALTHCHECK_S:
            pending.append(container.service)
    return list(dict.fromkeys(pending))
