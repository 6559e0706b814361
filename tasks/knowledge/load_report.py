"""`inv prodlike.load`: its samples, the verdict and the memory plot (pure: no I/O, no Docker)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, fields
from typing import Any
from xml.sax.saxutils import escape

from ..knowledge.heap_plan import MIB

_STAT_UNITS = {
    "b": 1,
    "kib": 1024,
    "mib": MIB,
    "gib": 1024**3,
    "tib": 1024**4,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
}
_STAT_SIZE = re.compile(r"^\s*([\d.]+)\s*([a-zA-Z]+)\s*$")
_JSON_IN_LINE = re.compile(r"\{.*\}")
HEAP_FAILURE_TEXT = "heap out of memory"


@dataclass(frozen=True)
class LoadOptions:
    count: int | None
    duration_s: float | None
    mb: int
    hold_ms: int
    retain_share: float
    rate: float
    in_flight: int
    drain_s: float
    interval_s: float = 1.0


def load_options(
    count: str | None,
    duration: str | None,
    mb: str,
    hold_ms: str,
    retain_share: str,
    rate: str,
    in_flight: str,
    drain: str,
) -> LoadOptions:
    """The load's flags checked; one UserError line for the first bad one."""
    from ..knowledge.failures import UserError

    def number(name: str, text: str | None, minimum: float, whole: bool = False) -> float:
        try:
            value = float(str(text))
        except ValueError:
            value = float("nan")
        if not value >= minimum or (whole and not value.is_integer()):
            kind = "a whole number" if whole else "a number"
            raise UserError(f"--{name} takes {kind} >= {minimum:g}, not {text!r}")
        return value

    if count is not None and duration is not None:
        raise UserError("give --count or --duration, not both")
    share = number("retain-share", retain_share, 0)
    if share > 1:
        raise UserError(f"--retain-share is a fraction from 0 to 1, not {retain_share!r}")
    return LoadOptions(
        count=int(number("count", count, 1, whole=True)) if count is not None else None,
        duration_s=number("duration", duration, 1) if duration is not None else (None if count is not None else 30.0),
        mb=int(number("mb", mb, 0, whole=True)),
        hold_ms=int(number("hold-ms", hold_ms, 0, whole=True)),
        retain_share=share,
        rate=number("rate", rate, 0),
        in_flight=int(number("in-flight", in_flight, 1, whole=True)),
        drain_s=number("drain", drain, 0),
    )


def parse_oom_kill(text: str) -> int | None:
    """The ``oom_kill N`` counter of cgroup v1 ``memory.oom_control`` or v2 ``memory.events``."""
    for line in (text or "").splitlines():
        key, _, value = line.strip().partition(" ")
        if key == "oom_kill" and value.strip().isdigit():
            return int(value.strip())
    return None


def parse_stat_size(text: str) -> int | None:
    """``1.316MiB`` -> bytes (docker stats' units: binary KiB/MiB/GiB, decimal kB/MB/GB); None if unreadable."""
    match = _STAT_SIZE.match(text or "")
    if not match or match.group(2).lower() not in _STAT_UNITS:
        return None
    try:
        return int(float(match.group(1)) * _STAT_UNITS[match.group(2).lower()])
    except ValueError:
        return None


def parse_stats_line(line: str) -> tuple[int, int, float] | None:
    """(memory used, memory limit, CPU %) of one `docker stats --format '{{json .}}'` line.

    The streaming form prefixes lines with terminal escapes (``ESC[H``): only the JSON object counts.
    """
    match = _JSON_IN_LINE.search(line or "")
    if not match:
        return None
    try:
        row = json.loads(match.group(0))
    except json.JSONDecodeError:
        return None
    used, _, limit = str(row.get("MemUsage", "")).partition("/")
    used_bytes, limit_bytes = parse_stat_size(used), parse_stat_size(limit)
    try:
        cpu = float(str(row.get("CPUPerc", "")).rstrip("%"))
    except ValueError:
        cpu = 0.0
    if used_bytes is None or limit_bytes is None:
        return None
    return used_bytes, limit_bytes, cpu


@dataclass(frozen=True)
class Sample:
    t_s: float
    memory_mib: float | None  # container, from docker stats
    cpu_percent: float | None
    heap_used_mib: float | None  # all worker processes together
    heap_used_max_mib: float | None  # the fullest single process
    rss_mib: float | None  # all worker processes together
    processes_reporting: int
    jobs_added: int
    jobs_done: int
    jobs_failed: int
    cluster_restarts: int | None


CSV_HEADER = [f.name for f in fields(Sample)]


def csv_row(sample: Sample) -> list[str]:
    return [
        "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)
        for value in (getattr(sample, name) for name in CSV_HEADER)
    ]


def sample_from(
    t_s: float, stats: tuple[int, int, float] | None, cluster: dict[str, Any] | None, progress: dict[str, Any]
) -> Sample:
    workers = [w for w in (cluster or {}).get("workers") or [] if isinstance(w, dict)]
    heaps = [float(w["heap_used_mib"]) for w in workers if w.get("heap_used_mib") is not None]
    rss = [float(w["rss_mib"]) for w in workers if w.get("rss_mib") is not None]
    restarts = (cluster or {}).get("restarts")
    return Sample(
        t_s=round(t_s, 2),
        memory_mib=round(stats[0] / MIB, 1) if stats else None,
        cpu_percent=stats[2] if stats else None,
        heap_used_mib=round(sum(heaps), 1) if heaps else None,
        heap_used_max_mib=round(max(heaps), 1) if heaps else None,
        rss_mib=round(sum(rss), 1) if rss else None,
        processes_reporting=len(heaps),
        jobs_added=int(progress.get("added", 0)),
        jobs_done=int(progress.get("done", 0)),
        jobs_failed=int(progress.get("failed", 0)),
        cluster_restarts=int(restarts) if isinstance(restarts, int) else None,
    )


def progress_line(sample: Sample, cap_mib: float, heap_limit_mib: int, in_flight: int) -> str:
    memory = (
        "?"
        if sample.memory_mib is None
        else f"{sample.memory_mib:.0f}/{cap_mib:.0f} MiB ({sample.memory_mib / cap_mib:.0%})"
    )
    heap = "?" if sample.heap_used_max_mib is None else f"{sample.heap_used_max_mib:.0f}/{heap_limit_mib} MiB"
    return (
        f"[{sample.t_s:5.0f}s] jobs {sample.jobs_done} done, {sample.jobs_failed} failed, {in_flight} in flight; "
        f"memory {memory}; fullest heap {heap}; cpu {sample.cpu_percent or 0:.0f}%"
    )


@dataclass
class Outcome:
    """What a load run found; ``problems`` decides the exit code."""

    cap_bytes: int
    heap_limit_mib: int
    processes: int
    added: int = 0
    done: int = 0
    failed: int = 0
    unfinished: int = 0
    seconds: float = 0.0
    peak_memory_mib: float | None = None
    kernel_peak_bytes: int | None = None  # cgroup v1 memory.max_usage_in_bytes / v2 memory.peak
    peak_heap_mib: float | None = None
    container_restarts: int = 0
    cluster_restarts: int = 0
    oom_killed: bool = False
    oom_events: int = 0
    oom_kills: int = 0  # the cgroup's oom_kill counter, during the run
    heap_failures: int = 0
    state: str = "running"
    failed_reasons: list[str] = field(default_factory=list)

    @property
    def jobs_per_second(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else 0.0

    def problems(self) -> list[str]:
        found = []
        if self.oom_killed or self.oom_events or self.oom_kills:
            found.append(
                "the kernel OOM-killed "
                + ("the container" if self.oom_killed else f"{max(self.oom_kills, 1)} process(es) in the container")
                + f": memory reached the {self.cap_bytes / MIB:.0f} MiB cap before V8's heap limit stopped it"
            )
        if self.heap_failures:
            found.append(
                f"V8 stopped {self.heap_failures} worker process(es) with `JavaScript heap out of memory` "
                f"(heap limit {self.heap_limit_mib} MiB reached)"
            )
        if self.container_restarts:
            found.append(f"the container restarted {self.container_restarts} time(s)")
        if self.cluster_restarts:
            found.append(f"{self.cluster_restarts} worker process(es) died and were replaced")
        if self.state != "running":
            found.append(f"the container is {self.state}")
        if self.failed:
            found.append(f"{self.failed} job(s) failed")
        if self.unfinished:
            found.append(f"{self.unfinished} job(s) did not finish in time")
        return found


def render(outcome: Outcome) -> str:
    cap_mib = outcome.cap_bytes / MIB

    def share(value: float | None, of: float) -> str:
        return "?" if value is None else f"{value:.0f} MiB of {of:.0f} MiB ({value / of:.0%})"

    lines = [
        f"jobs:          {outcome.done} done, {outcome.failed} failed, {outcome.unfinished} unfinished, "
        f"of {outcome.added} added in {outcome.seconds:.0f} s ({outcome.jobs_per_second:.2f} jobs/s)",
        f"peak memory:   {share(outcome.peak_memory_mib, cap_mib)} (docker stats)"
        + (
            f"; kernel peak {share(outcome.kernel_peak_bytes / MIB, cap_mib)}"
            if outcome.kernel_peak_bytes is not None
            else ""
        ),
        f"peak heap:     {share(outcome.peak_heap_mib, outcome.heap_limit_mib)} heap_size_limit (fullest process)",
        f"restarts:      container {outcome.container_restarts}, worker processes {outcome.cluster_restarts}",
        f"OOM kill:      {'yes' if outcome.oom_killed else 'no'} (State.OOMKilled), {outcome.oom_kills} process(es) "
        f"killed by the kernel (cgroup oom_kill), {outcome.oom_events} oom event(s)",
        f"heap failures: {outcome.heap_failures} (`JavaScript heap out of memory` in the logs)",
    ]
    lines += [f"failed job:    {reason}" for reason in outcome.failed_reasons]
    return "\n".join(lines)


def render_svg(samples: list[Sample], cap_mib: float, heap_limit_mib: float, title: str) -> str:
    """Memory over time: container memory, all heaps used, the cap and the heaps' limit as lines."""
    # Wide enough for the title (the plan in words) and the legend beside the plot.
    width, height, left, right, top, bottom = 1040, 420, 60, 230, 30, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    t_max = max([s.t_s for s in samples] + [1.0])
    values = [v for s in samples for v in (s.memory_mib, s.heap_used_mib) if v is not None]
    y_max = max([cap_mib, heap_limit_mib, *values]) * 1.08

    def x(t: float) -> float:
        return left + plot_w * t / t_max

    def y(v: float) -> float:
        return top + plot_h * (1 - v / y_max)

    def series(attr: str) -> str:
        points = [(s.t_s, getattr(s, attr)) for s in samples if getattr(s, attr) is not None]
        return " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in points)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{left}" y="18" font-size="14">{escape(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="black"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="black"/>',
        f'<text x="{left + plot_w / 2:.0f}" y="{height - 8}" text-anchor="middle">time (s)</text>',
        f'<text x="14" y="{top + plot_h / 2:.0f}" transform="rotate(-90 14 {top + plot_h / 2:.0f})" '
        'text-anchor="middle">MiB</text>',
    ]
    for i in range(6):
        v, t = y_max * i / 5, t_max * i / 5
        parts.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:.0f}</text>')
        parts.append(f'<line x1="{left}" y1="{y(v):.1f}" x2="{left + plot_w}" y2="{y(v):.1f}" stroke="#eee"/>')
        parts.append(f'<text x="{x(t):.1f}" y="{top + plot_h + 16}" text-anchor="middle">{t:.0f}</text>')
    legend = [
        ("memory cap", "#d62728", "6,4", None),
        ("heap limit (all processes)", "#9467bd", "2,3", None),
        ("container memory", "#1f77b4", "", "memory_mib"),
        ("heap used (all processes)", "#ff7f0e", "", "heap_used_mib"),
    ]
    for name, colour, dash, attr in legend:
        style = f'stroke="{colour}" stroke-width="2" fill="none"' + (f' stroke-dasharray="{dash}"' if dash else "")
        if attr is None:
            level = cap_mib if name == "memory cap" else heap_limit_mib
            parts.append(
                f'<line class="{name.split()[0]}" x1="{left}" y1="{y(level):.1f}" '
                f'x2="{left + plot_w}" y2="{y(level):.1f}" {style}/>'
            )
        else:
            parts.append(f'<polyline class="{attr}" points="{series(attr)}" {style}/>')
    for i, (name, colour, dash, _attr) in enumerate(legend):
        ly = top + 10 + i * 18
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(
            f'<line x1="{left + plot_w + 10}" y1="{ly}" x2="{left + plot_w + 34}" y2="{ly}" '
            f'stroke="{colour}" stroke-width="2"{dash_attr}/>'
        )
        parts.append(f'<text x="{left + plot_w + 40}" y="{ly + 4}">{escape(name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
