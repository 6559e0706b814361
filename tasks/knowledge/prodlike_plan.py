"""The prod-like plan from flags and `.env`, its description and the engine check (pure)."""

from __future__ import annotations

from ..knowledge import heap_plan
from ..knowledge.engine_info import EngineInfo
from ..knowledge.failures import UserError
from ..knowledge.heap_plan import MIB, HeapPlan, PlanError, format_mib
from ..knowledge.prod_source import ProdCaps, describe_extra, drift, overlay_drift
from ..knowledge.prodlike_labels import compose_env

__all__ = ["check_engine", "compose_env", "describe", "fit_to_engine", "make_plan", "origins", "source_lines"]


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
            heap_plan.parse_size(memory if memory is not None else env.get("PRODLIKE_MEMORY") or SEED_MEMORY),
            cpus=heap_plan.parse_cpus(cpus if cpus is not None else env.get("PRODLIKE_CPUS") or SEED_CPUS),
            ratio=ratio,
            processes=int(procs_text),
            heap_mb=int(heap_mb) if heap_mb is not None else None,
        )
    except PlanError as error:
        raise UserError(str(error)) from None


def describe(plan: HeapPlan, cpus_origin: str = "", memory_origin: str = "") -> str:
    """The plan, a line per figure; ``*_origin`` (when given) says where a cap came from."""
    return "\n".join(
        [
            f"cpus:              {plan.cpus:g}" + (f" ({cpus_origin})" if cpus_origin else ""),
            f"memory:            {format_mib(plan.memory_mib)} ({plan.memory_bytes} bytes)"
            + (f" ({memory_origin})" if memory_origin else ""),
            f"node processes:    {plan.processes}",
            f"NODE_OPTIONS:      {plan.node_options}" + (" (explicit --heap-mb)" if plan.explicit else ""),
            f"heap_size_limit:   {plan.heap_limit_mib} MiB per process = "
            f"old space {plan.old_space_mib} + 3 x {plan.semi_space_mib} semi-space",
            f"heap share:        {plan.heap_share:.1%} of memory (limit {plan.ratio:.0%})",
            "NODE_ENV:          production",
        ]
    )


#: The default caps (the production figures of the documents this project came from, seed 000), used
#: when neither a flag, .env / the shell nor production's definition says otherwise.
SEED_CPUS, SEED_MEMORY = "3", "13g"


def fit_to_engine(
    env: dict[str, str], cpus: str | None, memory: str | None, info: EngineInfo
) -> tuple[str | None, str | None, list[str]]:
    """The seed's default caps where the engine can give them, else the engine's own, each said; caps
    asked for (a flag, PRODLIKE_CPUS / PRODLIKE_MEMORY) are left as asked (`check_engine` judges them)."""
    notes = []
    if cpus is None and not env.get("PRODLIKE_CPUS") and info.cpus and info.cpus < float(SEED_CPUS):
        cpus = str(info.cpus)
        notes.append(
            f"the default {SEED_CPUS} CPUs are more than the Docker engine has: planning its {info.cpus} "
            "(--cpus or PRODLIKE_CPUS to choose)"
        )
    seed_bytes = heap_plan.parse_size(SEED_MEMORY)
    if memory is None and not env.get("PRODLIKE_MEMORY") and info.memory_bytes and info.memory_bytes < seed_bytes:
        engine_mib = int(info.memory_bytes // MIB)
        memory = f"{engine_mib}m"
        notes.append(
            f"the default {SEED_MEMORY} memory is more than the Docker engine has: planning its {engine_mib} MiB "
            "(--memory or PRODLIKE_MEMORY to choose)"
        )
    return cpus, memory, notes


def origins(cpus_origin: str, memory_origin: str, fitted: list[str]) -> tuple[str, str]:
    """Where each planned cap comes from, for the plan's lines: as chosen (a flag, `.env`, production),
    else the engine's own size (``fitted`` said so), else the seed's default."""
    engine_cpus = any(line.startswith(f"the default {SEED_CPUS} CPUs") for line in fitted)
    engine_memory = any(line.startswith(f"the default {SEED_MEMORY} memory") for line in fitted)
    return (
        cpus_origin or ("all the Docker engine has" if engine_cpus else "the default"),
        memory_origin or ("all the Docker engine has" if engine_memory else "the default"),
    )


def check_engine(plan: HeapPlan, info: EngineInfo, cpus_origin: str = "", memory_origin: str = "") -> None:
    """Refuse caps the engine cannot give, before Compose runs (naming where a production figure came from)."""
    have = f"the Docker engine has {info.cpus} CPUs and {format_mib(info.memory_bytes / MIB)} memory"
    if plan.cpus > info.cpus:
        where = f" ({cpus_origin})" if cpus_origin.startswith("production") else ""
        raise UserError(
            f"{plan.cpus:g} CPUs asked{where} but {have}: lower --cpus (or PRODLIKE_CPUS in .env) "
            "or give Docker Desktop more CPUs"
        )
    if plan.memory_bytes > info.memory_bytes:
        where = f" ({memory_origin})" if memory_origin.startswith("production") else ""
        raise UserError(
            f"{format_mib(plan.memory_mib)} memory asked{where} but {have}: lower --memory "
            "(or PRODLIKE_MEMORY in .env) or give Docker Desktop more memory"
        )


def source_lines(prod: ProdCaps | None, plan: HeapPlan, fixed: dict[str, str], overlay_name: str) -> list[str]:
    """After the plan: what production's definition says beyond the caps, then one `drift:` line per cap
    that differs from production's, or that the overlay fixes to another value than the plan's."""
    lines = describe_extra(prod) if prod is not None else []
    drifts = drift(prod, plan.cpus, plan.memory_bytes) + overlay_drift(
        fixed, plan.cpus, plan.memory_bytes, overlay_name
    )
    lines += [f"drift: {line}" for line in drifts]
    return lines
