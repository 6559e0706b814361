"""The prod-like plan from flags and `.env`, its description and the engine check (pure)."""

from __future__ import annotations

from ..knowledge import heap_plan
from ..knowledge.engine_info import EngineInfo
from ..knowledge.failures import UserError
from ..knowledge.heap_plan import MIB, HeapPlan, PlanError, format_mib
from ..knowledge.prodlike_labels import compose_env

__all__ = ["check_engine", "compose_env", "describe", "make_plan"]


def make_plan(
    env: dict[str, str],
    cpus: str | None = None,
    memory: str | None = None,
    heap_ratio: str | None = None,
    heap_mb: str | None = None,
    processes: str | None = None,
) -> HeapPlan:
    """The plan from flags, else .env / the shell, else the seed defaults; one clear error on bad input."""
    try:
        ratio_text = heap_ratio if heap_ratio is not None else env.get("PRODLIKE_HEAP_RATIO") or "0.85"
        try:
            ratio = float(ratio_text)
        except ValueError:
            raise PlanError(f"bad heap ratio {ratio_text!r}: use a fraction such as 0.85") from None
        procs_text = processes if processes is not None else env.get("PRODLIKE_PROCESSES") or "1"
        if not str(procs_text).isdigit():
            raise PlanError(f"bad process count {procs_text!r}: a whole number, at least 1")
        if heap_mb is not None and not str(heap_mb).isdigit():
            raise PlanError(f"bad --heap-mb {heap_mb!r}: a whole number of MiB")
        return heap_plan.plan_heap(
            heap_plan.parse_size(memory if memory is not None else env.get("PRODLIKE_MEMORY") or "13g"),
            cpus=heap_plan.parse_cpus(cpus if cpus is not None else env.get("PRODLIKE_CPUS") or "3"),
            ratio=ratio,
            processes=int(procs_text),
            heap_mb=int(heap_mb) if heap_mb is not None else None,
        )
    except PlanError as error:
        raise UserError(str(error)) from None


def describe(plan: HeapPlan) -> str:
    return "\n".join(
        [
            f"cpus:              {plan.cpus:g}",
            f"memory:            {format_mib(plan.memory_mib)} ({plan.memory_bytes} bytes)",
            f"node processes:    {plan.processes}",
            f"NODE_OPTIONS:      {plan.node_options}" + (" (explicit --heap-mb)" if plan.explicit else ""),
            f"heap_size_limit:   {plan.heap_limit_mib} MiB per process = "
            f"old space {plan.old_space_mib} + 3 x {plan.semi_space_mib} semi-space",
            f"heap share:        {plan.heap_share:.1%} of memory (limit {plan.ratio:.0%})",
            "NODE_ENV:          production",
        ]
    )


def check_engine(plan: HeapPlan, info: EngineInfo) -> None:
    """Refuse caps the engine cannot give, before Compose runs."""
    have = f"the Docker engine has {info.cpus} CPUs and {format_mib(info.memory_bytes / MIB)} memory"
    if plan.cpus > info.cpus:
        raise UserError(
            f"{plan.cpus:g} CPUs asked but {have}: lower --cpus (or PRODLIKE_CPUS in .env) "
            "or give Docker Desktop more CPUs"
        )
    if plan.memory_bytes > info.memory_bytes:
        raise UserError(
            f"{format_mib(plan.memory_mib)} memory asked but {have}: lower --memory "
            "(or PRODLIKE_MEMORY in .env) or give Docker Desktop more memory"
        )
