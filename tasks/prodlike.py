"""`inv prodlike.*`: the worker under production-like CPU/memory caps with a heap plan that holds."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

from .cli_args import optional_positional

if TYPE_CHECKING:  # imported by the tasks themselves when they run
    from .drivers.compose import Compose
    from .knowledge.engine_info import EngineInfo
    from .knowledge.heap_plan import HeapPlan
    from .knowledge.settings import Settings


NAME_HELP = (
    "The worker: a name from invoke.yaml's `workers` (or its service), as `--name NAME` or just NAME; "
    "the default (only or first) worker when left out."
)
_HELP = {
    "cpus": "CPU cap (default PRODLIKE_CPUS from .env, else production's limit from prodlike.caps_from, else 3).",
    "memory": "Memory cap: 13g, 512m, 12.977GiB or bytes (default PRODLIKE_MEMORY, else production's limit "
    "from prodlike.caps_from, else 13g).",
    "heap_ratio": "Share of memory all V8 heaps may take (default PRODLIKE_HEAP_RATIO, else 0.85).",
    "heap_mb": "Old-space size in MiB instead of the computed one (allowed with a warning if it breaks the ratio).",
    "processes": "Node processes in the container sharing the memory (default PRODLIKE_PROCESSES, else 1).",
}


def override_files(compose: Compose) -> list[str]:
    return [*compose.files(), compose.settings.prodlike_file]


def worker_container(compose: Compose) -> str:
    from .knowledge.failures import UserError

    s = compose.settings
    running = [ct for ct in compose.containers(s.service) if ct.running]
    if not running:
        again = f"inv prodlike.up {s.worker_name}" if s.several_workers else "inv prodlike.up"
        raise UserError(f"the {s.service} container is not running: start it with `{again}`")
    return running[0].name


def _overlay(compose: Compose) -> object:
    """The prod-like overlay's YAML; a missing or unreadable file: one line saying what to run."""
    import yaml

    from .knowledge.failures import UserError
    from .knowledge.settings import config_path

    s = compose.settings
    path = config_path(s.prodlike_file, s.root)
    try:
        with open(path, encoding="utf-8") as handle:
            return yaml.safe_load(handle) or {}
    except FileNotFoundError:
        raise UserError(f"the prod-like overlay {s.prodlike_file} does not exist: run `inv adopt`") from None
    except (OSError, yaml.YAMLError) as error:
        raise UserError(f"the prod-like overlay {s.prodlike_file} cannot be read ({error})") from None


def require_overlay(compose: Compose) -> object:
    """The prod-like overlay must exist and cover this worker's service (one line saying what to run)."""
    from .knowledge.failures import UserError

    s = compose.settings
    data = _overlay(compose)
    services = data.get("services") if isinstance(data, dict) else None
    if not isinstance(services, dict) or s.service not in services:
        raise UserError(
            f"the prod-like overlay {s.prodlike_file} has no service {s.service!r}: run `inv adopt` "
            f"(or `inv adopt --worker {s.service}` with the other workers)"
        )
    return data


def planned(
    compose: Compose,
    flags: tuple[str | None, str | None, str | None, str | None, str | None],
    info: EngineInfo | None = None,
) -> tuple[HeapPlan, list[str], dict[str, str]]:
    """The plan from the flags (cpus, memory, heap ratio, heap MiB, processes), `.env`, production's
    definition (`prodlike.caps_from`) and, given ``info``, the engine's size; and the lines that say
    where each cap comes from (notes, the plan, production's other figures, drift), and those origins."""
    from .drivers import prod_source
    from .knowledge.failures import UserError
    from .knowledge.prod_source import choose, overlay_fixed
    from .knowledge.prodlike_plan import describe, fit_to_engine, make_plan, origins, source_lines

    cpus, memory, heap_ratio, heap_mb, processes = flags
    s = compose.settings
    prod = prod_source.load(s)
    chosen = choose(compose.env, cpus, memory, prod)
    lines: list[str] = []
    fitted: list[str] = []
    cpus_text, memory_text = chosen.cpus, chosen.memory
    if info is not None:
        cpus_text, memory_text, fitted = fit_to_engine(compose.env, cpus_text, memory_text, info)
        lines += [f"note: {line}" for line in fitted]
    heap = make_plan(compose.env, cpus_text, memory_text, heap_ratio, heap_mb, processes)
    cpus_origin, memory_origin = origins(chosen.cpus_origin, chosen.memory_origin, fitted)
    if info is not None:
        from .knowledge.prodlike_plan import check_engine

        check_engine(heap, info, cpus_origin, memory_origin)
    lines.append(describe(heap, cpus_origin, memory_origin))
    try:
        fixed = overlay_fixed(_overlay(compose), s.service)
    except UserError:
        fixed = {}  # prodlike.plan runs before adopt too; prodlike.up refuses a missing overlay by itself
    lines += source_lines(prod, heap, fixed, s.prodlike_file)
    lines += [f"note: {line}" for line in fork_lines(s, heap, info)]
    return heap, lines, {"cpus": cpus_origin, "memory": memory_origin}


def fork_lines(s: Settings, heap: HeapPlan, info: EngineInfo | None) -> list[str]:
    """What the worker's code forks by itself, against the plan: how many processes under its CPUs.
    ``info``: the engine, whose CPU count os.cpus() returns in a container (without it, this machine's)."""
    import os

    from .drivers import app_code
    from .knowledge.fork_scan import lines

    visible: int | None
    if info is not None:
        visible, where = info.cpus, "the Docker engine's CPUs"
    else:
        visible, where = os.cpu_count(), "this machine's CPUs; with Docker Desktop, its VM's"
    return lines(
        app_code.fork_sites(s),
        planned_cpus=heap.cpus,
        planned_processes=heap.processes,
        visible_cpus=visible,
        where=where,
    )


def probe(compose: Compose, container: str, expect_processes: int | None = None) -> dict[str, Any]:
    """Run `node -e` inside the running worker (nothing of the app's image or dist needed but node):
    its heap limit under the container's NODE_OPTIONS, the cgroup limits it sees, every Node process
    of the container with its heap limit, and the processes the app reports, if it reports them.
    Waits (a few seconds, said once) only for an app known to report them (its status file is there)
    that reports fewer processes than ``expect_processes``: an app that writes none is not waited for."""
    from .knowledge.failures import UserError
    from .knowledge.prod_verify import PROBE_SCRIPT, parse_probe, probe_failure

    s = compose.settings
    said = False
    answer: dict[str, Any] | None = None
    for _ in range(30):
        result = compose.gateway.docker("exec", container, "node", "-e", PROBE_SCRIPT)
        if not result.ok:
            raise UserError(probe_failure(s.service, container, result.returncode, result.stderr))
        answer = parse_probe(result.stdout)
        if answer is None:
            raise UserError(f"`node -e` in the {s.service} container printed no report: {result.stdout.strip()[:200]}")
        workers = (answer.get("cluster") or {}).get("workers") or []
        complete = len(workers) == expect_processes and all(w.get("heap_size_limit_mib") for w in workers)
        if expect_processes is None or complete or "cluster" not in answer:
            break
        if not said:
            print(f"waiting for the {s.service} app to report its {expect_processes} process(es)...", flush=True)
            said = True
        time.sleep(0.5)
    assert answer is not None
    return answer


def verify_facts(compose: Compose, asked: HeapPlan | None, asked_source: str = "the flags given") -> dict[str, Any]:
    """Planned (``asked``, else the plan recorded on the container) against actual: the `--json` facts
    of prodlike.verify (`tasks.knowledge.json_doc.verify_facts`), rendered by `print_verify`."""
    from .drivers import engine
    from .knowledge import json_doc, prod_verify
    from .knowledge.failures import UserError
    from .knowledge.heap_plan import PlanError
    from .knowledge.prodlike_labels import plan_from_labels
    from .knowledge.prodlike_plan import make_plan
    from .knowledge.status_view import SCHEDULER_LABEL

    name = worker_container(compose)
    details = engine.inspect(compose.gateway, name)
    labels: dict[str, str] = details.get("Config", {}).get("Labels") or {}
    try:
        recorded = plan_from_labels(labels)
    except PlanError as error:
        raise UserError(str(error)) from None
    if asked is not None:
        plan, source, text = asked, "flags", asked_source
    elif recorded is not None:
        plan, source, text = recorded, "labels", "the plan recorded on the container by prodlike.up (its labels)"
    else:
        plan, source = make_plan(compose.env), "env"
        text = "none recorded (a normal worker); compared with .env's plan"
    host = details.get("HostConfig", {})
    mode = "prodlike" if recorded is not None else "normal"
    table = prod_verify.rows(
        plan,
        int(host.get("NanoCpus") or 0),
        int(host.get("Memory") or 0),
        probe(compose, name, plan.processes if recorded is not None else None),
        mode=mode,
        scheduler=labels.get(SCHEDULER_LABEL, "true").lower() == "true",
    )
    return json_doc.verify_facts(mode, source, text, plan, table)


def print_verify(facts: dict[str, Any]) -> bool:
    """The text of `verify_facts`: where the plan came from, the table (OK/FAIL coloured on a terminal)."""
    from .drivers.progress import colour_for
    from .knowledge import prod_verify

    print(f"plan: {facts['plan_source_text']}")
    table = [
        prod_verify.Row(r["check"], r["planned"], r["actual"], r["ok"], warn=r.get("status") == "warn")
        for r in facts["checks"]
    ]
    print(prod_verify.render(table, colour=colour_for()))
    return all(row.ok for row in table)


def run_verify(compose: Compose, asked: HeapPlan | None, asked_source: str = "the flags given") -> bool:
    """Planned (``asked``, else the plan recorded on the container) against actual; prints the table."""
    return print_verify(verify_facts(compose, asked, asked_source))


def _asked(
    env: dict[str, str],
    cpus: str | None,
    memory: str | None,
    heap_ratio: str | None,
    heap_mb: str | None,
    processes: str | None,
) -> HeapPlan | None:
    """The plan from verify's flags (unset ones from .env as for prodlike.up), or None without flags."""
    from .knowledge.prodlike_plan import make_plan

    if all(flag is None for flag in (cpus, memory, heap_ratio, heap_mb, processes)):
        return None
    return make_plan(env, cpus, memory, heap_ratio, heap_mb, processes)


_JSON_HELP = {"json": "Print one JSON document instead of text (keys: docs/json.md); the same exit code."}


@task(positional=["name"], help={"name": NAME_HELP, **_HELP, **_JSON_HELP}, auto_shortflags=False)
def plan(
    c: Context,
    name: str | None = None,
    cpus: str | None = None,
    memory: str | None = None,
    heap_ratio: str | None = None,
    heap_mb: str | None = None,
    processes: str | None = None,
    json: bool = False,
) -> None:
    """Print the caps, NODE_OPTIONS and heap share that prodlike.up would apply.

    Each cap says where it comes from (a flag, .env, production's definition named by
    prodlike.caps_from, the default); a `drift:` line when it is not production's. The Docker engine's
    size is asked, as prodlike.up asks it (the default caps fitted to it, caps beyond it refused); without
    an engine the plan is made without it, said. Nothing is started."""
    from .drivers import engine
    from .drivers.compose import Compose
    from .knowledge.failures import UserError, explain
    from .knowledge.settings import settings

    def gather() -> tuple[HeapPlan, list[str], dict[str, str]]:
        s = settings(c).worker(name or None)  # a worker named as for prodlike.up (an unknown one: one line)
        compose = Compose(s, require_env=False)
        try:
            info, failure, text = engine.query(compose.gateway)
            why = explain(failure, text) if info is None else ""
        except UserError as error:  # no docker CLI: planned all the same
            info, why = None, error.reason
        heap, lines, origins = planned(compose, (cpus, memory, heap_ratio, heap_mb, processes), info)
        head = [f"worker: {s.worker_name or s.service}"] if settings(c).several_workers else []
        if info is None:
            head.append(f"note: planned without the Docker engine's size ({why}): prodlike.up fits it to the engine")
        return heap, head + lines, origins

    if json:
        import sys

        from .drivers import json_out
        from .knowledge import json_doc

        def body() -> tuple[bool, dict[str, Any]]:
            heap, lines, origins = gather()
            for warning in heap.warnings():
                print(f"warning: {warning}", file=sys.stderr)
            drift = [line.removeprefix("drift: ") for line in lines if line.startswith("drift: ")]
            facts = {"plan": json_doc.plan_facts(heap), "warnings": heap.warnings()}
            return True, {**facts, "sources": origins, "drift": drift}

        json_out.emit("prodlike.plan", body)
        return
    heap, lines, _ = gather()
    for line in lines:
        print(line)
    for warning in heap.warnings():
        print(f"warning: {warning}")


@task(
    positional=["name"],
    help={"name": NAME_HELP, "build": "Build the app (and the image) first.", **_HELP},
    auto_shortflags=False,
)
def up(
    c: Context,
    name: str | None = None,
    build: bool = False,
    cpus: str | None = None,
    memory: str | None = None,
    heap_ratio: str | None = None,
    heap_mb: str | None = None,
    processes: str | None = None,
) -> None:
    """Run the worker with production-like caps and heap, then verify it.

    The worker runs from the compiled output."""
    from .drivers import engine, handover, host_app, workers
    from .drivers.compose import Compose
    from .drivers.handover import restore
    from .drivers.worker_service import build_inputs, start_worker
    from .knowledge.prodlike_plan import compose_env

    s = workers.one(c, name)  # its app commands completed from the lock file
    compose = Compose(s)
    require_overlay(compose)
    handover.refuse_if_active(compose, "prodlike.up")
    info = engine.info(compose.gateway)
    # the default caps where the engine has them; production's (prodlike.caps_from) checked against it
    heap, lines, _ = planned(compose, (cpus, memory, heap_ratio, heap_mb, processes), info)
    for warning in heap.warnings():
        print(f"warning: {warning}", flush=True)
    restore.recover_stale(compose)
    pulled = build_inputs(compose) is None
    if build:
        host_app.build(s, pulled=pulled)
    else:
        host_app.require_dist(s, allow_stale=False)
    note = host_app.compiled_output_note(s, pulled=pulled)
    if note:
        print(f"note: {note}", flush=True)
    for line in lines:
        print(line, flush=True)
    start_worker(
        compose,
        build=build,
        files=override_files(compose),
        extra_env=compose_env(heap),
        what="starting the prod-like worker",
        task="prodlike.up",
        accept_hint="`inv stack.up --recreate` first",
    )
    if not run_verify(compose, heap, "the plan above, just applied"):
        raise Exit("error: the running worker does not match the plan (FAIL rows above)", code=1)


_VERIFY_HELP = {key: f"{text} Without any flag: the plan recorded on the container." for key, text in _HELP.items()}


@task(positional=["name"], help={"name": NAME_HELP, **_VERIFY_HELP, **_JSON_HELP}, auto_shortflags=False)
def verify(
    c: Context,
    name: str | None = None,
    cpus: str | None = None,
    memory: str | None = None,
    heap_ratio: str | None = None,
    heap_mb: str | None = None,
    processes: str | None = None,
    json: bool = False,
) -> None:
    """Compare the running worker's caps, cgroup and heap limits with its plan.

    Every process's V8 heap limit is read; the plan is the one prodlike.up recorded on the container
    (or the one the flags describe)."""
    from .drivers.compose import Compose
    from .knowledge.settings import settings

    def gather() -> dict[str, Any]:
        s = settings(c).worker(name or None)
        compose = Compose(s)
        return verify_facts(compose, _asked(compose.env, cpus, memory, heap_ratio, heap_mb, processes))

    if json:
        from .drivers import json_out

        def body() -> tuple[bool, dict[str, Any]]:
            facts = gather()
            return all(row["ok"] for row in facts["checks"]), facts

        if not json_out.emit("prodlike.verify", body):
            raise Exit("error: the running worker does not match the plan (see the JSON's failed checks)", code=1)
        return
    if not print_verify(gather()):
        raise Exit("error: the running worker does not match the plan (FAIL rows above)", code=1)


@task(positional=["name"], help={"name": NAME_HELP})
def stats(c: Context, name: str | None = None) -> None:
    """Show one `docker stats` sample of the worker and each process's heap use.

    CPU %, memory against its cap, the plan recorded on it, each worker process's heap used against
    its limit (an app reporting them), and every Node process in the container with its heap limit
    and the sum of those limits against the memory cap."""
    from .drivers import engine, load
    from .drivers.compose import Compose
    from .knowledge.failures import UserError
    from .knowledge.heap_plan import PlanError
    from .knowledge.prod_verify import DEFAULT_RATIO, node_procs, stats_lines
    from .knowledge.prodlike_labels import mode_text, plan_from_labels
    from .knowledge.settings import settings

    s = settings(c).worker(name or None)
    compose = Compose(s)
    container = worker_container(compose)
    result = compose.gateway.docker("stats", "--no-stream", container, capture=False)
    if not result.ok:
        raise UserError(f"docker stats failed: {compose.diagnose(result)}")
    labels = engine.inspect(compose.gateway, container).get("Config", {}).get("Labels") or {}
    print(f"mode: {mode_text(labels)}")
    status = load.cluster_status(compose.gateway, container)
    for worker in (status or {}).get("workers", []):
        print(
            f"process {worker.get('index')} (pid {worker.get('pid')}, {worker.get('name')}"
            f"{', scheduler' if worker.get('scheduler') else ''}): heap used {worker.get('heap_used_mib')} MiB "
            f"of {worker.get('heap_size_limit_mib')} MiB, rss {worker.get('rss_mib')} MiB, "
            f"restarts {worker.get('restarts')}"
        )
    # Every Node process of the container, whatever started it (the app's own forks too), and the sum
    # of their heap limits against the memory cap.
    answer = probe(compose, container)
    try:
        recorded = plan_from_labels(labels)
    except PlanError:
        recorded = None
    procs = node_procs(answer) or []
    for line in stats_lines(procs, answer.get("memory_limit_bytes"), recorded.ratio if recorded else DEFAULT_RATIO):
        print(line)


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


@task(positional=["name"], help={"name": NAME_HELP, **_LOAD_HELP}, auto_shortflags=False)
def load(
    c: Context,
    name: str | None = None,
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
    """Put the prod-like worker under a memory load and report how it held up.

    The load stays inside its caps; the report gives peak memory against the cap, peak heap against
    its limit, restarts, OOM kills and failed jobs (non-zero exit on any)."""
    from datetime import datetime
    from pathlib import Path

    from .drivers import engine, handover
    from .drivers import load as load_driver
    from .drivers.compose import Compose
    from .knowledge.failures import UserError
    from .knowledge.heap_plan import PlanError
    from .knowledge.load_report import load_options, render
    from .knowledge.prodlike_labels import mode_text, plan_from_labels
    from .knowledge.settings import display, settings

    s = settings(c).worker(name or None)
    options = load_options(count, duration, mb, hold_ms, retain_share, rate, in_flight, drain)
    compose = Compose(s)
    handover.refuse_if_active(compose, "prodlike.load")
    host_app_dist = s.dist_main.parent / "loadgen.js"
    if not host_app_dist.is_file():
        if s.build_mode != "host":
            raise UserError(
                f"prodlike.load drives a load generator built beside the worker's compiled entry "
                f"({display(host_app_dist, s.root)}); {s.service} has none (build_mode {s.build_mode}): "
                "load it with your own producer and watch `inv prodlike.stats`"
            )
        raise UserError(f"{display(host_app_dist, s.root)} is missing: build the app (`inv prodlike.up --build`)")
    container = worker_container(compose)
    labels = engine.inspect(compose.gateway, container).get("Config", {}).get("Labels") or {}
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
    outcome = load_driver.run(compose, container, heap, options, folder)
    print(render(outcome))
    print(f"samples:       {display(folder / 'samples.csv', s.root)}")
    print(f"plot:          {display(folder / 'memory.svg', s.root)}")
    problems = outcome.problems()
    if problems:
        raise Exit(f"error: the worker did not hold under load: {'; '.join(problems)}", code=1)
    print("OK: no OOM kill, no restart, no failed job")


@task(positional=["name"], help={"name": NAME_HELP})
def down(c: Context, name: str | None = None) -> None:
    """Go back to the normal background worker: base compose files, no caps.

    The worker container is recreated from the base compose files."""
    from .drivers import handover
    from .drivers.compose import Compose
    from .drivers.worker_service import start_worker
    from .knowledge.settings import settings

    s = settings(c).worker(name or None)
    compose = Compose(s)
    handover.refuse_if_active(compose, "prodlike.down")
    start_worker(compose, task="prodlike.down", accept_hint="`inv stack.up --recreate` first")


for _task in ("plan", "up", "verify", "stats", "load", "down"):
    optional_positional(f"prodlike.{_task}")

ns = Collection("prodlike", plan, up, verify, stats, load, down)
