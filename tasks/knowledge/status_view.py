"""Rendering `docker compose ps` rows of the worker for humans (pure)."""

from __future__ import annotations

import re

from tasks.knowledge.compose_cli import ContainerState
from tasks.knowledge.prodlike_labels import mode_text

#: Labels set on the worker service in docker-compose.yml, so `ps` alone tells how it was created.
RESTART_LABEL = "dev.devstack.restart-policy"
SCHEDULER_LABEL = "dev.devstack.scheduler"


def uptime(status: str) -> str:
    """``Up 5 minutes (healthy)`` -> ``5 minutes``; ``Exited (0) 3 seconds ago`` -> ``-``."""
    match = re.match(r"\s*Up\s+(.*?)(\s*\(.*\))?\s*$", status or "")
    return match.group(1) if match else "-"


def render(service: str, containers: list[ContainerState]) -> str:
    if not containers:
        return f"{service}: not created (start it with `inv worker.up`)"
    lines = []
    for container in containers:
        state = container.state or "unknown"
        if container.state == "exited" and container.exit_code is not None:
            state += f" (exit code {container.exit_code})"
        scheduler = container.labels.get(SCHEDULER_LABEL, "")
        lines += [
            f"{service}: {state}",
            f"  container:      {container.name}",
            f"  mode:           {mode_text(container.labels)}",
            f"  health:         {container.health or 'no healthcheck'}",
            f"  uptime:         {uptime(container.status)}",
            f"  restart policy: {container.labels.get(RESTART_LABEL, 'unknown')}",
            f"  scheduler:      {'on' if scheduler.lower() == 'true' else 'off' if scheduler else 'unknown'}",
        ]
    return "\n".join(lines)
