"""Planned versus actual for the production-like worker (pure: takes what the engine and node said)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..knowledge.colour import FAIL, OK, label
from ..knowledge.heap_plan import MIB, HeapPlan

PAGE = 4096  # the kernel rounds a memory limit down to whole pages


@dataclass(frozen=True)
class Row:
    item: str
    planned: str
    actual: str
    ok: bool


def rows(
    plan: HeapPlan,
    nano_cpus: int,
    memory: int,
    probe: dict[str, Any],
    *,
    mode: str = "prodlike",
    scheduler: bool = True,
) -> list[Row]:
    """One row per fact. ``mode`` is what the container's labels say (``normal`` fails its row);
    ``scheduler`` whether the container is meant to run the scheduler (then exactly one process does).
    ``probe["cluster"]`` is the cluster primary's status (None: no primary runs); a probe without the
    key (an older build) gets no per-process rows."""
    planned_nano = round(plan.cpus * 1e9)
    quota, period = probe.get("cpu_quota_us"), probe.get("cpu_period_us")
    cgroup_cpus = quota / period if quota and period else None
    cgroup_memory = probe.get("memory_limit_bytes")
    heap = probe.get("heap_size_limit_mib")
    version = probe.get("cgroup_version")
    per_process: list[Row] = []
    heaps = [heap] * plan.processes if heap is not None else []
    if "cluster" in probe:
        cluster = probe.get("cluster") or {}
        workers = [w for w in cluster.get("workers") or [] if isinstance(w, dict)]
        per_process.append(
            Row(
                "node worker processes",
                str(plan.processes),
                str(len(workers)) if cluster else "no cluster primary (not the prod-like entry)",
                len(workers) == plan.processes,
            )
        )
        heaps = []
        for worker in workers:
            limit = worker.get("heap_size_limit_mib")
            heaps.append(limit)
            per_process.append(
                Row(
                    f"process {worker.get('index', '?')} (pid {worker.get('pid', '?')}) heap_size_limit",
                    f"{plan.heap_limit_mib} MiB",
                    "not reported" if limit is None else f"{limit:g} MiB",
                    limit is not None and abs(limit - plan.heap_limit_mib) < 1,
                )
            )
        schedulers = sum(1 for w in workers if w.get("scheduler"))
        per_process.append(
            Row(
                "processes running the scheduler",
                "1" if scheduler else "0",
                str(schedulers),
                schedulers == int(scheduler),
            )
        )
    total = sum(h for h in heaps if h is not None) if heaps and None not in heaps else None
    mode_row = [] if mode == "prodlike" else [Row("worker mode (labels)", "prodlike", mode, False)]
    return [
        *mode_row,
        Row("engine CPUs (NanoCpus)", f"{plan.cpus:g}", f"{nano_cpus / 1e9:g}", nano_cpus == planned_nano),
        Row("engine memory", f"{plan.memory_bytes} B", f"{memory} B", memory == plan.memory_bytes),
        Row(
            f"cgroup v{version or '?'} CPUs",
            f"{plan.cpus:g}",
            "unlimited" if cgroup_cpus is None else f"{cgroup_cpus:g}",
            cgroup_cpus is not None and abs(cgroup_cpus - plan.cpus) < 0.01,
        ),
        Row(
            f"cgroup v{version or '?'} memory",
            f"{plan.memory_bytes} B",
            "unlimited" if cgroup_memory is None else f"{cgroup_memory} B",
            cgroup_memory is not None and abs(cgroup_memory - plan.memory_bytes) < PAGE,
        ),
        Row(
            "V8 heap_size_limit (node exec)",
            f"{plan.heap_limit_mib} MiB",
            "?" if heap is None else f"{heap:g} MiB",
            heap is not None and abs(heap - plan.heap_limit_mib) < 1,
        ),
        *per_process,
        # An explicit --heap-mb may exceed the ratio (prodlike.up warned): then it only has to match.
        Row(
            "heap share of memory",
            f"{plan.heap_share:.1%} (explicit)" if plan.explicit and not plan.within_ratio else f"<= {plan.ratio:.0%}",
            "?" if total is None else f"{total * MIB / plan.memory_bytes:.1%}",
            total is not None and (plan.explicit or total * MIB <= plan.ratio * plan.memory_bytes + MIB),
        ),
        Row("NODE_ENV", "production", str(probe.get("node_env")), probe.get("node_env") == "production"),
    ]


def render(table: list[Row], *, colour: bool = False) -> str:
    """The table; ``colour`` paints OK/FAIL (the caller decides: a terminal, no NO_COLOR)."""
    widths = [max(len(r.item) for r in table), max(len(r.planned) for r in table), max(len(r.actual) for r in table)]
    head = f"{'':<4} {'check':<{widths[0]}}  {'planned':<{widths[1]}}  {'actual':<{widths[2]}}"
    lines = [head]
    for r in table:
        lines.append(
            f"{label(OK if r.ok else FAIL, colour=colour, width=4)} "
            f"{r.item:<{widths[0]}}  {r.planned:<{widths[1]}}  {r.actual:<{widths[2]}}"
        )
    return "\n".join(lines)


#: What `prodlike.verify` runs inside the worker container (`docker exec <container> node -e`): needs
#: nothing from the app's image but `node`. A `docker exec` process gets the container's environment,
#: so this `node` starts with the same NODE_OPTIONS as the worker. The cluster key is there only when
#: the app reports its processes (a JSON file named by WORKER_STATUS_FILE, default below).
PROBE_SCRIPT = r"""
const fs = require('fs'), v8 = require('v8');
const read = (p) => { try { return fs.readFileSync(p, 'utf8').trim(); } catch { return null; } };
const num = (t) => { if (t === null || t === '' || t === 'max') return null;
  const n = Number(t); return Number.isFinite(n) && n > 0 && n < 2 ** 60 ? n : null; };
const report = { heap_size_limit_mib: Math.round(v8.getHeapStatistics().heap_size_limit / 10485.76) / 100,
  node_env: process.env.NODE_ENV ?? null, node_options: process.env.NODE_OPTIONS ?? null };
const v2mem = read('/sys/fs/cgroup/memory.max'), v2cpu = read('/sys/fs/cgroup/cpu.max');
if (v2mem !== null || v2cpu !== null) {
  const [quota, period] = (v2cpu || 'max').split(/\s+/);
  Object.assign(report, { cgroup_version: 2, memory_limit_bytes: num(v2mem), cpu_quota_us: num(quota),
    cpu_period_us: num(period) });
} else {
  Object.assign(report, { cgroup_version: 1,
    memory_limit_bytes: num(read('/sys/fs/cgroup/memory/memory.limit_in_bytes')),
    cpu_quota_us: num(read('/sys/fs/cgroup/cpu/cpu.cfs_quota_us')),
    cpu_period_us: num(read('/sys/fs/cgroup/cpu/cpu.cfs_period_us')) });
}
const status = read(process.env.WORKER_STATUS_FILE || '/tmp/devstack-worker-status.json');
if (status !== null) { try { report.cluster = JSON.parse(status); } catch { report.cluster = null; } }
process.stdout.write(JSON.stringify(report) + '\n');
"""


def parse_probe(stdout: str) -> dict[str, Any] | None:
    """The probe's JSON line (the last line printed), None when there is none."""
    import json

    for line in reversed(stdout.strip().splitlines()):
        try:
            answer = json.loads(line)
        except ValueError:
            continue
        if isinstance(answer, dict):
            return answer
    return None


def probe_failure(service: str, container: str, returncode: int, stderr: str) -> str:
    """Why `docker exec <container> node -e` failed, in one line."""
    text = stderr.strip().splitlines()[-1] if stderr.strip() else f"exit code {returncode}"
    if returncode in (126, 127) or "executable file not found" in stderr or "no such file" in stderr.lower():
        return (
            f"the {service} container ({container}) has no `node` on its PATH, so its heap limit cannot be read "
            "(the probe runs `node -e` inside the worker's image)"
        )
    return f"reading the limits inside the {service} container ({container}) failed: {text}"
