"""Helpers for integration tests: a compose project of its own per test, driven through real `inv`.

Every test gets its own env file (project name, free 127.0.0.1 ports, images) and state folder, so
tests cannot collide with each other or with a developer's own stack.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

ROOT = Path(__file__).resolve().parents[2]
INV = [sys.executable, "-m", "invoke"]
IMAGE_VARS = ("POSTGRES_IMAGE", "REDIS_IMAGE", "NODE_IMAGE")
# Variables of the developer's shell that would override the test's env file.
SHADOWING = (
    "COMPOSE_PROJECT_NAME",
    "COMPOSE_FILE",
    "COMPOSE_PROFILES",
    "POSTGRES_HOST_PORT",
    "REDIS_HOST_PORT",
    "ENABLE_SCHEDULER",
    "WORKER_IMAGE",
    "PRODLIKE_CPUS",
    "PRODLIKE_MEMORY",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ComposeProject:
    """What every test project shares: `inv` and Compose run against its own env file and state.

    Subclasses give `env_file`, `environ` and, when not the repository's own, `compose_files`.
    """

    env_file: Path
    tmp: Path
    compose_files: ClassVar[tuple[str, ...]] = ()

    @property
    def environ(self) -> dict[str, str]:
        raise NotImplementedError

    def inv(
        self, *args: str, env: dict | None = None, timeout: float = 300, check: bool = False
    ) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [*INV, *args],
            cwd=ROOT,
            env={**self.environ, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"inv {' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
        return result

    def popen_inv(self, *args: str, env: dict | None = None, log: Path | None = None) -> subprocess.Popen:
        out = open(log or self.tmp / f"inv-{uuid.uuid4().hex[:6]}.log", "w")
        return subprocess.Popen(
            [*INV, *args],
            cwd=ROOT,
            env={**self.environ, **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )

    def compose(
        self, *args: str, files: tuple[str, ...] = (), check: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess:
        argv = ["docker", "compose", "--env-file", str(self.env_file)]
        for f in files or self.compose_files:
            argv += ["-f", f]
        result = subprocess.run(
            [*argv, *args],
            cwd=ROOT,
            env=self.environ,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"docker compose {' '.join(args)} exited {result.returncode}\n{result.stderr}")
        return result

    def states(self) -> dict[str, str]:
        """service -> state, for every container of the project (stopped ones included)."""
        from tasks.knowledge.compose_cli import parse_ps

        return {c.service: c.state for c in parse_ps(self.compose("ps", "-a", "--format", "json").stdout)}


@dataclass
class Stack(ComposeProject):
    """One isolated compose project."""

    tmp: Path
    project: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:10]}")
    pg_port: int = field(default_factory=free_port)
    redis_port: int = field(default_factory=free_port)
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        self.env_file = self.tmp / "test.env"
        self.state_dir = self.tmp / "state"
        self.write_env()

    def write_env(self, **overrides: str) -> None:
        values = {
            "COMPOSE_PROJECT_NAME": self.project,
            "POSTGRES_HOST_PORT": str(self.pg_port),
            "REDIS_HOST_PORT": str(self.redis_port),
            "WORKER_STOP_GRACE_PERIOD": "30s",
            **{var: os.environ[var] for var in IMAGE_VARS if os.environ.get(var)},
            **self.extra,
            **overrides,
        }
        text = (ROOT / ".env.example").read_text()
        lines = []
        for line in text.splitlines():
            key = line.split("=", 1)[0] if "=" in line and not line.startswith("#") else None
            lines.append(f"{key}={values.pop(key)}" if key in values else line)
        lines += [f"{k}={v}" for k, v in values.items()]
        self.env_file.write_text("\n".join(lines) + "\n")

    @property
    def environ(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in SHADOWING}
        env.update(
            {
                "INVOKE_COMPOSE_ENV_FILE": str(self.env_file),
                "INVOKE_STATE_DIR": str(self.state_dir),
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    def ps(self) -> dict[str, str]:
        """service -> state, for every container of the project (stopped ones included)."""
        return self.states()

    def sql(self, query: str) -> str:
        return self.compose(
            "exec", "-T", "postgres", "psql", "-U", "devstack", "-d", "devstack", "-At", "-c", query
        ).stdout.strip()

    def result_rows(self, prefix: str) -> list[tuple[str, str]]:
        """(job_id, processed_by) of the jobs with this id prefix."""
        if self.sql("select to_regclass('public.digest_results') is not null") != "t":
            return []
        out = self.sql(
            f"select job_id || '|' || processed_by from digest_results where job_id like '{prefix}-%' order by job_id"
        )
        return [(job, worker) for job, _, worker in (line.partition("|") for line in out.splitlines() if line)]

    def handover_facts(self, prefix: str) -> dict[str, float]:
        """What a handover did to the jobs with this prefix, from the results table.

        jobs / redelivered (deliveries > 1) / overlaps: pairs of jobs processed by different workers
        whose processing intervals (started_at .. processed_at) intersect, i.e. two workers at once /
        max_wait_s: the longest added -> processed of one job.
        """
        row = self.sql(
            f"""with r as (select * from digest_results where job_id like '{prefix}-%')
            select (select count(*) from r),
                   (select count(*) from r where deliveries > 1),
                   (select count(*) from r a join r b on a.processed_by <> b.processed_by
                      and a.started_at < b.processed_at and b.started_at < a.processed_at),
                   (select coalesce(max(extract(epoch from processed_at - added_at)), 0) from r)"""
        )
        jobs, redelivered, overlaps, max_wait = row.split("|")
        return {
            "jobs": int(jobs),
            "redelivered": int(redelivered),
            "overlaps": int(overlaps),
            "max_wait_s": float(max_wait),
        }

    def produce(self, prefix: str, count: int, interval_ms: int = 0, duration_ms: int = 0, background: bool = False):
        argv = [
            "node",
            str(ROOT / "dist/apps/worker/produce.js"),
            "--prefix",
            prefix,
            "--count",
            str(count),
            "--interval-ms",
            str(interval_ms),
            "--duration-ms",
            str(duration_ms),
        ]
        env = {**self.environ, "REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(self.redis_port)}
        if background:
            return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        return result

    def wait_rows(self, prefix: str, count: int, timeout: float = 60) -> list[tuple[str, str]]:
        deadline = time.monotonic() + timeout
        rows = []
        while time.monotonic() < deadline:
            rows = self.result_rows(prefix)
            if len(rows) >= count:
                return rows
            time.sleep(0.5)
        raise AssertionError(f"only {len(rows)} of {count} jobs with prefix {prefix} were processed in {timeout}s")

    def down(self) -> None:
        self.compose("--profile", "*", "down", "--volumes", "--remove-orphans", "--timeout", "5", check=False)
        shutil.rmtree(self.state_dir, ignore_errors=True)


def poll(predicate, timeout: float, interval: float = 0.2):
    """The predicate's first truthy value within the timeout, else None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return None


def wait_for(predicate, timeout: float = 60, interval: float = 0.2, what: str = "condition"):
    value = poll(predicate, timeout, interval)
    if not value:
        raise AssertionError(f"timed out after {timeout}s waiting for {what}")
    return value
