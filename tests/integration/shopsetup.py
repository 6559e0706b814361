"""The shop: a pnpm workspace with two queue workers, driven by configuration only.

tests/integration/fixtures/shop is shaped like the monorepos these tasks are for and unlike this
repository: pnpm-lock.yaml (so pnpm, with `pnpm --filter @shop/<worker> dev`), workers named `email`
(no build step: the container runs its sources from a bind mount) and `sync` (built inside its image
by a multi-stage Dockerfile), an extra `api` service, the compose file under configs/. The tasks get
the fixture's invoke.yaml as Invoke's runtime configuration (INVOKE_RUNTIME_CONFIG = `inv -f`), plus
an env file and a state folder of the test's own.

Dependencies: the workspace declares bullmq/ioredis/pg/esbuild and pins them in pnpm-lock.yaml, but
no registry is reachable from `docker build` here and the tests must not depend on one, so the
session copies the repository's own installed node_modules (the same versions) into the fixture:
"node_modules installed on the host", which the sync image's build stage takes from its context.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from .stackenv import IMAGE_VARS, ROOT, SHADOWING, ComposeProject, free_port

FIXTURE = ROOT / "tests/integration/fixtures/shop"
COMPOSE_FILE = FIXTURE / "configs/compose.yaml"
CONFIG = FIXTURE / "invoke.yaml"


def install_dependencies() -> None:
    """The fixture's node_modules: a copy of the repository's (same versions as pnpm-lock.yaml pins)."""
    target = FIXTURE / "node_modules"
    if not (target / "bullmq").is_dir():
        shutil.copytree((ROOT / "node_modules").resolve(), target, symlinks=True, dirs_exist_ok=True)


@dataclass
class Shop(ComposeProject):
    compose_files: ClassVar[tuple[str, ...]] = (str(COMPOSE_FILE),)
    tmp: Path
    project: str = field(default_factory=lambda: f"s{uuid.uuid4().hex[:10]}")
    queue_port: int = field(default_factory=free_port)
    db_port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)

    def __post_init__(self):
        self.env_file = self.tmp / "shop.env"
        self.state_dir = self.tmp / "state"
        self.write_env()

    def write_env(self, **overrides: str) -> None:
        values = {
            "COMPOSE_PROJECT_NAME": self.project,
            "QUEUE_PORT": str(self.queue_port),
            "DB_PORT": str(self.db_port),
            "API_PORT": str(self.api_port),
            "DB_PASSWORD": "shop",
            "SYNC_IMAGE": f"shop-sync-{self.project}:local",
            **{var: os.environ[var] for var in IMAGE_VARS if os.environ.get(var)},
            **overrides,
        }
        self.env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
        example = self.tmp / "shop.env.example"
        example.write_text("".join(f"{k}=\n" for k in values))

    @property
    def environ(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in SHADOWING and not k.startswith("INVOKE_")}
        env.update(
            {
                "INVOKE_RUNTIME_CONFIG": str(CONFIG),
                "INVOKE_COMPOSE_ENV_FILE": str(self.env_file),
                "INVOKE_COMPOSE_ENV_EXAMPLE": str(self.tmp / "shop.env.example"),
                "INVOKE_STATE_DIR": str(self.state_dir),
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    def sql(self, query: str) -> str:
        return self.compose("exec", "-T", "db", "psql", "-U", "shop", "-d", "shop", "-At", "-c", query).stdout.strip()

    def produce(self, queue: str, prefix: str, count: int, *, keep: bool = False) -> None:
        """``keep``: each job's hash stays after it finished (read with `job`)."""
        argv = ["node", str(FIXTURE / "packages/queue-worker/produce.js"), queue, prefix, str(count)]
        env = {**self.environ, "REDIS_URL": f"redis://127.0.0.1:{self.queue_port}", "KEEP_JOBS": "1" if keep else ""}
        result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr

    def job(self, queue: str, job_id: str) -> dict[str, str]:
        """BullMQ's hash of a kept job: `ats` attempts started, `stc` stalled count, `finishedOn` ..."""
        words = self.compose(
            "exec", "-T", "queue", "redis-cli", "HGETALL", f"bull:{queue}:{job_id}"
        ).stdout.splitlines()
        return dict(zip(words[::2], words[1::2], strict=False))

    def processed(self, prefix: str) -> list[tuple[str, str]]:
        """(job id, processed by) for each processing of the prefix's jobs: a job twice is two rows."""
        if self.sql("select to_regclass('public.processed') is not null") != "t":
            return []
        out = self.sql(f"select job_id || '|' || processed_by from processed where job_id like '{prefix}-%' order by 1")
        return [tuple(line.split("|")) for line in out.splitlines() if line]  # type: ignore[misc]

    def down(self) -> None:
        self.compose("--profile", "*", "down", "--volumes", "--remove-orphans", "--timeout", "5", check=False)
        subprocess.run(
            ["docker", "image", "rm", "-f", f"shop-sync-{self.project}:local"], capture_output=True, check=False
        )
