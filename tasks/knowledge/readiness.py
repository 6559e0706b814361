"""Is a started worker container ready, still starting, or failing? (pure: reads `docker inspect`'s State)

`up -d` returns as soon as the container is created and started; a worker that crashes at start
then sits in a restart loop under `restart: unless-stopped` while `up` has exited 0. So every start
(worker.up, stack.up, prodlike.up, a dev session's restore) waits for one of these verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Without a healthcheck, "running" this long with no restart counts as started.
STABLE_WITHOUT_HEALTHCHECK_S = 2.0


@dataclass(frozen=True)
class Verdict:
    ready: bool
    failed: bool
    reason: str  # why not ready (empty when ready)

    @property
    def waiting(self) -> bool:
        return not self.ready and not self.failed


def judge(state: dict[str, Any], restart_count: int, *, started_restarts: int, running_for_s: float) -> Verdict:
    """Judge one `docker inspect` State (and RestartCount) of the worker container.

    ``started_restarts`` is the RestartCount seen when the wait began: any restart since is a crash.
    ``running_for_s`` is how long the container has been seen running in this wait.
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
    if health_status == "healthy":
        return Verdict(True, False, "")
    if health_status == "unhealthy":
        return Verdict(False, True, "its healthcheck reports unhealthy")
    if health_status:  # "starting"
        return Verdict(False, False, "its healthcheck has not passed yet")
    if running_for_s >= STABLE_WITHOUT_HEALTHCHECK_S:
        return Verdict(True, False, "")
    return Verdict(False, False, "it has no healthcheck; waiting to see it stay up")
