"""Production's own caps for a worker, read from a definition in the repository (pure: text in, figures out).

`prodlike.caps_from` (per worker) names a file and, after `#`, the container (or service, app,
process type) in it: ``deploy/k8s/worker.yaml#worker``. What it can read:

- a Compose file: ``services.<name>.deploy.resources.limits`` / ``reservations`` (and the short
  ``cpus`` / ``mem_limit`` / ``mem_reservation``), ``deploy.replicas``;
- Kubernetes manifests, one or many documents (a rendered Helm chart, ``kubectl get -o yaml``'s
  ``List``): a Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob or Pod, the container's
  ``resources.limits`` / ``requests``, ``spec.replicas``;
- an ECS task definition (JSON, or `describe-task-definition`'s output): the container's ``cpu``,
  ``memory``, ``memoryReservation``, and the task-level ``cpu`` / ``memory`` where the container sets
  none;
- a Cloud Foundry manifest: an application's (or its process type's) ``memory`` and ``instances``;
  Cloud Foundry sets no CPU cap (an app's CPU share follows its memory).

Every figure keeps where it was read (the key path and the value as written), for `prodlike.plan`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..knowledge.failures import UserError
from ..knowledge.heap_plan import MIB, PlanError, format_mib
from ..knowledge.quantities import (
    cf_memory,
    compose_cpus,
    compose_memory,
    ecs_cpu,
    ecs_memory,
    k8s_cpu,
    k8s_memory,
    whole_count,
)

WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod")


@dataclass(frozen=True)
class Figure:
    """One number of production's definition: its value (CPUs, bytes or a count), as written, and where."""

    value: float
    written: str
    key: str

    def shown(self, kind: str) -> str:
        if kind == "memory":
            return format_mib(self.value / MIB)
        return f"{self.value:g}"


@dataclass(frozen=True)
class ProdCaps:
    """What production gives one container: limits, reservations, how many run."""

    reference: str  # path#container as configured (or found)
    format: str  # "Kubernetes Deployment api", "Compose service worker", ...
    container: str
    cpus: Figure | None = None
    memory: Figure | None = None
    cpus_reserved: Figure | None = None
    memory_reserved: Figure | None = None
    instances: Figure | None = None
    notes: tuple[str, ...] = ()

    @property
    def has_caps(self) -> bool:
        return self.cpus is not None or self.memory is not None

    def origin(self, figure: Figure) -> str:
        """``k8s/worker.yaml#worker: resources.limits.cpu 500m`` (for the plan's lines)."""
        return f"{self.reference}: {figure.key} {figure.written}"


def split_reference(text: str) -> tuple[str, str | None]:
    """``path#container`` -> (path, container), or (path, None) without a `#`."""
    path, sep, container = text.strip().partition("#")
    return path.strip(), (container.strip() or None) if sep else None


def load_documents(text: str, name: str) -> list[Any]:
    """The documents of a file: JSON (one), else YAML (one or many, `---` separated; empty ones left out).
    A file that is neither: one line naming it."""
    stripped = text.lstrip()
    if name.endswith(".json") or stripped.startswith(("{", "[")):
        try:
            return [json.loads(text)]
        except ValueError as error:
            if name.endswith(".json"):
                raise UserError(f"{name} is not valid JSON ({error}): fix it or point caps_from elsewhere") from None
    import yaml

    try:
        return [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as error:
        first = str(error).splitlines()[0]
        raise UserError(
            f"{name} is not valid YAML ({first}); a Helm chart is read rendered (`helm template ... > file`)"
        ) from None


def _get(data: object, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _figure(raw: object, key: str, parse: Callable[[object], float]) -> Figure | None:
    if raw is None or raw == "":
        return None
    try:
        return Figure(parse(raw), str(raw), key)
    except PlanError as error:
        raise UserError(f"{key}: {error}") from None


def _interpolated(raw: object, key: str) -> object:
    """A Compose value such as ``${WORKER_MEMORY:-2g}``: its default (production's file is read as
    written, without its environment); no default: refused in one line."""
    if not isinstance(raw, str) or "$" not in raw:
        return raw
    match = re.fullmatch(r"\$\{(\w+)(?::?-([^}]*))?\}", raw.strip())
    if match and match.group(2):
        return match.group(2)
    raise UserError(f"{key} is {raw!r}, set from the environment: production's figure cannot be read from the file")


# -- Compose ---------------------------------------------------------------------------------------
def _compose(doc: dict[str, Any], name: str, reference: str) -> ProdCaps:
    service = (doc.get("services") or {}).get(name) or {}
    key = f"services.{name}"

    def fig(raw: object, path: str, parse: Callable[[object], float]) -> Figure | None:
        return _figure(_interpolated(raw, f"{key}.{path}"), f"{key}.{path}", parse)

    limits = _get(service, "deploy", "resources", "limits") or {}
    reservations = _get(service, "deploy", "resources", "reservations") or {}
    cpus = fig(limits.get("cpus"), "deploy.resources.limits.cpus", compose_cpus) or fig(
        service.get("cpus"), "cpus", compose_cpus
    )
    memory = fig(limits.get("memory"), "deploy.resources.limits.memory", compose_memory) or fig(
        service.get("mem_limit"), "mem_limit", compose_memory
    )
    return ProdCaps(
        reference,
        f"Compose service {name}",
        name,
        cpus,
        memory,
        fig(reservations.get("cpus"), "deploy.resources.reservations.cpus", compose_cpus),
        fig(reservations.get("memory"), "deploy.resources.reservations.memory", compose_memory)
        or fig(service.get("mem_reservation"), "mem_reservation", compose_memory),
        fig(_get(service, "deploy", "replicas"), "deploy.replicas", lambda v: whole_count(v, "replicas")),
    )


# -- Kubernetes ------------------------------------------------------------------------------------
def _pod_spec(doc: dict[str, Any]) -> tuple[dict[str, Any], str]:
    kind = doc.get("kind")
    if kind == "Pod":
        return doc.get("spec") or {}, "spec"
    if kind == "CronJob":
        return _get(doc, "spec", "jobTemplate", "spec", "template", "spec") or {}, "spec.jobTemplate.spec.template.spec"
    return _get(doc, "spec", "template", "spec") or {}, "spec.template.spec"


def _k8s_containers(documents: list[Any]) -> list[tuple[dict[str, Any], dict[str, Any], str]]:
    """(workload, container, key of the container) for every container of every workload."""
    found = []
    queue = list(documents)
    while queue:
        doc = queue.pop(0)
        if not isinstance(doc, dict):
            continue
        if doc.get("kind") == "List" and isinstance(doc.get("items"), list):
            queue[:0] = doc["items"]
            continue
        if doc.get("kind") not in WORKLOADS:
            continue
        spec, path = _pod_spec(doc)
        for index, container in enumerate(spec.get("containers") or []):
            if isinstance(container, dict):
                found.append((doc, container, f"{path}.containers[{index}]"))
    return found


def _k8s(documents: list[Any], wanted: str | None, default: str, reference: str) -> ProdCaps:
    containers = _k8s_containers(documents)

    def named(doc: dict[str, Any], container: dict[str, Any]) -> set[str]:
        workload = str(_get(doc, "metadata", "name") or "")
        return {str(container.get("name") or ""), f"{workload}/{container.get('name')}"}

    def single_of(name: str) -> list[tuple[dict[str, Any], dict[str, Any], str]]:
        # a workload named so whose pod has one container
        return [
            item
            for item in containers
            if _get(item[0], "metadata", "name") == name and sum(1 for other in containers if other[0] is item[0]) == 1
        ]

    if wanted is not None:
        chosen = [item for item in containers if wanted in named(item[0], item[1])] or single_of(wanted)
    else:
        chosen = [item for item in containers if default in named(item[0], item[1])] or single_of(default)
        if not chosen and len(containers) == 1:
            chosen = containers
    listing = ", ".join(sorted({f"{_get(d, 'metadata', 'name')}/{c.get('name')}" for d, c, _ in containers}))
    if not chosen:
        what = f"no container {wanted or default!r}" if containers else "no workload with containers"
        raise UserError(f"{reference}: {what} (found: {listing or 'none'}); name it as path#container")
    if len(chosen) > 1:
        raise UserError(f"{reference}: {len(chosen)} containers match ({listing}); name one as path#workload/container")
    doc, container, key = chosen[0]
    workload = str(_get(doc, "metadata", "name") or "?")
    kind = str(doc.get("kind"))
    resources = container.get("resources") or {}
    limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
    base = f"{key}.resources"
    replicas = _figure(_get(doc, "spec", "replicas"), "spec.replicas", lambda v: whole_count(v, "replicas"))
    if replicas is None and kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        replicas = Figure(1, "(not set)", "spec.replicas")
    notes = []
    if not limits and requests:
        notes.append("production sets requests but no limits: the requests are a reservation, not a cap")
    return ProdCaps(
        reference,
        f"Kubernetes {kind} {workload}",
        str(container.get("name")),
        _figure(limits.get("cpu"), f"{base}.limits.cpu", k8s_cpu),
        _figure(limits.get("memory"), f"{base}.limits.memory", k8s_memory),
        _figure(requests.get("cpu"), f"{base}.requests.cpu", k8s_cpu),
        _figure(requests.get("memory"), f"{base}.requests.memory", k8s_memory),
        replicas,
        tuple(notes),
    )


# -- ECS -------------------------------------------------------------------------------------------
def _ecs_task(doc: dict[str, Any]) -> dict[str, Any]:
    """The task definition itself, or the one `aws ecs describe-task-definition` wraps."""
    inner = doc.get("taskDefinition")
    return inner if isinstance(inner, dict) else doc


def _ecs(doc: dict[str, Any], wanted: str | None, default: str, reference: str) -> ProdCaps:
    task = _ecs_task(doc)
    containers = [c for c in task.get("containerDefinitions") or [] if isinstance(c, dict)]
    names = [str(c.get("name")) for c in containers]
    pick = [c for c in containers if c.get("name") == (wanted or default)]
    if not pick and wanted is None and len(containers) == 1:
        pick = containers
    if not pick:
        raise UserError(
            f"{reference}: no container {wanted or default!r} in containerDefinitions "
            f"(found: {', '.join(names) or 'none'}); name it as path#container"
        )
    container = pick[0]
    index = containers.index(container)
    key = f"containerDefinitions[{index}]"
    notes = []
    # The task-level cpu is the hard cap (Fargate; EC2 when set); a container's cpu units are a share.
    cpus = _figure(task.get("cpu"), "cpu (task-level)", ecs_cpu)
    share = _figure(container.get("cpu"), f"{key}.cpu", ecs_cpu)
    if cpus is None and share is not None:
        cpus = share
        notes.append("the container's cpu units are a relative share in ECS, taken here as its cap")
        share = None
    memory = _figure(container.get("memory"), f"{key}.memory", ecs_memory) or _figure(
        task.get("memory"), "memory (task-level)", ecs_memory
    )
    return ProdCaps(
        reference,
        f"ECS task definition {task.get('family') or '?'}",
        str(container.get("name")),
        cpus,
        memory,
        share,
        _figure(container.get("memoryReservation"), f"{key}.memoryReservation", ecs_memory),
        None,
        tuple(notes),
    )


# -- Cloud Foundry ---------------------------------------------------------------------------------
def _cf(doc: dict[str, Any], wanted: str | None, default: str, reference: str) -> ProdCaps:
    apps = [a for a in doc.get("applications") or [] if isinstance(a, dict)]
    options: list[tuple[str, str, dict[str, Any], str]] = []  # (a name it answers to, shown, entry, key)
    for index, app in enumerate(apps):
        options.append((str(app.get("name")), str(app.get("name")), app, f"applications[{index}]"))
        for pindex, proc in enumerate(app.get("processes") or []):
            if isinstance(proc, dict):
                shown, key = f"{app.get('name')}/{proc.get('type')}", f"applications[{index}].processes[{pindex}]"
                options += [(shown, shown, proc, key), (str(proc.get("type")), shown, proc, key)]
    target = wanted or default
    pick = [o for o in options if o[0] == target]
    if not pick and wanted is None and len(apps) == 1:
        pick = [options[0]]
    if not pick:
        found = ", ".join(sorted({o[0] for o in options})) or "none"
        raise UserError(f"{reference}: no application or process {target!r} (found: {found}); name it as path#app")
    _, name, entry, key = pick[0]
    memory_raw = entry.get("memory") if entry.get("memory") is not None else doc.get("memory")
    memory_key = f"{key}.memory" if entry.get("memory") is not None else "memory (top-level)"
    return ProdCaps(
        reference,
        f"Cloud Foundry app {name}",
        name,
        None,
        _figure(memory_raw, memory_key, cf_memory),
        None,
        None,
        _figure(entry.get("instances"), f"{key}.instances", lambda v: whole_count(v, "instances")),
        ("Cloud Foundry sets no CPU cap (an app's CPU share follows its memory)",),
    )


def format_of(documents: list[Any]) -> str | None:
    """``compose``, ``kubernetes``, ``ecs``, ``cloudfoundry``, or None for a file none of them."""
    for doc in documents:
        if not isinstance(doc, dict):
            continue
        if isinstance(doc.get("containerDefinitions"), list) or isinstance(
            _get(doc, "taskDefinition", "containerDefinitions"), list
        ):
            return "ecs"
        if isinstance(doc.get("applications"), list):
            return "cloudfoundry"
        if isinstance(doc.get("services"), dict):
            return "compose"
        if doc.get("kind") in (*WORKLOADS, "List") and "apiVersion" in doc:
            return "kubernetes"
    return None


def read_caps(documents: list[Any], reference: str, default_name: str) -> ProdCaps:
    """Production's caps for one container of a parsed file. ``reference`` is ``path[#container]``;
    without a container, the one named ``default_name`` (the worker's service), or the file's only one.
    Every refusal is one line starting with the path."""
    path = split_reference(reference)[0]
    try:
        return _read_caps(documents, reference, default_name)
    except UserError as error:
        if error.reason.startswith(path):
            raise
        raise UserError(f"{path}: {error.reason}") from None


def _read_caps(documents: list[Any], reference: str, default_name: str) -> ProdCaps:
    path, wanted = split_reference(reference)
    kind = format_of(documents)
    if kind is None:
        raise UserError(
            f"{path} is not a production definition this can read (a Compose file, Kubernetes manifests, an ECS task "
            "definition or a Cloud Foundry manifest)"
        )
    if kind == "compose":
        doc = next(d for d in documents if isinstance(d, dict) and isinstance(d.get("services"), dict))
        services = doc["services"]
        name = wanted or default_name
        if name not in services:
            if wanted is None and len(services) == 1:
                name = next(iter(services))
            else:
                raise UserError(
                    f"{path}: no service {name!r} (services: {', '.join(sorted(services))}); name it as path#service"
                )
        return _compose(doc, name, reference)
    if kind == "kubernetes":
        return _k8s(documents, wanted, default_name, reference)
    doc = next(d for d in documents if isinstance(d, dict))
    if kind == "ecs":
        return _ecs(doc, wanted, default_name, reference)
    return _cf(doc, wanted, default_name, reference)


def containers(documents: list[Any]) -> list[str]:
    """Every container (service, app, process type) a file defines, for `adopt` to match a worker."""
    kind = format_of(documents)
    dicts = [d for d in documents if isinstance(d, dict)]
    if kind == "compose":
        return [str(name) for d in dicts if isinstance(d.get("services"), dict) for name in d["services"]]
    if kind == "kubernetes":
        return [str(c.get("name")) for _, c, _ in _k8s_containers(documents)]
    if kind == "ecs":
        task = _ecs_task(dicts[0])
        return [str(c.get("name")) for c in task.get("containerDefinitions") or [] if isinstance(c, dict)]
    if kind == "cloudfoundry":
        names = []
        for app in dicts[0].get("applications") or []:
            if isinstance(app, dict):
                names.append(str(app.get("name")))
                names += [str(p.get("type")) for p in app.get("processes") or [] if isinstance(p, dict)]
        return names
    return []


# -- the plan's side: each figure from where -------------------------------------------------------
@dataclass(frozen=True)
class Chosen:
    """The caps to plan with (None: not given here, the seed/engine decide) and where each comes from."""

    cpus: str | None
    memory: str | None
    cpus_origin: str
    memory_origin: str


def choose(env: dict[str, str], cpus: str | None, memory: str | None, prod: ProdCaps | None) -> Chosen:
    """A flag, else `.env`/the shell's PRODLIKE_*, else production's figure, else None (the seed)."""

    def one(
        flag: str | None, var: str, figure: Figure | None, as_text: Callable[[Figure], str]
    ) -> tuple[str | None, str]:
        if flag is not None:
            return flag, f"--{var.removeprefix('PRODLIKE_').lower()}"
        if env.get(var):
            return env[var], f"{var} (.env or the shell)"
        if figure is not None and prod is not None:
            return as_text(figure), f"production: {prod.origin(figure)}"
        return None, ""

    c, c_origin = one(cpus, "PRODLIKE_CPUS", prod.cpus if prod else None, lambda f: f"{f.value:g}")
    m, m_origin = one(memory, "PRODLIKE_MEMORY", prod.memory if prod else None, lambda f: str(int(f.value)))
    return Chosen(c, m, c_origin, m_origin)


def drift(prod: ProdCaps | None, cpus: float, memory_bytes: int) -> list[str]:
    """One line per planned cap that is not production's (a flag, `.env`, the engine's size decided)."""
    lines: list[str] = []
    if prod is None:
        return lines
    if prod.cpus is not None and abs(prod.cpus.value - cpus) > 1e-6:
        lines.append(f"cpus {cpus:g} planned, production's {prod.cpus.value:g} ({prod.origin(prod.cpus)})")
    if prod.memory is not None and abs(prod.memory.value - memory_bytes) >= 4096:
        lines.append(
            f"memory {format_mib(memory_bytes / MIB)} planned, production's {prod.memory.shown('memory')} "
            f"({prod.origin(prod.memory)})"
        )
    return lines


def overlay_fixed(overlay: object, service: str) -> dict[str, str]:
    """Caps the prod-like overlay writes as fixed values for a service (not from PRODLIKE_*): prodlike.up's
    plan cannot change those ({"cpus": "2", "memory": "1g"})."""
    raw = _get(overlay, "services", service) or {}
    limits = _get(raw, "deploy", "resources", "limits") or {}
    fixed = {}
    for key, value in (
        ("cpus", limits.get("cpus", raw.get("cpus"))),
        ("memory", limits.get("memory", raw.get("mem_limit"))),
    ):
        if value is not None and "PRODLIKE_" not in str(value):
            fixed[key] = str(value)
    return fixed


def overlay_drift(fixed: dict[str, str], cpus: float, memory_bytes: int, overlay_name: str) -> list[str]:
    """The overlay's fixed caps that differ from the plan: Compose applies those, whatever the plan says."""
    lines = []
    if "cpus" in fixed:
        try:
            differs = abs(compose_cpus(fixed["cpus"]) - cpus) > 1e-6
        except PlanError:
            differs = True
        if differs:
            lines.append(
                f"{overlay_name} fixes cpus {fixed['cpus']}, the plan says {cpus:g}: Compose applies the file's"
            )
    if "memory" in fixed:
        try:
            differs = compose_memory(fixed["memory"]) != memory_bytes
        except PlanError:
            differs = True
        if differs:
            lines.append(
                f"{overlay_name} fixes memory {fixed['memory']}, the plan says {format_mib(memory_bytes / MIB)}: "
                "Compose applies the file's"
            )
    return lines


def describe_extra(prod: ProdCaps) -> list[str]:
    """What production says beyond the caps: reservations, replicas/instances, notes."""
    lines = [f"production:        {prod.reference} ({prod.format}, container {prod.container})"]
    reserved = []
    if prod.cpus_reserved is not None:
        reserved.append(
            f"cpus {prod.cpus_reserved.shown('cpus')} ({prod.cpus_reserved.key} {prod.cpus_reserved.written})"
        )
    if prod.memory_reserved is not None:
        reserved.append(
            f"memory {prod.memory_reserved.shown('memory')} ({prod.memory_reserved.key} {prod.memory_reserved.written})"
        )
    if reserved:
        lines.append(f"  reserved:        {', '.join(reserved)} (a reservation, not a cap: not applied)")
    if prod.instances is not None:
        lines.append(
            f"  instances:       {prod.instances.value:g} ({prod.instances.key} {prod.instances.written}): "
            "each container gets the caps above; prod-like runs one"
        )
    if prod.cpus is None and not prod.notes:
        lines.append("  note:            production sets no CPU cap for it")
    if prod.memory is None:
        lines.append("  note:            production sets no memory cap for it")
    for note in prod.notes:
        lines.append(f"  note:            {note}")
    return lines


# -- adopt: which file holds production's numbers for a worker -----------------------------------
#: Words in a path that mark it as production's (preferred when several files define the container).
_PROD_WORDS = re.compile(r"prod|production|live|release", re.IGNORECASE)
_NOT_PROD_WORDS = re.compile(r"dev|test|local|staging|example|sample", re.IGNORECASE)


def pick(found: list[tuple[str, list[Any]]], service: str) -> tuple[str | None, list[str]]:
    """The reference (``path#container``) adopt records for ``service``, and the other candidates.

    A candidate is a file defining a container named like the service with a CPU or memory cap;
    paths naming production first, paths naming dev/test/staging last, then by path."""
    candidates = []
    for path, documents in found:
        if service not in containers(documents):
            continue
        reference = f"{path}#{service}"
        try:
            caps = read_caps(documents, reference, service)
        except UserError:
            continue
        if caps.has_caps:
            candidates.append(reference)

    def rank(reference: str) -> tuple[int, str]:
        path = reference.partition("#")[0]
        return (0 if _PROD_WORDS.search(path) else 2 if _NOT_PROD_WORDS.search(path) else 1, path)

    candidates.sort(key=rank)
    return (candidates[0] if candidates else None), candidates[1:]
