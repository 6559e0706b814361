"""Repositories shaped unlike ours (tests/integration/fixtures/{subfolder,by-value,compose-yaml}),
each used as a user would: the fixture copied into a folder of its own with the tasks copied in
(`tasks/`, `tasks.py`), and `inv` run there. No invoke.yaml is written by hand: `inv adopt` writes it
(the tests adopt each copy first) and nothing is passed through `INVOKE_*` variables: the project
name, the compose files and the `.env` are what Compose decides.

- subfolder: infra/docker/docker-compose.yml with its own .env beside it, no project name anywhere.
  Compose names the project after that folder; the copy renames the folder to a unique name (the
  shape is kept; parallel runs cannot share a project).
- by-value: a worker naming its connections QUEUE_HOST (port defaulted in its code), CACHE_HOST,
  POSTGRES_URL, no .env and no .env.example (the free ports come from the shell).
- compose-yaml: compose.yaml + compose.override.yaml found by Compose's own lookup, and a one-shot
  migrations service.
- compose-file-var: the subfolder's files, named by COMPOSE_FILE in the root .env, which also holds
  COMPOSE_PROJECT_NAME and the ports; the subfolder's own .env holds other ports (a decoy): Compose
  reads the root one, and so must the tasks once adopt lists the files with `-f`.

Each worker is a plain BullMQ worker (worker/main.js, package.json `dev`: `node worker/main.js`, run
by `npm run dev` as adopt detects it) run by the node image from a bind mount, with
the repository's installed node_modules (bullmq, ioredis, pg) linked into the copy: nothing is built
and no registry is needed. Each processing of a job is one row in Postgres (table `processed`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .stackenv import ROOT, SHADOWING, free_port

FIXTURES = ROOT / "tests/integration/fixtures"


def install_tasks(repo: Path) -> None:
    """The tasks as a user installs them in their repository (today: `tasks/` and `tasks.py` copied in)."""
    shutil.copytree(ROOT / "tasks", repo / "tasks", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "tasks.py", repo / "tasks.py")


@dataclass
class Shape:
    fixture: str
    tmp: Path
    #: Variables of the test's shell (wins over .env, as in Compose).
    shell: dict[str, str] = field(default_factory=dict)
    redis_port: int = field(default_factory=free_port)
    db_port: int = field(default_factory=free_port)
    #: What `inv adopt` printed, once a test adopted the copy.
    adoption: subprocess.CompletedProcess | None = None

    def __post_init__(self) -> None:
        unique = uuid.uuid4().hex[:8]
        self.repo = self.tmp / f"{self.fixture.replace('-', '')}{unique}"
        source = "subfolder" if self.fixture == "compose-file-var" else self.fixture
        shutil.copytree(FIXTURES / source, self.repo)
        install_tasks(self.repo)
        (self.repo / "node_modules").symlink_to((ROOT / "node_modules").resolve())
        self.compose_dir = self.repo
        self.files: tuple[str, ...] = ()
        if self.fixture == "subfolder":
            folder = self.repo / "infra" / f"docker{unique}"
            (self.repo / "infra" / "docker").rename(folder)
            self.compose_dir = folder
            self.files = (str(folder / "docker-compose.yml"),)
            self.project = folder.name
            (folder / ".env").write_text(f"REDIS_PORT={self.redis_port}\nDB_PORT={self.db_port}\nDB_PASSWORD=app\n")
        elif self.fixture == "compose-file-var":
            folder = self.repo / "infra" / f"docker{unique}"
            (self.repo / "infra" / "docker").rename(folder)
            self.compose_dir = folder
            self.project = f"cfv{unique}"
            (self.repo / ".env").write_text(
                f"COMPOSE_FILE=infra/{folder.name}/docker-compose.yml\nCOMPOSE_PROJECT_NAME={self.project}\n"
                f"REDIS_PORT={self.redis_port}\nDB_PORT={self.db_port}\nDB_PASSWORD=app\n"
            )
            (folder / ".env").write_text(f"REDIS_PORT={free_port()}\nDB_PORT={free_port()}\nDB_PASSWORD=app\n")
        elif self.fixture == "by-value":
            self.project = self.repo.name
            self.shell = {"REDIS_PORT": str(self.redis_port), "DB_PORT": str(self.db_port), **self.shell}
        else:
            self.project = self.repo.name
            (self.repo / ".env").write_text(f"REDIS_PORT={self.redis_port}\nDB_PORT={self.db_port}\n")

    @property
    def environ(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in SHADOWING and not k.startswith("INVOKE_")}
        env.update({"PYTHONUNBUFFERED": "1", **self.shell})
        return env

    def inv(self, *args: str, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "invoke", *args],
            cwd=self.repo,
            env={**self.environ, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def popen_inv(self, *args: str, log: Path) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "invoke", *args],
            cwd=self.repo,
            env=self.environ,
            stdout=open(log, "w"),
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )

    def compose(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Compose as the user runs it in the repository (its own lookup, or the subfolder's file)."""
        argv = ["docker", "compose", *[a for f in self.files for a in ("-f", f)], *args]
        result = subprocess.run(
            argv, cwd=self.repo, env=self.environ, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL
        )
        if check and result.returncode != 0:
            raise AssertionError(f"docker compose {' '.join(args)} exited {result.returncode}\n{result.stderr}")
        return result

    def states(self) -> dict[str, str]:
        from tasks.knowledge.compose_cli import parse_ps

        return {c.service: c.state for c in parse_ps(self.compose("ps", "-a", "--format", "json").stdout)}

    def sql(self, query: str) -> str:
        argv = ["exec", "-T", "postgres", "psql", "-U", "app", "-d", "app", "-At", "-c", query]
        return self.compose(*argv).stdout.strip()

    def processed(self, prefix: str) -> list[tuple[str, str]]:
        """(job id, processed by) for each processing of the prefix's jobs: a job twice is two rows."""
        if self.sql("select to_regclass('public.processed') is not null") != "t":
            return []
        out = self.sql(f"select job_id || '|' || processed_by from processed where job_id like '{prefix}-%' order by 1")
        return [tuple(line.split("|")) for line in out.splitlines() if line]  # type: ignore[misc]

    def produce(self, prefix: str, count: int) -> None:
        """Jobs <prefix>-0001... on the `jobs` queue (the shop's producer, a plain BullMQ Queue)."""
        argv = ["node", str(FIXTURES / "shop/packages/queue-worker/produce.js"), "jobs", prefix, str(count)]
        env = {
            **self.environ,
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}",
            "NODE_PATH": str(ROOT / "node_modules"),
        }
        result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr

    def down(self) -> None:
        self.compose("down", "--volumes", "--remove-orphans", "--timeout", "5", check=False)
