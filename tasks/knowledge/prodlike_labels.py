"""The prod-like plan recorded on the worker container as labels, and read back from them (pure).

`prodlike.up` passes the plan to Compose as variables; docker-compose.worker-prodlike.yml writes the
same variables into NODE_OPTIONS, the caps and these labels, so `docker inspect` (or `compose ps`)
of the running container gives back exactly the plan it was created with.
"""

from __future__ import annotations

from ..knowledge.heap_plan import HeapPlan, PlanError, format_mib, parse_cpus, parse_size

MODE = "dev.devstack.mode"
PREFIX = "dev.devstack.prodlike."
CPUS = PREFIX + "cpus"
MEMORY = PREFIX + "memory"
OLD_SPACE = PREFIX + "old-space-mib"
SEMI_SPACE = PREFIX + "semi-space-mib"
PROCESSES = PREFIX + "processes"
RATIO = PREFIX + "ratio"
EXPLICIT = PREFIX + "explicit"


def compose_env(plan: HeapPlan) -> dict[str, str]:
    """Variables the override file interpolates into NODE_OPTIONS, the caps, the process count and the labels."""
    return {
        "PRODLIKE_CPUS": f"{plan.cpus:g}",
        "PRODLIKE_MEMORY": plan.memory_compose,
        "PRODLIKE_OLD_SPACE_MIB": str(plan.old_space_mib),
        "PRODLIKE_SEMI_SPACE_MIB": str(plan.semi_space_mib),
        "PRODLIKE_PROCESSES": str(plan.processes),
        "PRODLIKE_HEAP_RATIO": f"{plan.ratio:g}",
        "PRODLIKE_EXPLICIT": "true" if plan.explicit else "false",
    }


def labels(plan: HeapPlan) -> dict[str, str]:
    """The labels a container created from ``compose_env(plan)`` carries."""
    env = compose_env(plan)
    return {
        MODE: "prodlike",
        CPUS: env["PRODLIKE_CPUS"],
        MEMORY: env["PRODLIKE_MEMORY"],
        OLD_SPACE: env["PRODLIKE_OLD_SPACE_MIB"],
        SEMI_SPACE: env["PRODLIKE_SEMI_SPACE_MIB"],
        PROCESSES: env["PRODLIKE_PROCESSES"],
        RATIO: env["PRODLIKE_HEAP_RATIO"],
        EXPLICIT: env["PRODLIKE_EXPLICIT"],
    }


def is_prodlike(container_labels: dict[str, str]) -> bool:
    return container_labels.get(MODE) == "prodlike"


def plan_from_labels(container_labels: dict[str, str]) -> HeapPlan | None:
    """The plan a prod-like container was created with; None for a normal worker.

    Raises PlanError (one line) when the labels are there but unreadable.
    """
    if not is_prodlike(container_labels):
        return None

    def whole(key: str) -> int:
        text = container_labels.get(key, "")
        if not text.isdigit() or int(text) < 1:
            raise PlanError(f"the container's label {key}={text!r} is not a whole number >= 1")
        return int(text)

    try:
        ratio = float(container_labels.get(RATIO, ""))
    except ValueError:
        raise PlanError(f"the container's label {RATIO}={container_labels.get(RATIO)!r} is not a fraction") from None
    return HeapPlan(
        memory_bytes=parse_size(container_labels.get(MEMORY, "")),
        cpus=parse_cpus(container_labels.get(CPUS, "")),
        ratio=ratio,
        processes=whole(PROCESSES),
        old_space_mib=whole(OLD_SPACE),
        semi_space_mib=whole(SEMI_SPACE),
        explicit=container_labels.get(EXPLICIT, "false").lower() == "true",
    )


def mode_text(container_labels: dict[str, str]) -> str:
    """``normal`` or ``prodlike (2 CPUs, 512 MiB, heap 432 MiB)`` (``heap 2 x 216 MiB`` with 2 processes)."""
    if not is_prodlike(container_labels):
        return "normal"
    try:
        plan = plan_from_labels(container_labels)
    except PlanError as error:
        return f"prodlike (unreadable plan: {error})"
    assert plan is not None
    cpus = f"{plan.cpus:g} CPU" + ("" if plan.cpus == 1 else "s")
    heap = f"{plan.heap_limit_mib} MiB" if plan.processes == 1 else f"{plan.processes} x {plan.heap_limit_mib} MiB"
    return f"prodlike ({cpus}, {format_mib(plan.memory_mib)}, heap {heap})"
