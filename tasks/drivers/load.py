"""Driving `inv prodlike.load`: the load generator on the host, `docker stats`, the worker processes'
own memory samples, and what `docker inspect`, `docker events` and the logs say afterwards."""

from __future__ import annotations

import csv
import json
import subprocess
import threading
import time
from pathlib import Path
from typing import IO, Any

from ..drivers import engine, process
from ..drivers.compose import Compose
from ..drivers.gateway import Gateway
from ..knowledge import load_report
from ..knowledge.failures import UserError
from ..knowledge.heap_plan import MIB, HeapPlan
from ..knowledge.load_report import LoadOptions

#: Written by the cluster primary inside the container (apps/worker/src/clusterPolicy.ts).
STATUS_FILE = "/tmp/devstack-worker-status.json"
OOM_FILES = ("/sys/fs/cgroup/memory/memory.oom_control", "/sys/fs/cgroup/memory.events")
KERNEL_PEAK_FILES = ("/sys/fs/cgroup/memory/memory.max_usage_in_bytes", "/sys/fs/cgroup/memory.peak")


def cluster_status(gateway: Gateway, container: str) -> dict[str, Any] | None:
    """The cluster primary's status file (each worker process's heap and memory), None if unreadable."""
    result = gateway.docker("exec", container, "cat", STATUS_FILE)
    if not result.ok:
        return None
    try:
        status: dict[str, Any] = json.loads(result.stdout)
    except json.JSONDecodeError:
        return None
    return status


def kernel_peak(gateway: Gateway, container: str) -> int | None:
    for path in KERNEL_PEAK_FILES:
        result = gateway.docker("exec", container, "cat", path)
        if result.ok and result.stdout.strip().isdigit():
            return int(result.stdout.strip())
    return None


def oom_kill_count(gateway: Gateway, container: str) -> int | None:
    """The kernel's count of processes it OOM-killed in the container's cgroup (None if unreadable)."""
    for path in OOM_FILES:
        result = gateway.docker("exec", container, "cat", path)
        count = load_report.parse_oom_kill(result.stdout) if result.ok else None
        if count is not None:
            return count
    return None


class _Lines:
    """Reads a child's stdout in a thread, keeping the last line parsed by ``parse``."""

    def __init__(self, stream: IO[str], parse: Any):
        self.latest: Any = None
        self.all: list[str] = []
        self._parse = parse
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.all.append(line)
            parsed = self._parse(line)
            if parsed is not None:
                self.latest = parsed

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


def _json_line(line: str) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _generator_env(compose: Compose) -> dict[str, str]:
    """The load generator dials what the worker dials: the worker service's environment as Compose
    resolves it, each service address swapped for its host side (as the dev worker gets it)."""
    from ..drivers import dev_preflight

    plan = dev_preflight.environment(compose, scheduler=False)
    if plan.problems:
        raise UserError(f"the load generator cannot reach the worker's services: {plan.problems[0]}")
    return plan.env


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run(compose: Compose, container: str, plan: HeapPlan, options: LoadOptions, out_dir: Path) -> load_report.Outcome:
    """Run the load, sampling every ``interval_s``; writes samples.csv and memory.svg into ``out_dir``."""
    s = compose.settings
    gateway = compose.gateway
    before = engine.inspect(gateway, container)
    restarts_before = int(before.get("RestartCount") or 0)
    oom_before = oom_kill_count(gateway, container)
    start_unix = int(time.time()) - 1
    out_dir.mkdir(parents=True, exist_ok=True)
    prefix = f"load{int(time.time())}"
    argv = process.resolve(["node", str(s.dist_main.parent / "loadgen.js"), "--prefix", prefix])
    argv += (
        ["--count", str(options.count)] if options.count is not None else ["--duration-s", f"{options.duration_s:g}"]
    )
    argv += [
        "--mb", str(options.mb), "--hold-ms", str(options.hold_ms), "--retain-share", f"{options.retain_share:g}",
        "--rate", f"{options.rate:g}", "--in-flight", str(options.in_flight), "--drain-s", f"{options.drain_s:g}",
    ]  # fmt: skip
    env = _generator_env(compose)
    stats_proc = gateway.popen(
        ["docker", "stats", "--format", "{{json .}}", container],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    gen = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True
    )
    assert stats_proc.stdout is not None and gen.stdout is not None and gen.stderr is not None
    stats = _Lines(stats_proc.stdout, load_report.parse_stats_line)
    progress = _Lines(gen.stdout, _json_line)
    errors = _Lines(gen.stderr, lambda line: line.strip() or None)
    samples: list[load_report.Sample] = []
    cap_mib = plan.memory_bytes / MIB
    started = time.monotonic()
    csv_path = out_dir / "samples.csv"
    try:
        with csv_path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(load_report.CSV_HEADER)
            while True:
                finished = gen.poll() is not None
                sample = load_report.sample_from(
                    time.monotonic() - started, stats.latest, cluster_status(gateway, container), progress.latest or {}
                )
                samples.append(sample)
                writer.writerow(load_report.csv_row(sample))
                handle.flush()
                in_flight = int((progress.latest or {}).get("outstanding", 0))
                print(load_report.progress_line(sample, cap_mib, plan.heap_limit_mib, in_flight), flush=True)
                if finished:
                    break
                time.sleep(options.interval_s)
    finally:
        _stop(gen)
        _stop(stats_proc)
    progress.join(5)
    errors.join(5)
    final = progress.latest or {}
    if gen.returncode != 0 or not final.get("final"):
        detail = (errors.latest or f"exit code {gen.returncode}").strip()
        raise UserError(f"the load generator failed: {detail}")
    after = engine.inspect(gateway, container)
    state = after.get("State", {})
    # A container restart starts a new cgroup: its counter starts again from 0.
    oom_after = oom_kill_count(gateway, container) if state.get("Running") else None
    restarted = int(after.get("RestartCount") or 0) != restarts_before
    oom_kills = (oom_after or 0) - (0 if restarted else (oom_before or 0))
    outcome = load_report.Outcome(
        cap_bytes=plan.memory_bytes,
        heap_limit_mib=plan.heap_limit_mib,
        processes=plan.processes,
        added=int(final.get("added", 0)),
        done=int(final.get("done", 0)),
        failed=int(final.get("failed", 0)),
        unfinished=int(final.get("unfinished", 0)),
        seconds=float(final.get("seconds", 0.0)),
        peak_memory_mib=max((x.memory_mib for x in samples if x.memory_mib is not None), default=None),
        kernel_peak_bytes=kernel_peak(gateway, container) if state.get("Running") else None,
        peak_heap_mib=max((x.heap_used_max_mib for x in samples if x.heap_used_max_mib is not None), default=None),
        container_restarts=int(after.get("RestartCount") or 0) - restarts_before,
        cluster_restarts=max((x.cluster_restarts or 0 for x in samples), default=0),
        oom_killed=bool(state.get("OOMKilled")),
        oom_events=_oom_events(gateway, container, start_unix),
        oom_kills=max(oom_kills, 0),
        heap_failures=_log_count(gateway, container, start_unix, load_report.HEAP_FAILURE_TEXT),
        state=str(state.get("Status", "?")),
        failed_reasons=[str(r) for r in final.get("failed_reasons", [])],
    )
    title = (
        f"prodlike.load: {plan.cpus:g} CPU, {cap_mib:.0f} MiB cap, {plan.processes} x {plan.heap_limit_mib} MiB heap "
        f"({plan.node_options}); {options.mb} MiB jobs, retain {options.retain_share:g}"
    )
    (out_dir / "memory.svg").write_text(
        load_report.render_svg(samples, cap_mib, plan.heap_limit_mib * plan.processes, title), encoding="utf-8"
    )
    return outcome


def _oom_events(gateway: Gateway, container: str, since: int) -> int:
    result = gateway.run(
        ["docker", "events", "--since", str(since), "--until", str(int(time.time()) + 1),
         "--filter", f"container={container}", "--filter", "event=oom", "--format", "{{json .}}"],
        capture=True,
    )  # fmt: skip
    return len([line for line in result.stdout.splitlines() if line.strip()]) if result.ok else 0


def _log_count(gateway: Gateway, container: str, since: int, text: str) -> int:
    result = gateway.docker("logs", "--since", str(since), container)
    return (result.stdout + result.stderr).count(text)
