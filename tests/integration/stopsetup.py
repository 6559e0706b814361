"""Worker containers shaped as real apps are (tests/integration/fixtures/stop-shapes), for the stop tests.

The image is built once per test session from the NODE_IMAGE stand-in with the repository's
node_modules (bullmq, ioredis, tsx) and the host's npm copied into the build context: nothing can be
installed inside a build here. Each test gets its own compose project (Redis + `worker`) whose
command is chosen by WORKER_CMD, and reads BullMQ's own record of each job (`ats`, `stc`) from Redis.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from .stackenv import IMAGE_VARS, ROOT, SHADOWING, ComposeProject, free_port

FIXTURE = ROOT / "tests/integration/fixtures/stop-shapes"
COMPOSE_FILE = FIXTURE / "compose.yaml"
IMAGE = f"devstack-stop-shapes:{uuid.uuid4().hex[:8]}"


def build_image(tmp: Path) -> str:
    """The fixture's image, built from a context assembled in ``tmp`` (its tag)."""
    context = tmp / "context"
    shutil.copytree(FIXTURE, context, ignore=shutil.ignore_patterns("compose.yaml"))
    shutil.copytree(
        ROOT / "node_modules", context / "node_modules", symlinks=True, ignore=shutil.ignore_patterns("@devstack")
    )
    npm = shutil.which("npm")
    assert npm, "npm is needed on the host to put it in the test image"
    shutil.copytree(Path(npm).resolve().parents[1], context / "npm", symlinks=True)
    args = ["docker", "build", "-q", "-t", IMAGE]
    if os.environ.get("NODE_IMAGE"):
        args += ["--build-arg", f"NODE_IMAGE={os.environ['NODE_IMAGE']}"]
    result = subprocess.run([*args, str(context)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    shutil.rmtree(context, ignore_errors=True)
    return IMAGE


def remove_image() -> None:
    subprocess.run(["docker", "image", "rm", "-f", IMAGE], capture_output=True, check=False)


@dataclass
class ShapeStack(ComposeProject):
    compose_files: ClassVar[tuple[str, ...]] = (str(COMPOSE_FILE),)
    tmp: Path
    command: str = "node src/worker.mjs"
    grace: str = "30s"
    project: str = field(default_factory=lambda: f"s{uuid.uuid4().hex[:10]}")
    redis_port: int = field(default_factory=free_port)

    def __post_init__(self):
        self.env_file = self.tmp / "shapes.env"
        self.state_dir = self.tmp / "state"
        values = {
            "COMPOSE_PROJECT_NAME": self.project,
            "REDIS_HOST_PORT": str(self.redis_port),
            "SHAPES_IMAGE": IMAGE,
            "WORKER_CMD": self.command,
            "GRACE": self.grace,
            **{var: os.environ[var] for var in IMAGE_VARS if os.environ.get(var)},
        }
        self.env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()))

    @property
    def environ(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in SHADOWING and not k.startswith("INVOKE_")}
        env.update(
            {
                "INVOKE_COMPOSE_FILES": str(COMPOSE_FILE.relative_to(ROOT)),
                "INVOKE_COMPOSE_ENV_FILE": str(self.env_file),
                "INVOKE_COMPOSE_ENV_EXAMPLE": str(self.tmp / "no.env.example"),
                "INVOKE_WORKER_SERVICE": "worker",
                "INVOKE_WORKER_PROFILE": "",
                "INVOKE_APP_DIR": str(FIXTURE.relative_to(ROOT)),
                "INVOKE_APP_BUILD_MODE": "none",
                "INVOKE_APP_DEV": "node src/worker.mjs",
                "INVOKE_STATE_DIR": str(self.state_dir),
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    def redis(self, *words: str) -> str:
        return self.compose("exec", "-T", "redis", "redis-cli", *words).stdout

    def consumers(self) -> int:
        """BullMQ worker connections of queue `stops` in Redis (`bull:<base64>` names)."""
        return sum(1 for line in self.redis("CLIENT", "LIST").splitlines() if "name=bull:c3RvcHM" in line)

    def add_jobs(self, count: int, ms: int) -> list[str]:
        """Jobs of ``ms`` milliseconds on queue `stops`, added with BullMQ from the host; their ids."""
        code = (
            "const {Queue}=require('bullmq');"
            f"const q=new Queue('stops',{{connection:{{host:'127.0.0.1',port:{self.redis_port}}}}});"
            f"Promise.all(Array.from({{length:{count}}},(_,i)=>q.add('j',{{ms:{ms}}})))"
            ".then(js=>{console.log(JSON.stringify(js.map(j=>j.id)));return q.close()})"
        )
        result = subprocess.run(["node", "-e", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return [str(i) for i in json.loads(result.stdout.strip().splitlines()[-1])]

    def job(self, job_id: str) -> dict[str, str]:
        """BullMQ's hash of a job: `ats` attempts started, `stc` stalled count, `finishedOn` ..."""
        words = self.redis("HGETALL", f"bull:stops:{job_id}").splitlines()
        return dict(zip(words[::2], words[1::2], strict=False))

    def active(self) -> list[str]:
        return [w for w in self.redis("LRANGE", "bull:stops:active", "0", "-1").split() if w]

    def container_state(self) -> dict:
        name = self.compose("ps", "-a", "-q", "worker").stdout.split()
        out = subprocess.run(["docker", "inspect", name[0]], capture_output=True, text=True).stdout
        return json.loads(out)[0]["State"]

    def logs(self) -> str:
        return self.compose("logs", "--no-color", "worker", check=False).stdout

    def down(self) -> None:
        self.compose("down", "--volumes", "--remove-orphans", "--timeout", "1", check=False)
        shutil.rmtree(self.state_dir, ignore_errors=True)
