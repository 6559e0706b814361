"""Who may run the BullMQ scheduler: at most one instance at a time (pure)."""

from __future__ import annotations

from typing import Any

from tasks.knowledge import envfile


def scheduler_warnings(config: dict[str, Any], scheduler_key: str = "ENABLE_SCHEDULER") -> list[str]:
    """Services that could run more than one scheduler at once.

    Takes the output of `docker compose config --format json` (interpolated and merged by Compose).
    """
    warnings = []
    for name, service in (config.get("services") or {}).items():
        environment = service.get("environment") or {}
        if not envfile.truthy(str(environment.get(scheduler_key) or "")):
            continue
        replicas = (service.get("deploy") or {}).get("replicas") or service.get("scale") or 1
        if int(replicas) > 1:
            warnings.append(
                f"service {name!r} runs {replicas} replicas with {scheduler_key} on: "
                "only one instance may run the scheduler"
            )
    return warnings
