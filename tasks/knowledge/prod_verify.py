"""Planned versus actual for the production-like worker (pure: takes what the engine and node said)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..knowledge.colour import FAIL, OK, WARN, label
from ..knowledge.heap_plan import MIB, HeapPlan, format_mib

PAGE = 4096  # the kernel rounds a memory limit down to whole pages
DEFAULT_RATIO = 0.85  # the heaps' share of memory when no plan is recorded (PRODLIKE_HEAP_RATIO's default)


@dataclass(frozen=True)
class Row:
    item: str
    planned: str
    actual: str
    ok: bool
    warn: bool = False  # advice: shown WARN, does not fail verify

    @property
    def status(self) -> str:
        return WARN if self.warn else OK if self.ok else FAIL


@dataclass(frozen=True)
class NodeProc:
    """One Node process found in the container (`/proc`), with the V8 heap limit its flags give."""

    pid: int
    ppid: int
    command: str
    heap_mib: float | None
    rss_mib: float | None = None
    forks: int = 0  # Node processes below it: a cluster primary, or a wrapper such as npm or tsx watch

    @property
    def label(self) -> str:
        return f"pid {self.pid} (`{self.command}`)"


def node_procs(probe: dict[str, Any]) -> list[NodeProc] | None:
    """The probe's Node processes (None: a probe without the listing), each with how many Node
    processes run below it; a process the app reports itself (the status file's pid) takes its own figure."""
    listed = probe.get("processes")
    if not isinstance(listed, list):
        return None
    reported = {
        w.get("pid"): w.get("heap_size_limit_mib")
        for w in ((probe.get("cluster") or {}).get("workers") or [])
        if isinstance(w, dict) and w.get("heap_size_limit_mib")
    }
    raw = [p for p in listed if isinstance(p, dict) and isinstance(p.get("pid"), int)]
    parents = {p["pid"]: p.get("ppid") for p in raw}

    def below(pid: int) -> int:
        count = 0
        for other in parents:
            seen, up = set(), parents.get(other)
            while isinstance(up, int) and up not in seen:
                if up == pid:
                    count += 1
                    break
                seen.add(up)
                up = parents.get(up)
        return count

    procs = []
    for p in raw:
        args = [str(a).rsplit("/node_modules/", 1)[-1] for a in p.get("cmdline") or []]
        if args and args[0].rsplit("/", 1)[-1] in ("node", "nodejs"):
            args[0] = "node"  # /usr/local/bin/node
        command = " ".join(args) or "node"
        heap = reported.get(p["pid"], p.get("heap_size_limit_mib"))
        procs.append(
            NodeProc(
                p["pid"],
                int(p.get("ppid") or 0),
                command if len(command) <= 60 else command[:57] + "...",
                float(heap) if isinstance(heap, int | float) else None,
                p.get("rss_mib") if isinstance(p.get("rss_mib"), int | float) else None,
                below(p["pid"]),
            )
        )
    return sorted(procs, key=lambda n: n.pid)


def process_rows(
    plan: HeapPlan, procs: list[NodeProc], memory_bytes: int, reported: set[int] | None = None
) -> list[Row]:
    """The Node processes that really run: how many (the plan's count are the ones that fork nothing),
    each one's heap limit (but those in ``reported``: the app's own rows show them), and the sum of the
    limits against the memory cap's share.

    The workers' sum above the ratio fails (they may each grow to their limit); a primary's or a
    wrapper's limit (npm, tsx watch) counts in a second row that only warns: it is a ceiling such a
    process rarely nears, but the container's memory does not know that."""
    workers = [p for p in procs if not p.forks]
    forking = [p for p in procs if p.forks]
    shown = f"{len(procs)}: {len(workers)} worker(s)"
    if forking:
        shown += "; " + ", ".join(f"{p.label} forks {p.forks}" for p in forking)
    rows = [
        Row(
            "node processes in the container",
            f"{plan.processes} worker(s)",
            shown if procs else "none found",
            len(workers) == plan.processes,
        )
    ]
    for p in procs:
        if p.pid in (reported or set()):
            continue
        role = " (forks)" if p.forks else ""
        rows.append(
            Row(
                f"{p.label}{role} heap_size_limit",
                f"{plan.heap_limit_mib} MiB",
                "unknown" if p.heap_mib is None else f"{p.heap_mib:g} MiB",
                p.heap_mib is not None and abs(p.heap_mib - plan.heap_limit_mib) < 1,
            )
        )
    allowed = plan.ratio * memory_bytes + MIB
    planned = f"{plan.heap_share:.1%} (explicit)" if plan.explicit and not plan.within_ratio else f"<= {plan.ratio:.0%}"

    def share(group: list[NodeProc]) -> tuple[float | None, str]:
        if not group or any(p.heap_mib is None for p in group):
            return None, "unknown"
        total = sum(p.heap_mib or 0 for p in group)
        return total, f"{format_mib(total)} in {len(group)}, {total * MIB / memory_bytes:.1%}"

    total, text = share(workers)
    rows.append(
        Row(
            "heap limits of the workers, share of memory",
            planned,
            text,
            total is not None and (plan.explicit or total * MIB <= allowed),
        )
    )
    if forking:
        every, text = share(procs)
        over = every is None or every * MIB > allowed
        rows.append(
            Row(
                "heap limits of every node process (forking ones too)",
                f"<= {plan.ratio:.0%}",
                text + (": a forking process grown to its limit would pass the share" if over else ""),
                True,
                warn=over,
            )
        )
    return rows


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
    procs = node_procs(probe)
    if procs is not None:
        # The processes that really run replace the status file's count and the share of `heaps`.
        per_process = [r for r in per_process if r.item != "node worker processes"]
        reported = {w.get("pid") for w in (probe.get("cluster") or {}).get("workers") or [] if isinstance(w, dict)}
        share_rows = process_rows(plan, procs, plan.memory_bytes, {pid for pid in reported if isinstance(pid, int)})
    else:
        explicit = plan.explicit and not plan.within_ratio
        share_rows = [
            # An explicit --heap-mb may exceed the ratio (prodlike.up warned): then it only has to match.
            Row(
                "heap share of memory",
                f"{plan.heap_share:.1%} (explicit)" if explicit else f"<= {plan.ratio:.0%}",
                "?" if total is None else f"{total * MIB / plan.memory_bytes:.1%}",
                total is not None and (plan.explicit or total * MIB <= plan.ratio * plan.memory_bytes + MIB),
            )
        ]
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
        *share_rows,
        Row("NODE_ENV", "production", str(probe.get("node_env")), probe.get("node_env") == "production"),
    ]


def render(table: list[Row], *, colour: bool = False) -> str:
    """The table; ``colour`` paints OK/FAIL (the caller decides: a terminal, no NO_COLOR)."""
    widths = [max(len(r.item) for r in table), max(len(r.planned) for r in table), max(len(r.actual) for r in table)]
    head = f"{'':<4} {'check':<{widths[0]}}  {'planned':<{widths[1]}}  {'actual':<{widths[2]}}"
    lines = [head]
    for r in table:
        lines.append(
            f"{label(r.status, colour=colour, width=4)} "
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
// Every Node process of the container, whatever started it, and the V8 heap limit it runs with: a
// `node` started here (same binary, same cgroup) with that process's heap flags (its command line's
// and its NODE_OPTIONS', nothing else: no --require of the app's code runs) prints its limit.
const HEAP = new RegExp('^--(max|initial)[-_](old[-_]space[-_]size|semi[-_]space[-_]size|heap[-_]size|' +
  'young[-_]generation[-_]size|old[-_]space[-_]size[-_]percentage)(=|$)');
const VALUED = new Set(['-r', '--require', '--import', '--loader', '--experimental-loader', '--title', '--env-file',
  '-C', '--conditions', '--input-type', '--inspect-port', '--stack-size']);
const heapFlags = (args, options) => { const out = [];
  for (let i = 0; i < args.length; i += 1) { const a = args[i];
    if (options && (a === '--' || !a.startsWith('-'))) break;
    if (HEAP.test(a)) { if (a.includes('=')) out.push(a); else if (i + 1 < args.length) out.push(a + '=' + args[++i]); }
    else if (options && VALUED.has(a)) i += 1; }
  return out; };
const procs = [];
for (const name of (() => { try { return fs.readdirSync('/proc'); } catch { return []; } })()) {
  if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
  const st = read(`/proc/${name}/status`); if (st === null) continue;
  const field = (k) => { const m = new RegExp(`^${k}:\\s*(.*)$`, 'm').exec(st); return m ? m[1].trim() : ''; };
  if (field('State').startsWith('Z')) continue;
  const argv = (read(`/proc/${name}/cmdline`) || '').split('\0').filter((a, i, all) => a !== '' || i < all.length - 1);
  let exe = ''; try { exe = fs.readlinkSync(`/proc/${name}/exe`); } catch {}
  const base = (p) => (p || '').split('/').pop();
  if (!['node', 'nodejs'].includes(base(exe)) && !['node', 'nodejs'].includes(base(argv[0])) &&
      !['node', 'MainThread'].includes(field('Name'))) continue;
  const env = (read(`/proc/${name}/environ`) || '').split('\0').find((e) => e.startsWith('NODE_OPTIONS='));
  const flags = [...heapFlags(env ? env.slice(13).split(/\s+/) : [], false), ...heapFlags(argv.slice(1), true)];
  procs.push({ pid: Number(name), ppid: Number(field('PPid')) || 0, cmdline: argv.slice(0, 8),
    rss_mib: Math.round((parseInt(field('VmRSS'), 10) || 0) / 10.24) / 100, heap_flags: flags,
    environ_read: env !== undefined || read(`/proc/${name}/environ`) !== null,
    exe: exe && !exe.endsWith(' (deleted)') ? exe : process.execPath });
}
const limits = new Map();
for (const p of procs) {
  const key = p.exe + '\0' + p.heap_flags.join(' ');
  if (!limits.has(key)) {
    const run = require('child_process').spawnSync(p.exe, [...p.heap_flags, '-e',
      "process.stdout.write(String(require('v8').getHeapStatistics().heap_size_limit))"],
      { env: { ...process.env, NODE_OPTIONS: '' }, encoding: 'utf8', timeout: 15000 });
    const bytes = Number(run.stdout);
    limits.set(key, run.status === 0 && bytes > 0 ? Math.round(bytes / 10485.76) / 100 : null);
  }
  p.heap_size_limit_mib = limits.get(key);
  delete p.exe;
}
report.processes = procs;
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


def stats_lines(procs: list[NodeProc], memory_bytes: int | None, ratio: float) -> list[str]:
    """`prodlike.stats`: each Node process with its heap limit and RSS, then the sum of the heap limits
    against the memory cap (a `warning:` line when the sum passes the share the heaps may take)."""
    if not procs:
        return ["node processes: none found in the container"]
    workers = [p for p in procs if not p.forks]
    lines = [f"node processes: {len(procs)} ({len(workers)} worker(s), {len(procs) - len(workers)} forking)"]
    for p in procs:
        heap = "unknown" if p.heap_mib is None else f"{p.heap_mib:g} MiB"
        rss = "" if p.rss_mib is None else f", rss {p.rss_mib:g} MiB"
        lines.append(f"  {p.label}{f' forks {p.forks}' if p.forks else ''}: heap_size_limit {heap}{rss}")
    if any(p.heap_mib is None for p in procs):
        return [*lines, "heap limits: unknown for some processes (their heap limit could not be read)"]
    if not memory_bytes:
        return [*lines, "heap limits: no memory cap on the container to compare with"]
    cap = format_mib(memory_bytes / MIB)
    every = sum(p.heap_mib or 0 for p in procs)
    mine = sum(p.heap_mib or 0 for p in workers)
    text = f"heap limits: workers {format_mib(mine)} = {mine * MIB / memory_bytes:.1%} of the {cap} cap"
    if len(workers) != len(procs):
        text += f", every node process {format_mib(every)} = {every * MIB / memory_bytes:.1%}"
    lines.append(f"{text} (the heaps may take {ratio:.0%})")
    allowed = ratio * memory_bytes + MIB
    if mine * MIB > allowed:
        lines.append(
            f"warning: the workers' heap limits add up to more than {ratio:.0%} of {cap}: if they grow to their "
            "limits the container is OOM-killed (plan with --processes, or run fewer processes)"
        )
    elif every * MIB > allowed:
        lines.append(
            f"warning: with the forking processes' heap limits the sum passes {ratio:.0%} of {cap}: harmless while "
            "they only fork, an OOM kill if they grow"
        )
    return lines
