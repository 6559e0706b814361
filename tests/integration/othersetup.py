"""A stack laid out unlike ours (tests/integration/fixtures/other-app), pointed at by configuration only.

Service names queue/db/jobs, the compose file under configs/, redis on a non-default host port, no
labels of ours, Redis reached through REDIS_URL. The tasks learn all of it from `INVOKE_*` variables
(compose.files, compose.env_file, compose.env_example, worker.service, worker.profile) and Compose.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from .stackenv import IMAGE_VARS, ROOT, SHADOWING, ComposeProject, free_port

FIXTURE = ROOT / "tests/integration/fixtures/other-app"
COMPOSE_FILE = FIXTURE / "configs/compose.yaml"


@dataclass
class OtherStack(ComposeProject):
    compose_files: ClassVar[tuple[str, ...]] = (str(COMPOSE_FILE),)
    tmp: Path
    project: str = field(default_factory=lambda: f"o{uuid.uuid4().hex[:10]}")
    queue_port: int = field(default_factory=free_port)
    db_port: int = field(default_factory=free_port)
    extra: dict = field(default_factory=dict)
    #: DOCKER_CONFIG of another Compose version (tests/integration/compose_matrix.py), or None.
    docker_config: str | None = None

    def __post_init__(self):
        self.env_file = self.tmp / "other.env"
        self.state_dir = self.tmp / "state"
        self.write_env()

    def write_env(self, **overrides: str) -> None:
        values = {
            "COMPOSE_PROJECT_NAME": self.project,
            "QUEUE_PORT": str(self.queue_port),
            "DB_PORT": str(self.db_port),
            "DB_PASSWORD": "app",
            "JOBS_IMAGE": f"otherapp-jobs-{self.project}:local",
            "MAILER_SCHEDULER": "false",
            **{var: os.environ[var] for var in IMAGE_VARS if os.environ.get(var)},
            **self.extra,
            **overrides,
        }
        self.env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()))

    @property
    def environ(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in SHADOWING and not k.startswith("INVOKE_")}
        env.update(
            {
                "INVOKE_COMPOSE_FILES": str(COMPOSE_FILE.relative_to(ROOT)),
                "INVOKE_COMPOSE_ENV_FILE": str(self.env_file),
                "INVOKE_COMPOSE_ENV_EXAMPLE": str(FIXTURE / "env.example"),
                "INVOKE_WORKER_SERVICE": "jobs",
                "INVOKE_WORKER_PROFILE": "",
                "INVOKE_STATE_DIR": str(self.state_dir),
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self.docker_config:
            env["DOCKER_CONFIG"] = self.docker_config
        return env

    def sql(self, query: str) -> str:
        return self.compose("exec", "-T", "db", "psql", "-U", "app", "-d", "app", "-At", "-c", query).stdout.strip()

    def produce(self, prefix: str, count: int) -> None:
        argv = ["node", str(ROOT / "dist/apps/worker/produce.js"), "--prefix", prefix, "--count", str(count)]
        env = {**self.environ, "REDIS_URL": f"redis://127.0.0.1:{self.queue_port}"}
        result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr

    def processed_by(self, prefix: str) -> list[str]:
        if self.sql("select to_regclass('public.digest_results') is not null") != "t":
            return []
        out = self.sql(f"select processed_by from digest_results where job_id like '{prefix}-%' order by job_id")
        return [line for line in out.splitlines() if line]

    def down(self) -> None:
        self.compose("--profile", "*", "down", "--volumes", "--remove-orphans", "--timeout", "5", check=False)
        subprocess.run(
            ["docker", "image", "rm", "-f", f"otherapp-jobs-{self.project}:local"], capture_output=True, check=False
        )
