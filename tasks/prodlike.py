"""`inv prodlike.*`: the worker under production-like CPU/memory caps with a heap plan that holds."""
from __future__ import annotations

import json
import time

from invoke import Collection, task
from invoke.exceptions import Exit

from tasks import app, engine, handover, heapplan, prodverify, runner
from tasks.compose import Compose
from tasks.failures import UserError
from tasks.heapplan import MIB, PlanError, format_mib
from tasks.settings import settings
from tasks.worker import start_worker

_HELP = {
    "cpus": "CPU cap (default PRODLIKE_CPUS from .env, else 3).",
    "memory": "Memory cap: 13g, 512m, 12.977GiB or bytes (default PRODLIKE_MEMORY, else 13g).",
    "heap_ratio": "Share of memory all V8 heaps may take (default PRODLIKE_HEAP_RATIO, else 0.85).",
    "heap_mb": "Old-space size in MiB instead of the computed one (allowed with a warning if it breaks the ratio).",
    "processes": "Node processes in the container sharing the memory (default PRODLIKE_PROCESSES, else 1).",
}


def make_plan(env: dict[str, str], cpus=None, memory=None, heap_ratio=None, heap_mb=None, processes=None):
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
        return heapplan.plan_heap(
            heapplan.parse_size(memory if memory is not None else env.get("PRODLIKE_MEMORY") or "13g"),
            cpus=heapplan.parse_cpus(cpus if cpus is not None else env.get("PRODLIKE_CPUS") or "3"),
            ratio=ratio,
            processes=int(procs_text),
            heap_mb=int(heap_mb) if heap_mb is not None else None,
        )
    except PlanError as error:
        raise UserError(str(error)) from None


def describe(plan) -> str:
    return "\n".join([
        f"cpus:              {plan.cpus:g}",
        f"memory:            {format_mib(plan.memory_mib)} ({plan.memory_bytes} bytes)",
        f"node processes:    {plan.processes}",
        f"NODE_OPTIONS:      {plan.node_options}" + (" (explicit --heap-mb)" if plan.explicit else ""),
        f"heap_size_limit:   {plan.heap_limit_mib} MiB per process = old space {plan.old_space_mib} + 3 x {plan.semi_space_mib} semi-space",
        f"heap share:        {plan.heap_share:.1%} of memory (limit {plan.ratio:.0%})",
        "NODE_ENV:          production (compiled output, no watch)",
    ])


def compose_env(plan) -> dict[str, str]:
    """Variables the override file interpolates."""
    return {"PRODLIKE_CPUS": f"{plan.cpus:g}", "PRODLIKE_MEMORY": plan.memory_compose,
            "PRODLIKE_NODE_OPTIONS": plan.node_options}


def check_engine(plan, info: engine.EngineInfo) -> None:
    """Refuse caps the engine cannot give, before Compose runs."""
    have = f"the Docker engine has {info.cpus} CPUs and {format_mib(info.memory_bytes / MIB)} memory"
    if plan.cpus > info.cpus:
        raise UserError(f"{plan.cpus:g} CPUs asked but {have}: lower --cpus (or PRODLIKE_CPUS in .env) "
                        "or give Docker Desktop more CPUs")
    if plan.memory_bytes > info.memory_bytes:
        raise UserError(f"{format_mib(plan.memory_mib)} memory asked but {have}: lower --memory "
                        "(or PRODLIKE_MEMORY in .env) or give Docker Desktop more memory")


def override_files(compose: Compose) -> list[str]:
    return [*compose.files(), compose.settings.prodlike_file]


def worker_container(compose: Compose) -> str:
    running = [ct for ct in compose.ps(compose.settings.service) if ct.running]
    if not running:
        raise UserError(f"the {compose.settings.service} container is not running: start it with `inv prodlike.up`")
    return running[0].name


def probe(compose: Compose, dist_dir: str = "dist/apps/worker") -> dict:
    """Run node inside the running worker to read its heap limit and the cgroup limits it sees."""
    s = compose.settings
    for _attempt in range(20):
        result = compose.run("exec", "-T", s.service, "node", f"{dist_dir}/probe.js", capture=True)
        if result.ok:
            return json.loads(result.stdout.strip().splitlines()[-1])
        time.sleep(0.5)  # just started or restarting
    raise UserError(f"could not run node in the {s.service} container: {compose.diagnose(result)}")


def run_verify(compose: Compose, plan) -> bool:
    nano, memory = engine.inspect_limits(worker_container(compose))
    table = prodverify.rows(plan, nano, memory, probe(compose))
    print(prodverify.render(table))
    return all(row.ok for row in table)


@task(help=_HELP, auto_shortflags=False)
def plan(c, cpus=None, memory=None, heap_ratio=None, heap_mb=None, processes=None):
    """Print what prodlike.up would apply (caps, NODE_OPTIONS, heap share) without touching Docker."""
    s = settings(c)
    compose = Compose(s, require_env=False)
    heap = make_plan(compose.env, cpus, memory, heap_ratio, heap_mb, processes)
    print(describe(heap))
    for warning in heap.warnings():
        print(f"warning: {warning}")


@task(help={"build": "Build the app (and the image) first.", **_HELP}, auto_shortflags=False)
def up(c, build=False, cpus=None, memory=None, heap_ratio=None, heap_mb=None, processes=None):
    """Run the worker with production-like caps and heap, from the compiled output, then verify it."""
    s = settings(c)
    compose = Compose(s)
    heap = make_plan(compose.env, cpus, memory, heap_ratio, heap_mb, processes)
    for warning in heap.warnings():
        print(f"warning: {warning}", flush=True)
    handover.refuse_if_active(compose, "prodlike.up")
    check_engine(heap, engine.info())
    handover.recover_stale(compose)
    if build:
        app.build(s)
    else:
        app.require_dist(s, allow_stale=False)
    print(describe(heap), flush=True)
    start_worker(compose, build=build, files=override_files(compose), extra_env=compose_env(heap),
                 what="starting the prod-like worker")
    if not run_verify(compose, heap):
        raise Exit("error: the running worker does not match the plan (FAIL rows above)", code=1)


@task(help=_HELP, auto_shortflags=False)
def verify(c, cpus=None, memory=None, heap_ratio=None, heap_mb=None, processes=None):
    """Compare the running worker's caps, cgroup limits and V8 heap limit with the plan."""
    s = settings(c)
    compose = Compose(s)
    heap = make_plan(compose.env, cpus, memory, heap_ratio, heap_mb, processes)
    if not run_verify(compose, heap):
        raise Exit("error: the running worker does not match the plan (FAIL rows above)", code=1)


@task
def stats(c):
    """One `docker stats` sample of the worker (CPU %, memory against its cap)."""
    s = settings(c)
    compose = Compose(s)
    result = runner.run(["docker", "stats", "--no-stream", worker_container(compose)])
    if not result.ok:
        raise UserError(f"docker stats failed: {compose.diagnose(result)}")


@task
def down(c):
    """Back to the normal background worker: recreated from the base compose files, caps gone."""
    s = settings(c)
    compose = Compose(s)
    handover.refuse_if_active(compose, "prodlike.down")
    start_worker(compose)


ns = Collection("prodlike", plan, up, verify, stats, down)
