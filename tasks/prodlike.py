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

    running = [ct for ct in compose.containers(compose.settings.service) if ct.running]
    if not running:
        raise UserError(f"the {compose.settings.service} container is not running: start it with `inv prodlike.up`")
    return running[0].name


def probe(compose: Compose, expect_processes: int | None = None) -> dict[str, Any]:
    """Run node inside the running worker to read its heap limit, the cgroup limits it sees and the
    cluster's worker processes; waits (up to ~15 s) until ``expect_processes`` have reported."""
    from tasks.knowledge.failures import UserError
    from tasks.knowledge.settings import display

    s = compose.settings
    # The app's own folder of built files, where its probe sits beside dist_main (path as in the image).
    dist_dir = display(s.dist_main.parent, s.root)
    answer: dict[str, Any] | None = None
    for _attempt in range(30):
        result = compose.run("exec", "-T", s.service, "node", f"{dist_dir}/probe.js", capture=True)
        if result.ok:
            answer = json.loads(result.stdout.strip().splitlines()[-1])
            workers = (answer.get("cluster") or {}).get("workers") or []
            if expect_processes is None or (
                len(workers) == expect_processes and all(w.get("heap_size_limit_mib") for w in workers)
            ):
                return answer
        time.sleep(0.5)  # just started, restarting, or worker processes not reported yet
    if answer is not None:
        return answer
    raise UserError(f"could not run node in the {s.service} container: {compose.diagnose(result)}")


def run_verify(compose: Compose, asked: HeapPlan | None, asked_source: str = "the flags given") -> bool:
    """Planned (``asked``, else the plan recorded on the container) against actual; prints the table."""
    from tasks.drivers import engine
    from tasks.knowledge import prod_verify
    from tasks.knowledge.failures import UserError
    from tasks.knowledge.heap_plan import PlanError
    from tasks.knowledge.prodlike_labels import plan_from_labels
    from tasks.knowledge.prodlike_plan import make_plan
    from tasks.knowledge.status_view import SCHEDULER_LABEL

    details = engine.inspect(compose.gateway, worker_container(compose))
    labels: dict[str, str] = details.get("Config", {}).get("Labels") or {}
    try:
        recorded = plan_from_labels(labels)
    except PlanError as error:
        raise UserError(str(error)) from None
    if asked is not None:
        plan, source = asked, asked_source
    elif recorded is not None:
        plan, source = recorded, "the plan recorded on the container by prodlike.up (its labels)"
    else:
        plan, source = make_plan(compose.env), "none recorded (a normal worker); compared with .env's plan"
    print(f"plan: {source}")
    host = details.get("HostConfig", {})
    table = prod_verify.rows(
        plan,
        int(host.get("NanoCpus") or 0),
        int(host.get("Memory") or 0),
        probe(compose, plan.processes if recorded is not None else None),
        mode="prodlike" if recorded is not None else "normal",
        scheduler=labels.get(SCHEDULER_LABEL, "true").lower() == "true",
    )
    print(prod_verify.render(table))
    return all(row.ok for row in table)


def _asked(
    env: dict[str, str],
    cpus: str | None,
    memory: str | None,
    heap_ratio: str | None,
    heap_mb: str | None,
    processes: str | None,
) -> HeapPlan | None:
    """The plan from verify's flags (unset ones from .env as for prodlike.up), or None without flags."""
    from tasks.knowledge.prodlike_plan import make_plan

    if all(flag is None for flag in (cpus, memory, heap_ratio, heap_mb, processes)):
        return None
    return make_plan(env, cpus, memory, heap_ratio, heap_mb, processes)


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
    check_engine(heap, engine.info(compose.gateway))
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
    if not run_verify(compose, heap, "the plan above, just applied"):
        raise Exit("error: the running worker does not match the plan (FAIL rows above)", code=1)


_VERIFY_HELP = {key: f"{text} Without any flag: the plan recorded on the container." for key, text in _HELP.items()}


@task(help=_VERIFY_HELP, auto_shortflags=False)
def verify(
    c: Context,
    cpus: str | None = None,
    memory: str | None = None,
    heap_ratio: str | None = None,
    heap_mb: str | None = None,
    processes: str | None = None,
) -> None:
    """Compare the running worker's caps, cgroup limits and every process's V8 heap limit with the plan
    prodlike.up recorded on it (or with the plan the flags describe)."""
    from tasks.drivers.compose import Compose
    from tasks.knowledge.settings import settings

    s = settings(c)
    compose = Compose(s)
    if not run_verify(compose, _asked(compose.env, cpus, memory, heap_ratio, heap_mb, processes)):
        raise Exit("error: the running worker does not match the plan (FAIL rows above)", code=1)


@task
def stats(c: Context) -> None:
    """One `docker stats` sample of the worker (CPU %, memory against its cap), the plan recorded on
    it, and each worker process's heap used against its limit."""
    from tasks.drivers import engine, load
    from tasks.drivers.compose import Compose
    from tasks.knowledge.failures import UserError
    from tasks.knowledge.prodlike_labels import mode_text
    from tasks.knowledge.settings import settings

    s = settings(c)
    compose = Compose(s)
    name = worker_container(compose)
    result = compose.gateway.docker("stats", "--no-stream", name, capture=False)
    if not result.ok:
        raise UserError(f"docker stats failed: {compose.diagnose(result)}")
    labels = engine.inspect(compose.gateway, name).get("Config", {}).get("Labels") or {}
    print(f"mode: {mode_text(labels)}")
    status = load.cluster_status(compose.gateway, name)
    for worker in (status or {}).get("workers", []):
        print(
            f"process {worker.get('index')} (pid {worker.get('pid')}, {worker.get('name')}"
            f"{', scheduler' if worker.get('scheduler') else ''}): heap used {worker.get('heap_used_mib')} MiB "
            f"of {worker.get('heap_size_limit_mib')} MiB, rss {worker.get('rss_mib')} MiB, "
            f"restarts {worker.get('restarts')}"
        )


_LOAD_HELP = {
    "count": "Add this many jobs (default: run for --duration).",
    "duration": "Add jobs for this many seconds (default 30 when --count is not given).",
    "mb": "MiB each job allocates on the V8 heap (default 16).",
    "hold_ms": "How long each job holds its memory, in ms (default 200).",
    "retain_share": "Share of jobs that keep their memory for good, mimicking a leak (0 to 1, default 0).",
    "rate": "At most this many jobs added per second (default 0: as fast as --in-flight allows).",
    "in_flight": "At most this many jobs waiting or active at once (default 4).",
    "drain": "Seconds to wait for outstanding jobs after the last one is added (default 90).",
    "out": "Folder for samples.csv and memory.svg (default .devstack/<project>/load/<time>).",
}


@task(help=_LOAD_HELP, auto_shortflags=False)
def load(
    c: Context,
    count: str | None = None,
    duration: str | None = None,
    mb: str = "16",
    hold_ms: str = "200",
    retain_share: str = "0",
    rate: str = "0",
    in_flight: str = "4",
    drain: str = "90",
    out: str | None = None,
) -> None:
    """Put the prod-like worker under a memory load inside its caps and report peak memory against the
    cap, peak heap against its limit, restarts, OOM kills and failed jobs (non-zero exit on any)."""
    from datetime import datetime
    from pathlib import Path

    from tasks.drivers import engine, handover
    from tasks.drivers import load as load_driver
    from tasks.drivers.compose import Compose
    from tasks.knowledge.failures import UserError
    from tasks.knowledge.heap_plan import PlanError
    from tasks.knowledge.load_report import load_options, render
    from tasks.knowledge.prodlike_labels import mode_text, plan_from_labels
    from tasks.knowledge.settings import display, settings

    s = settings(c)
    options = load_options(count, duration, mb, hold_ms, retain_share, rate, in_flight, drain)
    compose = Compose(s)
    handover.refuse_if_active(compose, "prodlike.load")
    host_app_dist = s.dist_main.parent / "loadgen.js"
    if not host_app_dist.is_file():
        raise UserError(f"{display(host_app_dist, s.root)} is missing: build the app (`inv prodlike.up --build`)")
    name = worker_container(compose)
    labels = engine.inspect(compose.gateway, name).get("Config", {}).get("Labels") or {}
    try:
        heap = plan_from_labels(labels)
    except PlanError as error:
        raise UserError(str(error)) from None
    if heap is None:
        raise UserError("the worker is not in prodlike mode (no caps to load against): start it with `inv prodlike.up`")
    folder = Path(out) if out else handover.state_dir(compose) / "load" / datetime.now().strftime("%Y%m%d-%H%M%S")
    what = f"{options.count} jobs" if options.count is not None else f"{options.duration_s:g} s of jobs"
    print(
        f"load: {what} of {options.mb} MiB held {options.hold_ms} ms, {options.retain_share:.0%} retained, "
        f"at most {options.in_flight} in flight; worker {mode_text(labels)}",
        flush=True,
    )
    outcome = load_driver.run(compose, name, heap, options, folder)
    print(render(outcome))
    print(f"samples:       {display(folder / 'samples.csv', s.root)}")
    print(f"plot:          {display(folder / 'memory.svg', s.root)}")
    problems = outcome.problems()
    if problems:
        raise Exit(f"error: the worker did not hold under load: {'; '.join(problems)}", code=1)
    print("OK: no OOM kill, no restart, no failed job")


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


ns = Collection("prodlike", plan, up, verify, stats, load, down)
