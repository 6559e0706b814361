"""Who may run the BullMQ scheduler: at most one instance at a time (pure)."""

from __future__ import annotations

from ..knowledge import envfile
from ..knowledge.stack_config import Service, StackConfig


def scheduler_on(service: Service, scheduler_var: str = "ENABLE_SCHEDULER") -> bool | None:
    """The scheduler setting in a service's resolved environment; None when the service does not set it."""
    value = service.environment.get(scheduler_var)
    return None if value is None else envfile.truthy(value)


def scheduler_warnings(stack: StackConfig, scheduler_var: str = "ENABLE_SCHEDULER") -> list[str]:
    """Ways more than one scheduler could run at once, across every service of every profile.

    Takes the stack as `docker compose config` resolves it (interpolated and merged by Compose).
    """
    on = [s for s in stack.services.values() if scheduler_on(s, scheduler_var)]
    warnings = [
        f"service {s.name!r} runs {s.replicas} replicas with {scheduler_var} on: "
        "only one instance may run the scheduler"
        for s in on
        if s.replicas > 1
    ]
    if len(on) > 1:
        names = ", ".join(repr(s.name) for s in on)
        warnings.append(
            f"services {names} all have {scheduler_var} on: only one worker may run the scheduler "
            "(turn it off in all but one)"
        )
    return warnings
