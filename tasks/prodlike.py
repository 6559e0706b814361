"""`inv prodlike.*`: the worker under production-like CPU/memory caps with a heap plan that holds."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

if TYPE_CHECKING:  # imported by the tasks themselves when they run
    from tasks.drivers.compose import Compose
    from tasks.knowledge.heap_plan import HeapPlan


_HELP = {
    "cpus": "CPU cap (default PRODLIKE_CPUS from .env, else 3).",
    "memory": "Memory cap: 13g, 512m, 12.977GiB or bytes (default PRODLIKE_MEMORY, else 13g).",
    "heap_ratio": "Share of memory all V8 heaps may take (default PRODLIKE_HEAP_RATIO, else 0.85).",
    "heap_mb": "Old-space size in MiB instead of the computed one (allowed with a warning if it breaks the ratio).",
    "processes": "Node processes in the container sharing the memory (default PRODLIKE_PROCESSES, else 1).",
}


def override_files(compose: Compose) -> list[str]:
    return [*compose.files(), compose.settings.prodlike_file]


def worker_container(compose: Compose) -> str:
    from tasks.knowledge.failures import UserError

    running = [ct for ct in compose.ps(compose.settings.service) if ct.running]
    if not running:
        raise UserError(f"the {compose.settings.service} container is not running: start it with `inv prodlike.up`")
    return running[0].name


def probe(compose: Compose, dist_dir: str = "dist/apps/worker") -> dict[str, Any]:
    """Run node inside the running worker to read its heap limit and the cgroup limits it sees."""
    from tasks.knowledge.failures import UserError

    s = compose.settings
    for _attempt in range(20):
        result = compose.run("exec", "-T", s.service, "node", f"{dist_dir}/probe.js", capture=True)
        if result.ok:
            answer: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
            return answer
        time.sleep(0.5)  # just started or restarting
    raise UserError(f"could not run node in the {s.service} container: {compose.diagnose(result)}")


def run_verify(compose: Compose, plan: HeapPlan) -> bool:
    from tasks.drivers import engine
    from tasks.knowledge import prod_verify

    nano, memory = engine.inspect_limits(worker_container(compose))
    table = prod_verify.rows(plan, nano, memory, probe(compose))
    print(prod_verify.render(table))
    return all(row.ok for row in table)


@task(help=_HELP, auto_shortflags=False)
def plan(
    c: Context,
    cpus: str | None = None,
    memory: str | None = None,
    heap_ratio: str | None = None,
    heap_mb: str | None = None,
    processes: str | None = None,
) -> None:
    """Print what prodlike.up would apply (caps, NODE_OPTIONS, heap share) without touching Docker."""
    from tasks.drivers.compose import Compose
    from tasks.knowledge.prodlike_plan import describe, make_plan
    from tasks.knowledge.settings import settings

    s = settings(c)
    compose = Compose(s, require_env=False)
    heap = make_plan(compose.env, cpus, memory, heap_ratio, heap_mb, processes)
    print(describe(heap))
    for warning in heap.warnings():
        print(f"warning: {warning}")


@task(help={"build": "Build the app (and the image) first.", **_HELP}, auto_shortflags=False)
def up(
    c: Context,
    build: bool = False,
    cpus: str | None = None,
    memory: str | None = None,
    heap_ratio: str | None = None,
    heap_mb: str | None = None,
    processes: str | None = None,
) -> None:
    """Run the worker with production-like caps and heap, from the compiled output, then verify it."""
    from tasks.drivers import engine, handover, host_app, workers
    from tasks.drivers.compose import Compose
    from tasks.drivers.worker_service import start_worker
    from tasks.knowledge.prodlike_plan import check_engine, compose_env, describe, make_plan

    s = workers.one(c, None)  # the default worker, its app commands completed from the lock file
    compose = Compose(s)
    heap = make_plan(compose.env, cpus, memory, heap_ratio, heap_mb, processes)
    for warning in heap.warnings():
        print(f"warning: {warning}", flush=True)
    handover.refuse_if_active(compose, "prodlike.up")
    check_engine(heap, engine.info())
    handover.recover_stale(compose)
    if build:
        host_app.build(s)
    else:
        host_app.require_dist(s, allow_stale=False)
    note = host_app.compiled_output_note(s)
    if note:
        print(f"note: {note}", flush=True)
    print(describe(heap), flush=True)
    start_worker(
        compose,
        build=build,
        files=override_files(compose),
        extra_env=compose_env(heap),
        what="starting the prod-like worker",
    )
    if not run_verify(compose, heap):
        raise Exit("error: the running worker does not match the plan (FAIL rows above)", code=1)


@task(help=_HELP, auto_shortflags=False)
def verify(
    c: Context,
    cpus: str | None = None,
    memory: str | None = None,
    heap_ratio: str | None = None,
    heap_mb: str | None = None,
    processes: str | None = None,
) -> None:
    """Compare the running worker's caps, cgroup limits and V8 heap limit with the plan."""
    from tasks.drivers.compose import Compose
    from tasks.knowledge.prodlike_plan import make_plan
    from tasks.knowledge.settings import settings

    s = settings(c)
    compose = Compose(s)
    heap = make_plan(compose.env, cpus, memory, heap_ratio, heap_mb, processes)
    if not run_verify(compose, heap):
        raise Exit("error: the running worker does not match the plan (FAIL rows above)", code=1)


@task
def stats(c: Context) -> None:
    """One `docker stats` sample of the worker (CPU %, memory against its cap)."""
    from tasks.drivers import process
    from tasks.drivers.compose import Compose
    from tasks.knowledge.failures import UserError
    from tasks.knowledge.settings import settings

    s = settings(c)
    compose = Compose(s)
    result = process.run(["docker", "stats", "--no-stream", worker_container(compose)])
    if not result.ok:
        raise UserError(f"docker stats failed: {compose.diagnose(result)}")


@task
def down(c: Context) -> None:
    """Back to the normal background worker: recreated from the base compose files, caps gone."""
    from tasks.drivers import handover
    from tasks.drivers.compose import Compose
    from tasks.drivers.worker_service import start_worker
    from tasks.knowledge.settings import settings

    s = settings(c)
    compose = Compose(s)
    handover.refuse_if_active(compose, "prodlike.down")
    start_worker(compose)


ns = Collection("prodlike", plan, up, verify, stats, down)
