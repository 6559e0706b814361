"""The worker's containers, as facts (the `worker.status --json` shape) and as text for humans (pure).

`facts` builds one dictionary per worker service; `render_facts` prints it, so the text and the JSON
always say the same. Restart policy and scheduler come from what Docker applied to the container
(`docker inspect`), else, for a container not created yet, from the service as Compose resolves it;
this repository's own labels are read only as a last resort.
"""

from __future__ import annotations

import re
from typing import Any

from ..knowledge import envfile
from ..knowledge.compose_cli import ContainerState
from ..knowledge.job_fate import render_queues
from ..knowledge.prodlike_labels import is_prodlike, mode_text
from ..knowledge.stack_config import ContainerFacts, Service

#: Labels on the worker service of this repository's docker-compose.yml: extra information only.
RESTART_LABEL = "dev.devstack.restart-policy"
SCHEDULER_LABEL = "dev.devstack.scheduler"
#: Where a value came from: the container as Docker created it, the compose files, our label.
FROM_CONTAINER, FROM_COMPOSE, FROM_LABEL = "container", "compose_files", "label"
#: `handover.describe`'s prefix, left out of the JSON's `dev_session`.
DEV_PREFIX = "dev worker: "


def uptime(status: str) -> str:
    """``Up 5 minutes (healthy)`` -> ``5 minutes``; ``Exited (0) 3 seconds ago`` -> ``-``."""
    match = re.match(r"\s*Up\s+(.*?)(\s*\(.*\))?\s*$", status or "")
    return match.group(1) if match else "-"


def _flag(value: str | None) -> bool | None:
    return None if value is None else envfile.truthy(value)


def _on_off(value: bool | None) -> str:
    return "unknown" if value is None else "on" if value else "off"


def container_facts(
    container: ContainerState, config: Service | None, facts: ContainerFacts | None, scheduler_var: str
) -> dict[str, Any]:
    restart: str | None
    if facts is not None:
        restart, restart_source = facts.restart, FROM_CONTAINER
    elif container.labels.get(RESTART_LABEL):
        restart, restart_source = container.labels[RESTART_LABEL], FROM_LABEL
    elif config is not None:
        restart, restart_source = config.restart, FROM_COMPOSE
    else:
        restart, restart_source = None, None
    configured = config.environment.get(scheduler_var) if config else None
    if facts is not None and scheduler_var in facts.environment:
        scheduler, scheduler_source = _flag(facts.environment[scheduler_var]), FROM_CONTAINER
    elif configured is not None:
        scheduler, scheduler_source = _flag(configured), FROM_COMPOSE
    elif SCHEDULER_LABEL in container.labels:
        scheduler, scheduler_source = _flag(container.labels[SCHEDULER_LABEL]), FROM_LABEL
    else:
        scheduler, scheduler_source = None, None
    up = uptime(container.status)
    return {
        "name": container.name,
        "state": container.state or "unknown",
        "running": container.running,
        "exit_code": container.exit_code if container.state == "exited" else None,
        "status": container.status,
        "uptime": None if up == "-" else up,
        "health": container.health or None,
        "healthcheck": config.healthcheck if config is not None else None,
        "mode": "prodlike" if is_prodlike(container.labels) else "normal",
        "mode_description": mode_text(container.labels),
        "restart_policy": restart,
        "restart_policy_source": restart_source,
        "scheduler": scheduler,
        "scheduler_source": scheduler_source,
    }


def facts(
    service: str,
    containers: list[ContainerState],
    *,
    config: Service | None = None,
    inspected: dict[str, ContainerFacts] | None = None,
    scheduler_var: str = "ENABLE_SCHEDULER",
) -> dict[str, Any]:
    """One worker service: what the compose files say (None when they could not be read) and each container."""
    inspected = inspected or {}
    return {
        "service": service,
        "created": bool(containers),
        "compose": None
        if config is None
        else {
            "restart_policy": config.restart,
            "scheduler": _flag(config.environment.get(scheduler_var)),
            "healthcheck": config.healthcheck,
        },
        "containers": [container_facts(ct, config, inspected.get(ct.name), scheduler_var) for ct in containers],
    }


def _health_text(ct: dict[str, Any]) -> str:
    if ct["health"]:
        return str(ct["health"])
    if ct["healthcheck"]:
        if ct["running"]:
            return "none reported (created before the healthcheck was added: `inv worker.up` recreates it)"
        return "- (not running)"
    return "no healthcheck"


def render_facts(view: dict[str, Any]) -> str:
    """The text of `facts`."""
    service, compose = view["service"], view["compose"]
    if not view["containers"]:
        lines = [f"{service}: not created (start it with `inv worker.up`)"]
        if compose is not None:
            lines += [
                f"  restart policy: {compose['restart_policy']} (from the compose files)",
                f"  scheduler:      {_on_off(compose['scheduler'])} (from the compose files)",
                f"  healthcheck:    {'yes' if compose['healthcheck'] else 'none in the compose files'}",
            ]
        return "\n".join(lines)
    lines = []
    for ct in view["containers"]:
        state = ct["state"]
        if ct["exit_code"] is not None:
            state += f" (exit code {ct['exit_code']})"
        restart = ct["restart_policy"] or "unknown"
        if ct["restart_policy_source"] == FROM_COMPOSE:
            restart += " (from the compose files)"
        scheduler = _on_off(ct["scheduler"])
        if ct["scheduler_source"] == FROM_COMPOSE:
            scheduler += " (from the compose files)"
        lines += [
            f"{service}: {state}",
            f"  container:      {ct['name']}",
            f"  mode:           {ct['mode_description']}",
            f"  health:         {_health_text(ct)}",
            f"  uptime:         {ct['uptime'] or '-'}",
            f"  restart policy: {restart}",
            f"  scheduler:      {scheduler}",
        ]
    return "\n".join(lines)


def render(
    service: str,
    containers: list[ContainerState],
    *,
    config: Service | None = None,
    inspected: dict[str, ContainerFacts] | None = None,
    scheduler_var: str = "ENABLE_SCHEDULER",
) -> str:
    return render_facts(facts(service, containers, config=config, inspected=inspected, scheduler_var=scheduler_var))


def worker_facts(
    worker: str,
    view: dict[str, Any],
    notes: list[str],
    dev_session: str | None,
    queues: list[dict[str, Any]] | None = None,
    queues_problem: str = "",
) -> dict[str, Any]:
    """One entry of `worker.status --json`'s ``workers``: the service's `facts`, notes, the dev session,
    and the queues on its Redis (`job_fate.queue_view`; None with ``queues_problem`` when unreadable)."""
    return {
        "worker": worker,
        **view,
        "notes": notes,
        "dev_session": dev_session.removeprefix(DEV_PREFIX) if dev_session else None,
        "queues": queues,
        "queues_problem": queues_problem or None,
    }


def render_worker(entry: dict[str, Any]) -> str:
    """The text of `worker_facts`: notes, the service, the dev session line."""
    lines = [f"note: {note}" for note in entry["notes"]]
    lines.append(render_facts(entry))
    if "queues" in entry:
        lines += render_queues(entry["queues"], entry.get("queues_problem") or "")
    if entry["dev_session"]:
        lines.append(DEV_PREFIX + entry["dev_session"])
    return "\n".join(lines)
