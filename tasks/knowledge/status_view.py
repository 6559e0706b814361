"""Rendering the worker's containers for humans (pure).

Restart policy and scheduler come from what Docker applied to the container (`docker inspect`), else,
for a container not created yet, from the service as Compose resolves it; this repository's own
labels are read only as a last resort.
"""

from __future__ import annotations

import re

from tasks.knowledge import envfile
from tasks.knowledge.compose_cli import ContainerState
from tasks.knowledge.prodlike_labels import mode_text
from tasks.knowledge.stack_config import ContainerFacts, Service

#: Labels on the worker service of this repository's docker-compose.yml: extra information only.
RESTART_LABEL = "dev.devstack.restart-policy"
SCHEDULER_LABEL = "dev.devstack.scheduler"


def uptime(status: str) -> str:
    """``Up 5 minutes (healthy)`` -> ``5 minutes``; ``Exited (0) 3 seconds ago`` -> ``-``."""
    match = re.match(r"\s*Up\s+(.*?)(\s*\(.*\))?\s*$", status or "")
    return match.group(1) if match else "-"


def _scheduler(value: str | None) -> str:
    if value is None:
        return "unknown"
    return "on" if envfile.truthy(value) else "off"


def render(
    service: str,
    containers: list[ContainerState],
    *,
    config: Service | None = None,
    inspected: dict[str, ContainerFacts] | None = None,
    scheduler_var: str = "ENABLE_SCHEDULER",
) -> str:
    inspected = inspected or {}
    configured_scheduler = config.environment.get(scheduler_var) if config else None
    if not containers:
        lines = [f"{service}: not created (start it with `inv worker.up`)"]
        if config is not None:
            lines += [
                f"  restart policy: {config.restart} (from the compose files)",
                f"  scheduler:      {_scheduler(configured_scheduler)} (from the compose files)",
                f"  healthcheck:    {'yes' if config.healthcheck else 'none in the compose files'}",
            ]
        return "\n".join(lines)
    lines = []
    for container in containers:
        state = container.state or "unknown"
        if container.state == "exited" and container.exit_code is not None:
            state += f" (exit code {container.exit_code})"
        facts = inspected.get(container.name)
        restart = (
            facts.restart
            if facts
            else container.labels.get(RESTART_LABEL)
            or (f"{config.restart} (from the compose files)" if config else "unknown")
        )
        if facts is not None and scheduler_var in facts.environment:
            scheduler = _scheduler(facts.environment[scheduler_var])
        elif configured_scheduler is not None:
            scheduler = f"{_scheduler(configured_scheduler)} (from the compose files)"
        else:
            scheduler = _scheduler(container.labels.get(SCHEDULER_LABEL))
        if container.health:
            health = container.health
        elif config is not None and config.healthcheck:
            health = (
                "none reported (created before the healthcheck was added: `inv worker.up` recreates it)"
                if container.running
                else "- (not running)"
            )
        else:
            health = "no healthcheck"
        lines += [
            f"{service}: {state}",
            f"  container:      {container.name}",
            f"  mode:           {mode_text(container.labels)}",
            f"  health:         {health}",
            f"  uptime:         {uptime(container.status)}",
            f"  restart policy: {restart}",
            f"  scheduler:      {scheduler}",
        ]
    return "\n".join(lines)
