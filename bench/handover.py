"""The dev-worker handover under steady load: `inv dev.worker` vs seed 001's scripts/dev-worker.sh.

    eval "$(bash .ci/local-images 2>/dev/null)"   # local POSTGRES_IMAGE/REDIS_IMAGE/NODE_IMAGE
    .venv/bin/python bench/handover.py [--rounds 3]

Per round (alternating inv / bash, --rounds of each): the background worker runs and a producer adds
a job every --interval-ms; the handover command starts (dev worker = `npm run dev` in apps/worker,
tsx watch), serves for --hold seconds, then gets SIGINT (inv: the inv process only, which forwards it;
bash: its whole process group, as a terminal's Ctrl+C would). Measured from Postgres processed_at
(the containers share the host clock):
  (a) start -> first job processed_by='dev'
  (b) SIGINT -> first job processed_by='background' after it
  (c) longest gap between consecutive processed_at of the round's jobs (queue unserved), and the
      gap of each direction; plus whether every job was processed exactly once.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    INV,
    ROOT,
    BenchError,
    Budget,
    isolated_stack,
    ratio,
    run_checked,
    run_main,
    s,
    summary,
    table,
)

from tasks.drivers import dev_preflight
from tasks.drivers.compose import Compose
from tasks.knowledge.defaults import DEFAULTS
from tasks.knowledge.settings import Settings
from tests.integration.stackenv import poll

GOAL_GAP = 2.0

# Seed 001's scripts/dev-worker.sh, adapted only to this project's compose invocation (--env-file)
# and dev command (`npm run dev` in apps/worker with the environment `inv dev.worker` gives it).
BASH_BASELINE = r"""#!/usr/bin/env bash
set -euo pipefail
PROJECT_ROOT=@ROOT@
ENV_FILE=@ENV_FILE@
DOCKER_WORKER_WAS_RUNNING=false
if docker compose --env-file "$ENV_FILE" -f "$PROJECT_ROOT/docker-compose.yml" ps --status running worker 2>/dev/null | grep -q worker; then
  DOCKER_WORKER_WAS_RUNNING=true
fi
if [ "$DOCKER_WORKER_WAS_RUNNING" = true ]; then
  echo "[dev-worker] Stopping background Docker worker..."
  docker compose --env-file "$ENV_FILE" -f "$PROJECT_ROOT/docker-compose.yml" stop worker
  echo "[dev-worker] Docker worker stopped."
fi
cleanup() {
  echo ""
  if [ "$DOCKER_WORKER_WAS_RUNNING" = true ]; then
    echo "[dev-worker] Restarting background Docker worker..."
    docker compose --env-file "$ENV_FILE" -f "$PROJECT_ROOT/docker-compose.yml" --profile worker up -d worker
    echo "[dev-worker] Docker worker restarted."
  else
    echo "[dev-worker] Docker worker was not running before, skipping restart."
  fi
}
trap cleanup EXIT
echo "[dev-worker] Starting development worker..."
cd "$PROJECT_ROOT/apps/worker"
env @DEV_ENV@ npm run dev
"""

# Log lines whose first appearance is timestamped (phase breakdown).
MARKS = {
    "stopping": ("[dev.worker] stopping the background", "[dev-worker] Stopping background"),
    "dev_started": ("[dev.worker] dev worker running", "[dev-worker] Starting development worker"),
    "ready": ("[worker] ready",),
    "closed": ("[worker] closed",),
    "restoring": ("[dev.worker] restoring the background", "[dev-worker] Restarting background"),
    "restored": ("background worker restored", "[dev-worker] Docker worker restarted."),
    "not_running": ("was not running before",),
}


class LogWatcher(threading.Thread):
    """Tails the handover command's output file and notes when each marker line first shows up."""

    def __init__(self, path: Path):
        super().__init__(daemon=True)
        self.path = path
        self.seen: dict[str, float] = {}
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            self.scan()
            time.sleep(0.02)
        self.scan()

    def scan(self):
        try:
            text = self.path.read_text(errors="replace")
        except FileNotFoundError:
            return
        now = time.time()
        for name, needles in MARKS.items():
            if name not in self.seen and any(n in text for n in needles):
                self.seen[name] = now


class Producer:
    """produce.js in the background; the host time each job id was confirmed added."""

    def __init__(self, stack, prefix: str, count: int, interval_ms: int, duration_ms: int):
        self.count = count
        self.enqueued: dict[str, float] = {}
        self.proc = stack.produce(prefix, count, interval_ms=interval_ms, duration_ms=duration_ms, background=True)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            job = line.strip()
            if job:
                self.enqueued[job] = time.time()

    def running(self) -> bool:
        return self.proc.poll() is None

    def finish(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise BenchError("the producer did not finish in time")
        finally:
            self.thread.join(5)


class Pg:
    """Host psql against the published port (cheaper than `docker compose exec` for polling)."""

    def __init__(self, stack):
        self.env = {**os.environ, "PGPASSWORD": "devstack"}
        self.argv = [
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            str(stack.pg_port),
            "-U",
            "devstack",
            "-d",
            "devstack",
            "-X",
            "-q",
            "-At",
            "-F",
            "|",
            "-c",
        ]

    def query(self, sql: str) -> list[list[str]]:
        result = subprocess.run([*self.argv, sql], env=self.env, capture_output=True, text=True, timeout=30)
        if result.returncode != 0:
            raise BenchError(f"psql failed: {result.stderr.strip()}")
        return [line.split("|") for line in result.stdout.splitlines() if line]

    def rows(self, prefix: str) -> list[tuple[str, str, float, int]]:
        """(job_id, processed_by, processed_at epoch, deliveries) of a round's jobs, by processed_at."""
        out = self.query(
            "select job_id, processed_by, extract(epoch from processed_at), deliveries "
            f"from digest_results where job_id like '{prefix}-%' order by processed_at, job_id"
        )
        return [(j, by, float(at), int(d)) for j, by, at, d in out]

    def first(self, prefix: str, by: str, after: float = 0.0) -> float | None:
        out = self.query(
            f"select extract(epoch from min(processed_at)) from digest_results where job_id like "
            f"'{prefix}-%' and processed_by = '{by}' and processed_at > to_timestamp({after})"
        )
        return float(out[0][0]) if out and out[0] and out[0][0] else None


def dev_processes(redis_port: int) -> list[psutil.Process]:
    """Dev worker processes (npm/tsx/node) of this benchmark's project, found by their environment."""
    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            env = proc.environ()
        except (psutil.Error, OSError):
            continue
        if env.get("WORKER_NAME", "").startswith("dev") and env.get("REDIS_PORT") == str(redis_port):
            found.append(proc)
    return found


def kill_leftovers(redis_port: int) -> int:
    procs = dev_processes(redis_port)
    for p in procs:
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(procs, timeout=10)
    return len(procs)


@dataclass
class Round:
    tool: str
    index: int
    prefix: str
    a: float | None = None  # start -> dev consuming
    b: float | None = None  # SIGINT -> background consuming
    gap_max: float | None = None  # (c) longest gap between consecutive processed_at
    gap_in: float | None = None  # last background -> first dev
    gap_out: float | None = None  # last dev -> first background after the signal
    wait_max: float | None = None  # worst job: processed_at - enqueued (host time)
    jobs: int = 0
    processed: int = 0
    unique: int = 0
    redelivered: int = 0
    missing: int = 0
    overlap: int = 0  # dev rows after the background worker was back
    exit_code: int | None = None
    leftover: int = 0
    marks: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def exactly_once(self) -> bool:
        return self.processed == self.jobs and self.unique == self.jobs and self.redelivered == 0


def start_handover(tool: str, stack, script: Path, log: Path, inv_group: bool) -> subprocess.Popen:
    out = open(log, "w")
    try:
        if tool == "inv":
            # Default: the SIGINT goes to inv alone, which forwards it to the dev worker's group.
            # --inv-signal group: inv gets a group of its own and the SIGINT goes to that whole group.
            return subprocess.Popen(
                [INV, "dev.worker"],
                cwd=ROOT,
                env=stack.environ,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=inv_group,
            )
        # Its own process group, so that SIGINT to the group is what a terminal's Ctrl+C does.
        return subprocess.Popen(
            ["bash", str(script)],
            cwd=ROOT,
            env=stack.environ,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        out.close()


def interrupt(tool: str, proc: subprocess.Popen, inv_group: bool) -> None:
    if tool == "inv" and not inv_group:
        proc.send_signal(signal.SIGINT)
    else:
        os.killpg(proc.pid, signal.SIGINT)


def ensure_background(stack, pg: Pg, budget: Budget, note: list[str]) -> None:
    if stack.ps().get("worker") != "running":
        note.append("background worker was not running after the round: `inv worker.up`")
        run_checked([INV, "worker.up"], env=stack.environ, timeout=budget.timeout(300))


def run_round(tool, index, stack, pg, script, args, budget, workdir) -> Round:
    prefix = f"h{index}{tool}{uuid.uuid4().hex[:4]}"
    rnd = Round(tool, index, prefix, jobs=args.jobs)
    ensure_background(stack, pg, budget, rnd.notes)
    producer = Producer(stack, prefix, args.jobs, args.interval_ms, args.duration_ms)
    proc = None
    watcher = None
    try:
        if not poll(lambda: pg.first(prefix, "background"), budget.timeout(60)):
            raise BenchError(f"round {index}: the background worker did not consume {prefix}-* jobs")
        time.sleep(1.0)
        log = workdir / f"{prefix}.log"
        watcher = LogWatcher(log)
        watcher.start()
        t_start = time.time()
        proc = start_handover(tool, stack, script, log, args.inv_signal == "group")
        first_dev = poll(lambda: pg.first(prefix, "dev"), budget.timeout(120))
        if first_dev is None or proc.poll() is not None:
            raise BenchError(f"round {index} ({tool}): the dev worker never consumed; log:\n{log.read_text()[-3000:]}")
        rnd.a = first_dev - t_start
        time.sleep(args.hold)
        if not producer.running():
            rnd.notes.append("producer finished before the SIGINT: raise --jobs")
        t_sig = time.time()
        interrupt(tool, proc, args.inv_signal == "group")
        back = poll(lambda: pg.first(prefix, "background", after=t_sig), budget.timeout(120))
        if back is None:
            rnd.notes.append("the background worker did not consume after the SIGINT within the wait")
        else:
            rnd.b = back - t_sig
            if not producer.running() and len(producer.enqueued) >= args.jobs:
                rnd.notes.append("producer had finished when the background came back: (b) may be late")
        try:
            rnd.exit_code = proc.wait(budget.timeout(120))
        except subprocess.TimeoutExpired:
            rnd.notes.append("handover command did not exit; killed")
            (proc.kill() if tool == "inv" else os.killpg(proc.pid, signal.SIGKILL))
            rnd.exit_code = proc.wait()
        watcher.stop.set()
        watcher.join(2)
        rnd.marks = {k: v - t_start for k, v in watcher.seen.items()}
        rnd.marks["sigint"] = t_sig - t_start
        rnd.marks["exit"] = time.time() - t_start  # upper bound (poll granularity)
        if "not_running" in watcher.seen:
            rnd.notes.append("the handover thought the background worker was NOT running (no restore)")
        # dev worker processes still alive once the handover command has exited?
        time.sleep(0.5)
        rnd.leftover = len(dev_processes(stack.redis_port))
        if rnd.leftover:
            rnd.notes.append(f"{rnd.leftover} dev process(es) still alive after the command exited")
            poll(lambda: not dev_processes(stack.redis_port), budget.timeout(45), interval=0.5)
            killed = kill_leftovers(stack.redis_port)
            if killed:
                rnd.notes.append(f"killed {killed} leftover dev process(es) after 45 s")
        producer.finish(budget.timeout(args.jobs * (args.interval_ms + 50) / 1000 + 60))
        rows = poll(
            lambda: (lambda r: r if len(r) >= args.jobs else None)(pg.rows(prefix)),
            budget.timeout(args.settle),
            interval=0.5,
        ) or pg.rows(prefix)
    finally:
        if proc is not None and proc.poll() is None:
            (proc.kill() if tool == "inv" else os.killpg(proc.pid, signal.SIGKILL))
            proc.wait()
        if watcher is not None:
            watcher.stop.set()
        if producer.running():
            producer.proc.kill()
        kill_leftovers(stack.redis_port)

    expected = {f"{prefix}-{i}" for i in range(1, args.jobs + 1)}
    ids = [r[0] for r in rows]
    rnd.processed = len(rows)
    rnd.unique = len(set(ids) & expected)
    rnd.missing = len(expected - set(ids))
    rnd.redelivered = sum(1 for r in rows if r[3] > 1)
    times = [r[2] for r in rows]
    gaps = [(times[i] - times[i - 1], i) for i in range(1, len(times))]
    rnd.gap_max = max(gaps)[0] if gaps else None
    first_dev_i = next((i for i, r in enumerate(rows) if r[1] == "dev"), None)
    if first_dev_i:
        last_bg = max((r[2] for r in rows[:first_dev_i] if r[1] == "background"), default=None)
        rnd.gap_in = rows[first_dev_i][2] - last_bg if last_bg is not None else None
    back_at = t_sig + (rnd.b or 0)
    if rnd.b is not None:
        last_dev = max((r[2] for r in rows if r[1] == "dev" and r[2] < back_at), default=None)
        rnd.gap_out = back_at - last_dev if last_dev is not None else None
        rnd.overlap = sum(1 for r in rows if r[1] == "dev" and r[2] > back_at)
    waits = [r[2] - producer.enqueued[r[0]] for r in rows if r[0] in producer.enqueued]
    rnd.wait_max = max(waits) if waits else None
    if rnd.redelivered:
        late = [r[0] for r in rows if r[3] > 1]
        rnd.notes.append(f"delivered more than once: {', '.join(late[:5])}")
    if rnd.missing:
        rnd.notes.append(f"{rnd.missing} job(s) not processed within {args.settle:.0f}s after the producer ended")
    return rnd


def warm_up_dev(stack, dev_env: dict[str, str], budget: Budget, workdir: Path) -> float:
    """One untimed start of the dev command (tsx/esbuild caches, page cache); no jobs are produced."""
    log = workdir / "warmup.log"
    env = {**dev_env, "WORKER_NAME": "dev-warmup", "ENABLE_SCHEDULER": "false"}
    with open(log, "w") as out:
        t0 = time.time()
        proc = subprocess.Popen(
            ["npm", "run", "dev"],
            cwd=ROOT / "apps/worker",
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        if not poll(lambda: "[worker] ready" in log.read_text(), budget.timeout(120), 0.05):
            raise BenchError(f"the dev command did not become ready:\n{log.read_text()[-2000:]}")
        took = time.time() - t0
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(budget.timeout(60))
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        kill_leftovers(stack.redis_port)
    return took


def fmt_round(r: Round) -> list[str]:
    return [
        f"{r.tool}#{r.index}",
        s(r.a),
        s(r.b),
        s(r.gap_max),
        s(r.gap_in),
        s(r.gap_out),
        s(r.wait_max),
        f"{r.processed}/{r.jobs}",
        str(r.redelivered),
        str(r.missing),
        str(r.overlap),
        "yes" if r.exactly_once else "NO",
        str(r.exit_code),
        str(r.leftover),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="rounds per tool (default 3)")
    parser.add_argument("--interval-ms", type=int, default=50)
    parser.add_argument("--duration-ms", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=400, help="jobs per round (default 400, ~21 s at 50 ms)")
    parser.add_argument("--hold", type=float, default=3.0, help="seconds the dev worker serves before SIGINT")
    parser.add_argument(
        "--settle",
        type=float,
        default=75.0,
        help="max seconds to wait for all of a round's rows after the producer ends",
    )
    parser.add_argument("--budget", type=float, default=1500, help="overall time limit in seconds")
    parser.add_argument(
        "--inv-signal",
        choices=("process", "group"),
        default="process",
        help="SIGINT to the inv process only (default) or to a process group of its own "
        "(what a terminal's Ctrl+C does)",
    )
    args = parser.parse_args()
    budget = Budget(args.budget)

    rounds: list[Round] = []
    with isolated_stack("benchho") as stack:
        workdir = stack.tmp / "logs"
        workdir.mkdir()
        pg = Pg(stack)
        settings = Settings.from_config(
            {
                **DEFAULTS,
                "compose": {**DEFAULTS["compose"], "env_file": str(stack.env_file)},
                "state": {"dir": str(stack.state_dir)},
            }
        )
        dev_env = dev_preflight.environment(Compose(settings), scheduler=True, environ=stack.environ).env
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(dev_env.items()) if stack.environ.get(k) != v)
        script = stack.tmp / "dev-worker.sh"
        script.write_text(
            BASH_BASELINE.replace("@ROOT@", shlex.quote(str(ROOT)))
            .replace("@ENV_FILE@", shlex.quote(str(stack.env_file)))
            .replace("@DEV_ENV@", exports)
        )
        print(f"project {stack.project}; bash baseline: {script}")
        print("bringing the stack and background worker up (untimed) ...", flush=True)
        run_checked([INV, "worker.up"], env=stack.environ, timeout=budget.timeout(600), what="inv worker.up (setup)")
        stack.produce("warm", 2)
        if not poll(lambda: len(pg.rows("warm")) >= 2, budget.timeout(90), 0.5):
            raise BenchError("the background worker does not consume")
        took = warm_up_dev(stack, dev_env, budget, workdir)
        print(f"dev command warm-up (untimed): ready after {took:.2f}s", flush=True)

        order = [tool for _ in range(args.rounds) for tool in ("inv", "bash")]
        for i, tool in enumerate(order, 1):
            print(f"round {i}/{len(order)}: {tool} ...", flush=True)
            rnd = run_round(tool, i, stack, pg, script, args, budget, workdir)
            rounds.append(rnd)
            print(
                "  a=%s b=%s gap=%s in=%s out=%s wait=%s once=%s exit=%s marks=%s %s"
                % (
                    s(rnd.a),
                    s(rnd.b),
                    s(rnd.gap_max),
                    s(rnd.gap_in),
                    s(rnd.gap_out),
                    s(rnd.wait_max),
                    rnd.exactly_once,
                    rnd.exit_code,
                    {k: round(v, 2) for k, v in sorted(rnd.marks.items(), key=lambda x: x[1])},
                    "; ".join(rnd.notes),
                ),
                flush=True,
            )

    headers = [
        "round",
        "a start->dev",
        "b sigint->bg",
        "c max gap",
        "gap bg->dev",
        "gap dev->bg",
        "max wait",
        "rows",
        "redeliv",
        "missing",
        "overlap",
        "once",
        "exit",
        "leftover",
    ]
    print(
        f"\nhandover under load: a job every {args.interval_ms} ms ({args.duration_ms} ms of work), "
        f"{args.jobs} jobs/round, dev serves {args.hold:.0f} s, SIGINT to inv's {args.inv_signal}, "
        "to bash's group; seconds\n"
    )
    for tool in ("inv", "bash"):
        mine = [r for r in rounds if r.tool == tool]
        print(f"{tool}:")
        print(table(headers, [fmt_round(r) for r in mine]))
        for r in mine:
            for note in r.notes:
                print(f"  {r.tool}#{r.index}: {note}")
        print()

    def med(tool, attr):
        values = [getattr(r, attr) for r in rounds if r.tool == tool and getattr(r, attr) is not None]
        return summary(values)["median"] if values else None

    def worst(tool, attr):
        values = [getattr(r, attr) for r in rounds if r.tool == tool and getattr(r, attr) is not None]
        return max(values) if values else None

    metrics = [
        ("a start->dev consuming", "a"),
        ("b SIGINT->background consuming", "b"),
        ("c longest gap", "gap_max"),
        ("gap bg->dev", "gap_in"),
        ("gap dev->bg", "gap_out"),
        ("max job wait", "wait_max"),
    ]
    print(
        table(
            ["median (s)", "inv", "bash", "inv/bash", "worst inv", "worst bash"],
            [
                [
                    name,
                    s(med("inv", a)),
                    s(med("bash", a)),
                    ratio(med("inv", a), med("bash", a)),
                    s(worst("inv", a)),
                    s(worst("bash", a)),
                ]
                for name, a in metrics
            ],
        )
    )

    def phase(tool, start, end):
        values = [
            r.marks[end] - (r.marks[start] if start else 0)
            for r in rounds
            if r.tool == tool and end in r.marks and (not start or start in r.marks)
        ]
        return summary(values)["median"] if values else None

    print("\nphases from the command's output (median s; log lines timestamped when first seen, +-20 ms):")
    phases = [
        ("start -> dev command launched", None, "dev_started"),
        ("dev launched -> [worker] ready", "dev_started", "ready"),
        ("SIGINT -> [worker] closed", "sigint", "closed"),
        ("SIGINT -> restoring starts", "sigint", "restoring"),
        ("restoring -> restored", "restoring", "restored"),
    ]
    print(table(["phase", "inv", "bash"], [[n, s(phase("inv", a, b)), s(phase("bash", a, b))] for n, a, b in phases]))

    print(f"\ngoal: queue never unserved > {GOAL_GAP:.0f} s per direction, inv no slower than bash")
    for tool in ("inv", "bash"):
        mine = [r for r in rounds if r.tool == tool]
        worst_in = max((r.gap_in for r in mine if r.gap_in is not None), default=None)
        worst_out = max((r.gap_out for r in mine if r.gap_out is not None), default=None)
        ok = all(r.exactly_once for r in mine)
        print(
            f"  {tool:4s}: worst gap bg->dev {s(worst_in)} s ({'ok' if worst_in is not None and worst_in <= GOAL_GAP else 'OVER'}), "
            f"dev->bg {s(worst_out)} s ({'ok' if worst_out is not None and worst_out <= GOAL_GAP else 'OVER'}); "
            f"exactly once in every round: {'yes' if ok else 'NO'}"
        )
    return 0


if __name__ == "__main__":
    run_main(main)
