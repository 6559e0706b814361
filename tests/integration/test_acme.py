"""Issue 24's shapes in one repository nobody adapted (tests/integration/fixtures/acme), adopted by `inv
adopt` with no hand edit, then driven through worker.up, a handover under a job stream and prodlike.up.
Real engine.

The fixture, a pnpm workspace (apps/api, apps/workers, apps/mailer) whose root package.json has bullmq
(the apps' hoisted dependency), self-hosted with two compose files:

- docker-compose.yml: two Redis (`queue`, `cache`) and two Postgres (`db`, `reports-db`) reached by
  service name in URLs without ports and publishing nothing, `restart: always`; a mail catcher
  (`mailpit`, never started here); the API (publishes its port) and its one-shot migration (`migrate`,
  which the workers wait for); an HTTP echo server running a file of the repository root. Every node
  service bind-mounts the repository root (`.:/app`).
- docker-compose.workers.yml, added with -f: `jobs`, a pulled image (`${WORKERS_IMAGE:-registry.example
  .com/acme/workers:latest}`, no build) running `node dist/workers.js`: apps/workers is TypeScript
  compiled by tsc, its package.json has no `dev` script, and the workspace has no tsx; `mailer`, its
  sources run from the bind mount (`working_dir: /app/apps/mailer`).
- .env, written for self-hosting and read by the services (`env_file: .env`): NODE_ENV=production and
  MAIL_TRANSPORT=mailpit (a transport's name that is also a service's: no address).

What adopt must find by itself: the first run (Compose's own lookup: docker-compose.yml only) finds no
worker there and names docker-compose.workers.yml with the `inv adopt --file ... --file ...` line; the
test runs that line as a user would. Then: `jobs` in apps/workers (a guess from the image's name, said
as one) with the shipped runner compiling with tsc as its dev command, `mailer` in apps/mailer (its
working_dir through the mount), the API and the migration set aside with the reason, the echo server
not taken; the four backing services published on 127.0.0.1 on ports Compose picks, in the collection's
own override; restart always -> unless-stopped there. No `compose.env_file`: the tasks read the root
.env as Compose does. The user's files are never written, invoke.yaml is never touched after adopt.

The pulled image: nothing can be pulled here, so the test builds a stand-in from the fixture's sources
(esbuild bundles src/workers.ts into dist/workers.js on the node image) and names it through
WORKERS_IMAGE, whose last path part is `workers` as the registry's is. The workspace's node_modules is
the repository's (hard links, tsx left out: the issue's repository had none), a real folder, since the
containers see it through the bind mount. Each job's fate is BullMQ's own record (kept jobs: `ats` 1, no
`stc`, `finishedOn` set) and one row per processing in Postgres.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

from .shapesetup import FIXTURES, install_tasks
from .stackenv import ROOT, SHADOWING, free_port, wait_for

pytestmark = pytest.mark.docker

FIXTURE = FIXTURES / "acme"
USER_FILES = ("docker-compose.yml", "docker-compose.workers.yml", ".env")
OURS = ("docker-compose.yml", "docker-compose.workers.yml", "compose.devstack.yaml")
NODE_IMAGE = os.environ.get("NODE_IMAGE") or "node:22-bookworm-slim"
#: BullMQ's record of each kept job: attempts started, stalled count, finished (empty when unset).
JOB_FIELDS = """local out = {}
for _, key in ipairs(KEYS) do
  local v = redis.call('HMGET', key, 'ats', 'stc', 'finishedOn')
  out[#out + 1] = key .. '|' .. (v[1] or '') .. '|' .. (v[2] or '') .. '|' .. (v[3] or '')
end
return out"""


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


class Acme:
    def __init__(self, tmp: Path):
        unique = uuid.uuid4().hex[:8]
        self.tmp = tmp
        self.repo = tmp / f"acme{unique}"  # Compose names the project after the folder
        self.project = self.repo.name
        shutil.copytree(FIXTURE, self.repo)
        install_tasks(self.repo)
        modules = (ROOT / "node_modules").resolve()

        def leave_out(folder: str, names: list[str]) -> set[str]:
            here = Path(folder)
            if here == modules:
                return {"tsx", "@devstack"} & set(names)
            return {"tsx"} & set(names) if here == modules / ".bin" else set()

        shutil.copytree(
            modules, self.repo / "node_modules", symlinks=True, ignore=leave_out, copy_function=_link_or_copy
        )
        self.image = f"devstack-e2e-{unique}/workers:local"
        self.shell = {"WORKERS_IMAGE": self.image, "MAILPIT_IMAGE": NODE_IMAGE, "API_PORT": str(free_port())}

    @property
    def environ(self) -> dict[str, str]:
        drop = (*SHADOWING, "NODE_ENV", "JOB_MS", "MAIL_TRANSPORT")
        env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("INVOKE_")}
        return {**env, "PYTHONUNBUFFERED": "1", **self.shell}

    def inv(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "invoke", *args],
            cwd=self.repo,
            env=self.environ,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def compose(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        argv = ["docker", "compose", *[a for f in OURS for a in ("-f", f)], *args]
        result = subprocess.run(
            argv, cwd=self.repo, env=self.environ, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL
        )
        if check and result.returncode != 0:
            raise AssertionError(f"docker compose {' '.join(args)} exited {result.returncode}\n{result.stderr}")
        return result

    def build_image(self) -> None:
        """The registry's image, stood in for: src/workers.ts bundled into dist/workers.js on the node image."""
        stage = self.tmp / "image"
        (stage / "dist").mkdir(parents=True)
        bundle = [
            str(self.repo / "node_modules/.bin/esbuild"),
            "apps/workers/src/workers.ts",
            "--bundle",
            "--platform=node",
            "--target=node20",
            f"--outfile={stage / 'dist/workers.js'}",
            *("--external:pg-native", "--external:msgpackr-extract", "--external:@valkey/valkey-glide"),
            "--log-level=warning",
        ]
        subprocess.run(bundle, cwd=self.repo, check=True, capture_output=True, timeout=120)
        (stage / "Dockerfile").write_text(
            'ARG NODE_IMAGE\nFROM ${NODE_IMAGE}\nWORKDIR /app/apps/workers\nCOPY dist/ dist/\nCMD ["node", "dist/workers.js"]\n'
        )
        build = ["docker", "build", "-q", "-t", self.image, "--build-arg", f"NODE_IMAGE={NODE_IMAGE}", str(stage)]
        done = subprocess.run(build, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr

    def states(self) -> dict[str, str]:
        from tasks.knowledge.compose_cli import parse_ps

        return {
            c.service: c.state for c in parse_ps(self.compose("--profile", "*", "ps", "-a", "--format", "json").stdout)
        }

    def rows(self) -> list[tuple[str, str]]:
        """(job id, processed by) for each processing: a job processed twice is two rows."""
        query = "select job_id || '|' || processed_by from processed order by at"
        out = self.compose("exec", "-T", "db", "psql", "-U", "acme", "-d", "acme", "-At", "-c", query).stdout
        return [(line.split("|")[0], line.split("|")[-1]) for line in out.splitlines() if line]

    def jobs(self, ids: list[str]) -> dict[str, tuple[str, str, str]]:
        """BullMQ's hash of each job: id -> (ats, stc, finishedOn)."""
        keys = [f"bull:jobs:{i}" for i in ids]
        out = self.compose("exec", "-T", "queue", "redis-cli", "EVAL", JOB_FIELDS, str(len(keys)), *keys).stdout
        found = {}
        for line in out.splitlines():
            key, ats, stc, finished = line.split("|")
            found[key.removeprefix("bull:jobs:")] = (ats, stc, finished)
        return found

    def down(self) -> None:
        self.compose("--profile", "*", "down", "--volumes", "--remove-orphans", "--timeout", "5", check=False)
        subprocess.run(["docker", "image", "rm", "-f", self.image], capture_output=True, check=False)


@pytest.fixture
def acme(tmp_path, engine):
    made = Acme(tmp_path)
    yield made
    made.down()


def test_adopted_with_no_hand_edit_then_worker_up_a_handover_under_a_job_stream_and_prodlike(acme, tmp_path):
    user_files = {name: (acme.repo / name).read_bytes() for name in USER_FILES}

    # 1. Compose's own lookup reads docker-compose.yml only: no worker there, the file beside it is named.
    first = acme.inv("adopt")
    line = "inv adopt --file docker-compose.yml --file docker-compose.workers.yml"
    assert first.returncode == 1, first.stdout + first.stderr
    assert (
        "note: also found docker-compose.workers.yml (services jobs, mailer look like workers), which Compose does "
        f"not read here: to include it, `{line}`"
    ) in first.stdout, first.stdout
    errors = [text for text in first.stderr.splitlines() if text.startswith("error:")]
    assert errors == [
        "error: no worker service in docker-compose.yml (services: api, cache, db, echo, mailpit, migrate, queue, "
        f"reports-db); docker-compose.workers.yml holds jobs, mailer: `{line}` (nothing written)"
    ], first.stderr
    assert "Traceback" not in first.stderr and not (acme.repo / "invoke.yaml").exists()

    # 2. The line, as the user runs it.
    adopted = acme.inv(*line.split()[1:])
    out = adopted.stdout
    assert adopted.returncode == 0, out + adopted.stderr
    assert "not a worker: api: uses bullmq but it publishes a port (a server, e.g. an API adding jobs)" in out, out
    assert "not a worker: migrate: uses bullmq but it looks like a one-shot job (migrations, seeds)" in out, out
    assert not re.search(r"\becho\b", out), out  # runs a root file that imports no queue library: not a worker
    assert (
        "worker jobs: apps/workers, guessed from the name `workers` (bullmq in its package.json); profile workers, "
        "dir apps/workers, build_mode none\n"
    ) in out, out
    assert "  note: dir apps/workers (package @acme/workers) is a guess from the name `workers`" in out, out
    assert (
        "  dev: no `dev` script in apps/workers/package.json: dev is the shipped runner on src/workers.ts (the "
        "source of dist/workers.js, from its compose command), compiled by `tsc` before each start (the workspace "
        "has no tsx)\n"
    ) in out, out
    assert (
        "worker mailer: runs apps/mailer (bullmq in its package.json); profile workers, dir apps/mailer, "
        "build_mode none\n"
    ) in out, out
    assert out.count("note: restart: always becomes unless-stopped in compose.devstack.yaml") == 2, out
    for service, port, var in (
        ("cache", 6379, "CACHE_URL"),
        ("db", 5432, "DATABASE_URL"),
        ("queue", 6379, "REDIS_URL"),
        ("reports-db", 5432, "REPORTS_DATABASE_URL"),
    ):
        assert f"note: {service} publishes no port for {port} (through {var})" in out, out
    assert "mailpit publishes" not in out, out  # MAIL_TRANSPORT=mailpit is no address: nothing to publish
    invoke_yaml = (acme.repo / "invoke.yaml").read_text()
    assert yaml.safe_load(invoke_yaml) == {
        "compose": {"files": "docker-compose.yml:docker-compose.workers.yml:compose.devstack.yaml"},
        "prodlike": {"file": "compose.devstack.prodlike.yaml"},
        "workers": [
            {
                "name": "jobs",
                "profile": "workers",
                "dir": "apps/workers",
                "build_mode": "none",
                "dev": "devstack-run --build tsc --watch src -- node dist/workers.js",
            },
            {"name": "mailer", "profile": "workers", "dir": "apps/mailer", "build_mode": "none"},
        ],
    }, invoke_yaml  # no compose.env_file: the root .env, which Compose reads itself
    override = yaml.safe_load((acme.repo / "compose.devstack.yaml").read_text())["services"]
    assert {name: override[name].get("ports") for name in override} == {
        "jobs": None,
        "mailer": None,
        "cache": ["127.0.0.1::6379"],
        "db": ["127.0.0.1::5432"],
        "queue": ["127.0.0.1::6379"],
        "reports-db": ["127.0.0.1::5432"],
    }, override
    assert [override[w]["restart"] for w in ("jobs", "mailer")] == ["unless-stopped"] * 2, override
    assert {name: (acme.repo / name).read_bytes() for name in USER_FILES} == user_files  # theirs, untouched

    again = acme.inv("adopt")  # compose.files from invoke.yaml now
    assert again.returncode == 0 and again.stdout.count(": unchanged") == 3, again.stdout + again.stderr

    # 3. worker.up: both workers, what they wait for (the migration ran once), nothing else.
    acme.build_image()
    up = acme.inv("worker.up")
    assert up.returncode == 0, up.stdout + up.stderr
    assert "--build" not in up.stdout, up.stdout  # a pulled image, a stock one: nothing to build, none offered
    states = acme.states()
    assert {k: states.get(k) for k in ("jobs", "mailer", "migrate", "queue", "cache", "db", "reports-db")} == {
        "jobs": "running",
        "mailer": "running",
        "migrate": "exited",
        "queue": "running",
        "cache": "running",
        "db": "running",
        "reports-db": "running",
    }, states
    assert not {"api", "echo", "mailpit"} & set(states), states
    published = {s: acme.compose("port", s, str(p)).stdout.strip() for s, p in (("db", 5432), ("reports-db", 5432))}
    assert all(v.startswith("127.0.0.1:") for v in published.values()), published
    assert published["db"] != published["reports-db"], published  # two Postgres, two host ports
    queue = acme.compose("port", "queue", "6379").stdout.strip()
    wait_for(
        lambda: (
            "[jobs] ready (background, NODE_ENV=production, MAIL_TRANSPORT=mailpit"
            in acme.compose("logs", "jobs").stdout
        ),
        60,
        what="the background worker ready",
        interval=0.5,
    )

    # 4. A handover under a job stream (a job every 150 ms): dev.worker jobs until the dev worker
    # consumes, then Ctrl+C (SIGINT) gives the queue back.
    producer = subprocess.Popen(
        ["node", "tools/enqueue.js", "jobs", "s", "600", "150"],
        cwd=acme.repo,
        env={**acme.environ, "REDIS_URL": f"redis://{queue}"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    log = tmp_path / "dev.log"
    session = None
    try:
        wait_for(lambda: len(acme.rows()) >= 3, 60, what="jobs of the stream by the background worker", interval=0.5)
        with open(log, "w") as sink:
            session = subprocess.Popen(
                [sys.executable, "-m", "invoke", "dev.worker", "jobs"],
                cwd=acme.repo,
                env=acme.environ,
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
            )
        ready = "[jobs] ready (dev, NODE_ENV=development, MAIL_TRANSPORT=mailpit"
        wait_for(lambda: ready in log.read_text() or session.poll() is not None, 90, what="the dev worker ready")
        assert ready in log.read_text(), log.read_text()
        wait_for(
            lambda: sum(by == "dev" for _, by in acme.rows()) >= 3, 60, what="jobs by the dev worker", interval=0.5
        )
        assert acme.states()["jobs"] == "exited", log.read_text()  # one consumer on the queue, not two
        session.send_signal(signal.SIGINT)
        code = session.wait(90)
        text = log.read_text()
        assert code == 0, text
        assert "background worker `jobs` restored" in text, text
        assert text.count("NODE_ENV=development for the dev worker") == 1, text
        assert text.count("MAIL_TRANSPORT=mailpit names service 'mailpit' but is no address") == 1, text
        served = sum(by == "background" for _, by in acme.rows())
        wait_for(
            lambda: sum(by == "background" for _, by in acme.rows()) >= served + 3, 60, what="jobs after", interval=0.5
        )
    finally:
        if session is not None and session.poll() is None:
            session.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                session.wait(60)
        producer.send_signal(signal.SIGTERM)
        added, problems = producer.communicate(timeout=60)
    assert producer.returncode == 0, problems
    ids = added.split()
    assert len(ids) >= 9, ids
    wait_for(lambda: len(acme.rows()) >= len(ids), 60, what=f"all {len(ids)} jobs processed", interval=0.5)
    rows = acme.rows()
    assert sorted(job for job, _ in rows) == sorted(ids), rows  # each once in Postgres
    assert {by for _, by in rows} == {"background", "dev"}, rows
    fates = acme.jobs(ids)
    wrong = {i: fate for i, fate in fates.items() if fate[0] != "1" or fate[1] not in ("", "0") or not fate[2]}
    assert len(fates) == len(ids) and not wrong, wrong  # BullMQ: each started once, never stalled, finished

    # 5. prodlike.up for one worker, as adopt wrote its overlay (a plain call: the seed's caps fitted).
    prod = acme.inv("prodlike.up", "jobs")
    assert prod.returncode == 0, prod.stdout + prod.stderr
    assert "FAIL" not in prod.stdout[prod.stdout.index("check") :], prod.stdout
    verify = acme.inv("prodlike.verify", "jobs")
    checks = [text for text in verify.stdout.splitlines() if text.startswith(("OK ", "FAIL", "WARN"))]
    assert verify.returncode == 0 and checks and all(c.startswith("OK ") for c in checks), verify.stdout
    assert any(c.startswith("OK ") and "NODE_ENV" in c for c in checks), verify.stdout
    assert (acme.repo / "invoke.yaml").read_text() == invoke_yaml  # never edited by hand (nor by a task)
