"""Is a started worker container ready, still starting, or failing? (pure: reads `docker inspect`'s State
and what Redis says about the container's queue consumers)

`up -d` returns as soon as the container is created and started; a worker that crashes at start
then sits in a restart loop under `restart: unless-stopped` while `up` has exited 0, and a worker
that runs but never consumes (it failed to reach its database and sat idle) looks just as up. So
every start (worker.up, stack.up, prodlike.up, a dev session's restore) waits for one of these
verdicts. What ready means:

- with a healthcheck: healthy (the app's own word). At the end of a dev session a consumer of the
  container on the queue is enough too: the queue is served, the next healthcheck tick is not awaited;
- without one: a BullMQ/Bull worker connection from the container's address in Redis's `CLIENT LIST`
  (see `bullmq_clients`), within `worker.consume_within`;
- where that cannot be watched (`consume_within: never`, a Redis that cannot be found or read, a
  container without an address of its own): running for a moment without a restart.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .bullmq_clients import Consumer, ip_of

#: Without a healthcheck (and no consumer to watch), "running" this long with no restart counts as started.
STABLE_WITHOUT_HEALTHCHECK_S = 2.0


@dataclass(frozen=True)
class Verdict:
    ready: bool
    failed: bool
    reason: str  # why not ready (empty when ready)

    @property
    def waiting(self) -> bool:
        return not self.ready and not self.failed


@dataclass(frozen=True)
class Consumers:
    """What Redis says in one poll: whether a worker connection of the container is there."""

    consuming: bool
    redis_at: str  # `host:port` of the Redis asked (for the failure line)
    bound_s: float  # `worker.consume_within`, in seconds
    #: A consumer ends the wait even when the container has a healthcheck (a dev session's restore).
    ends_wait: bool = False


def judge(
    state: dict[str, Any],
    restart_count: int,
    *,
    started_restarts: int,
    running_for_s: float,
    consumers: Consumers | None = None,
) -> Verdict:
    """Judge one `docker inspect` State (and RestartCount) of the worker container.

    ``started_restarts`` is the RestartCount seen when the wait began: any restart since is a crash.
    ``running_for_s`` is how long the container has been running (since its own StartedAt, or since
    this wait saw it running, whichever is longer). ``consumers``: None when consumption is not
    watched (container readiness only).
    """
    status = str(state.get("Status") or "")
    health = state.get("Health") or {}
    health_status = str(health.get("Status") or "") if isinstance(health, dict) else ""
    exit_code = state.get("ExitCode")
    if state.get("Restarting") or status == "restarting" or restart_count > started_restarts:
        return Verdict(False, True, f"it crashed at start and is restarting (exit code {exit_code})")
    if status in {"exited", "dead"}:
        return Verdict(False, True, f"it exited (exit code {exit_code})")
    if status != "running":
        return Verdict(False, False, f"it is {status or 'not started'}")
    if consumers is not None and consumers.consuming and (not health_status or consumers.ends_wait):
        return Verdict(True, False, "it consumes its queue")
    if health_status == "healthy":
        return Verdict(True, False, "its healthcheck passes")
    if health_status == "unhealthy":
        return Verdict(False, True, "its healthcheck reports unhealthy")
    if health_status:  # "starting"
        return Verdict(False, False, "its healthcheck has not passed yet")
    if consumers is not None:
        if running_for_s >= consumers.bound_s:
            return Verdict(False, True, not_consuming(running_for_s, consumers))
        return Verdict(False, False, "it runs but consumes no queue yet")
    if running_for_s >= STABLE_WITHOUT_HEALTHCHECK_S:
        return Verdict(True, False, f"up {_seconds(running_for_s)} without a restart; it has no healthcheck")
    return Verdict(False, False, "it has no healthcheck; waiting to see it stay up")


def not_consuming(running_for_s: float, consumers: Consumers) -> str:
    """The failure of a worker that runs but does not consume."""
    return (
        f"it has run {_seconds(running_for_s)} without consuming a queue (no BullMQ/Bull worker connection from "
        f"its container in `CLIENT LIST` of the Redis at {consumers.redis_at}; worker.consume_within is "
        f"{_seconds(consumers.bound_s)}; `never` if it consumes no queue)"
    )


def _seconds(value: float) -> str:
    return f"{value:.0f} s" if value >= 10 else f"{value:.1f} s"


def consumes(consumers: Iterable[Consumer], addresses: Collection[str]) -> bool:
    """Is one of these BullMQ/Bull worker connections from one of the container's ``addresses``?"""
    return any(ip_of(c.addr) in addresses for c in consumers)


def container_addresses(details: dict[str, Any]) -> set[str]:
    """The container's own network addresses from `docker inspect` (empty: `network_mode: host`, none,
    or another container's network, where Redis cannot tell its connections from others)."""
    networks = (details.get("NetworkSettings") or {}).get("Networks") or {}
    found = set()
    for network in networks.values() if isinstance(networks, dict) else ():
        for key in ("IPAddress", "GlobalIPv6Address"):
            value = (network or {}).get(key)
            if value:
                found.add(str(value))
    return found


_STARTED = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$")


def up_for_s(state: dict[str, Any], now_epoch: float) -> float:
    """How long the container has run, from its State.StartedAt (`2026-12-07T05:00:01.123456789Z`);
    0 when unknown or in the future (a skewed clock)."""
    match = _STARTED.match(str(state.get("StartedAt") or ""))
    if not match:
        return 0.0
    whole, fraction, zone = match.groups()
    try:
        base = datetime.fromisoformat(whole).replace(
            tzinfo=timezone.utc
        )  # Python 3.10's fromisoformat takes neither Z nor nanoseconds
    except ValueError:
        return 0.0
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        hours, minutes = int(zone[1:3]), int(zone[4:6])
        offset = sign * (hours * 3600 + minutes * 60)
    else:
        offset = 0
    started = base.timestamp() - offset + (float(f"0.{fraction}") if fraction else 0.0)
    if base.year < 2000:  # Docker's zero time (`0001-01-01T00:00:00Z`): never started
        return 0.0
    return max(0.0, now_epoch - started)


def has_healthcheck(service: dict[str, Any]) -> bool:
    """Does a service of `docker compose config --format json` define a healthcheck (not disabled)?"""
    check = service.get("healthcheck")
    if not isinstance(check, dict) or check.get("disable"):
        return False
    test = check.get("test")
    return not (isinstance(test, list) and test[:1] == ["NONE"])


def rule_text(consume_within: float | None, healthcheck: bool) -> str:
    """`inv doctor`'s line on what ready means for a worker (``healthcheck``: its compose service has one)."""
    if consume_within is None:
        check = "healthy (its healthcheck)" if healthcheck else "up 2 s without a restart (no healthcheck)"
        return f"its container's readiness: {check}; worker.consume_within is never (it consumes no queue)"
    bound = _seconds(consume_within)
    if healthcheck:
        return (
            "healthy (its healthcheck); at the end of a dev session, healthy or consuming its queue (a BullMQ/Bull "
            "worker connection from its container in Redis), whichever comes first"
        )
    return (
        f"consuming its queue (a BullMQ/Bull worker connection from its container in Redis) within {bound} "
        "(worker.consume_within), else a failure with its last log lines; healthy instead if its image has a "
        "healthcheck"
    )
