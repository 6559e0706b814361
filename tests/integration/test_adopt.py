"""`inv adopt` on a repository not yet adapted, then the tasks on what it wrote, against the real engine.

A copy of the shop fixture (tests/integration/fixtures/shop) in a temporary folder, without its
invoke.yaml, its compose file replaced by the unadapted one (tests/unit/data/compose/shop-unadapted.yml:
no profiles on the workers, `restart: "no"`), with the adopter's `tasks.py` of docs/adopting.md beside
it, run by the wheel installed into a fresh venv outside the checkout (installed.py), as a user adopting
the collection does. Then: a dry run writes nothing; adopt writes invoke.yaml and the two
override files and never the user's compose file; a second run changes no byte; real Compose applies
the override's profile to the existing services; worker.up, worker.status, prodlike.up/verify on a
named worker, stack.down; doctor names the installed version, worker.status --json reads both workers.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from tasks import __version__

from . import installed as package
from .shopsetup import FIXTURE, install_dependencies
from .stackenv import IMAGE_VARS, ROOT, SHADOWING, free_port

pytestmark = [pytest.mark.docker, pytest.mark.installed]

UNADAPTED = ROOT / "tests/unit/data/compose/shop-unadapted.yml"
GOLDEN = ROOT / "tests/unit/data/adopt"
GENERATED = ("invoke.yaml", "compose.devstack.yaml", "compose.devstack.prodlike.yaml")


class Adopted:
    def __init__(self, tmp: Path, installed: package.Installed):
        self.installed = installed
        self.dir = tmp / "shop"
        shutil.copytree(FIXTURE, self.dir, symlinks=True, ignore=shutil.ignore_patterns("invoke.yaml", ".devstack"))
        shutil.copy(UNADAPTED, self.dir / "configs/compose.yaml")
        (self.dir / "tasks.py").write_text(package.adopters_tasks_py())
        self.project = f"a{uuid.uuid4().hex[:10]}"
        self.env_file = tmp / "shop.env"
        values = {
            "COMPOSE_PROJECT_NAME": self.project,
            "QUEUE_PORT": str(free_port()),
            "DB_PORT": str(free_port()),
            "API_PORT": str(free_port()),
            "SYNC_IMAGE": f"shop-sync-{self.project}:local",
            **{var: os.environ[var] for var in IMAGE_VARS if os.environ.get(var)},
        }
        self.env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()))

    @property
    def environ(self) -> dict[str, str]:
        env = {k: v for k, v in package.environ().items() if k not in SHADOWING and not k.startswith("INVOKE_")}
        env.update({"INVOKE_COMPOSE_ENV_FILE": str(self.env_file), "INVOKE_COMPOSE_ENV_EXAMPLE": str(self.env_file)})
        return env

    def inv(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self.installed.inv, *args],
            cwd=self.dir,
            env=self.environ,
            capture_output=True,
            text=True,
            timeout=600,
            stdin=subprocess.DEVNULL,
        )

    def compose(self, *args: str, files: tuple[str, ...]) -> subprocess.CompletedProcess:
        argv = ["docker", "compose", "--env-file", str(self.env_file)]
        for f in files:
            argv += ["-f", f]
        return subprocess.run([*argv, *args], cwd=self.dir, env=self.environ, capture_output=True, text=True)

    def snapshot(self) -> dict[str, bytes | None]:
        return {
            name: (self.dir / name).read_bytes() if (self.dir / name).exists() else None
            for name in (*GENERATED, "configs/compose.yaml")
        }

    def down(self) -> None:
        files = ("configs/compose.yaml",)
        self.compose("--profile", "*", "down", "--volumes", "--remove-orphans", "--timeout", "5", files=files)
        subprocess.run(["docker", "image", "rm", "-f", f"shop-sync-{self.project}:local"], capture_output=True)


@pytest.fixture
def adopted(tmp_path, engine, installed):
    install_dependencies()
    repo = Adopted(tmp_path, installed)
    yield repo
    repo.down()


def tree(folder: Path) -> set[str]:
    """Every path below ``folder`` but the fixture's copied node_modules (and Python's own caches)."""
    return {
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if "node_modules" not in p.parts and "__pycache__" not in p.parts
    }


def test_adopt_then_drive_the_workers(adopted):
    before = adopted.snapshot()
    paths = tree(adopted.dir)
    dry = adopted.inv("adopt", "--file", "configs/compose.yaml", "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "dry run: 3 file(s) would change, nothing written" in dry.stdout
    assert "+        dev.devstack.source-fingerprint: ${SOURCE_FINGERPRINT_SYNC:-unknown}\n" in dry.stdout
    assert adopted.snapshot() == before
    assert tree(adopted.dir) == paths  # nothing at all written: no .devstack/ either

    first = adopted.inv("adopt", "--file", "configs/compose.yaml")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "worker email: runs apps/email (bullmq in the root package.json)" in first.stdout
    written = adopted.snapshot()
    assert written["configs/compose.yaml"] == before["configs/compose.yaml"]  # the user's file untouched
    for name in ("compose.devstack.yaml", "compose.devstack.prodlike.yaml"):
        assert (adopted.dir / name).read_text() == (GOLDEN / f"shop.{name}").read_text()

    second = adopted.inv("adopt")  # compose.files now from invoke.yaml
    assert second.returncode == 0, second.stdout + second.stderr
    assert second.stdout.count(": unchanged") == 3 and adopted.snapshot() == written

    # Real Compose applies the override's profile to the user's existing services.
    files = ("configs/compose.yaml", "compose.devstack.yaml")
    plain = adopted.compose("config", "--services", files=files)
    assert plain.returncode == 0, plain.stderr
    assert set(plain.stdout.split()) == {"api", "db", "queue"}
    profiled = adopted.compose("--profile", "workers", "config", "--services", files=files)
    assert {"email", "sync"} <= set(profiled.stdout.split())
    overlay = adopted.compose("config", "--format", "json", files=(*files, "compose.devstack.prodlike.yaml"))
    assert overlay.returncode == 0, overlay.stderr

    up = adopted.inv("worker.up")
    assert up.returncode == 0, up.stdout + up.stderr
    doctor = adopted.inv("doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    first = doctor.stdout.splitlines()[0]  # the version, loaded from the venv (not from this checkout)
    assert first.startswith(f"devstack-tasks {__version__} (") and str(adopted.installed.venv) in first, first
    assert "has no profile" not in doctor.stdout and "restart policy" not in doctor.stdout, doctor.stdout
    assert "has no dev.devstack.source-fingerprint label" not in doctor.stdout, doctor.stdout
    # Built by hand outside the tasks, the image's label is `unknown`: adopt already labels the build,
    # so the advice is a rebuild (it said `run inv adopt`, which changes nothing).
    built = adopted.compose("--profile", "workers", "build", "sync", files=files)
    assert built.returncode == 0, built.stderr
    rebuilt = adopted.inv("doctor")
    assert "has no dev.devstack.source-fingerprint label" in rebuilt.stdout, rebuilt.stdout
    assert "rebuild it with `inv worker.up sync --build`" in rebuilt.stdout and "run `inv adopt`" not in rebuilt.stdout
    assert adopted.inv("worker.up", "sync", "--build").returncode == 0
    assert "has no dev.devstack.source-fingerprint label" not in adopted.inv("doctor").stdout
    as_json = adopted.inv("worker.status", "--json")
    assert as_json.returncode == 0, as_json.stdout + as_json.stderr
    facts = json.loads(as_json.stdout)
    assert facts["ok"] is True and {w["worker"]: [c["running"] for c in w["containers"]] for w in facts["workers"]} == {
        "email": [True],
        "sync": [True],
    }, facts
    status = adopted.inv("worker.status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert "email: running" in status.stdout and "sync: running" in status.stdout, status.stdout
    assert status.stdout.count("restart policy: unless-stopped") == 2, status.stdout  # from our override

    prod = adopted.inv("prodlike.up", "sync", "--cpus", "1", "--memory", "512m")
    assert prod.returncode == 0, prod.stdout + prod.stderr
    table = prod.stdout[prod.stdout.index("check") :]
    assert "FAIL" not in table and "V8 heap_size_limit" in table, table
    verify = adopted.inv("prodlike.verify", "sync")
    assert verify.returncode == 0 and "FAIL" not in verify.stdout, verify.stdout + verify.stderr
    unknown = adopted.inv("prodlike.verify", "nope")
    assert unknown.returncode == 1 and unknown.stderr.strip().startswith("error: no worker named 'nope'")
    assert "Traceback" not in unknown.stderr
    normal = adopted.inv("prodlike.verify", "email", "--cpus", "1", "--memory", "512m")
    assert normal.returncode == 1 and "FAIL" in normal.stdout and "Traceback" not in normal.stderr  # no caps
    # the worker with no build step (a node image running its bind-mounted sources) too
    email = adopted.inv("prodlike.up", "email", "--cpus", "1", "--memory", "256m")
    assert email.returncode == 0, email.stdout + email.stderr
    assert "FAIL" not in email.stdout[email.stdout.index("check") :], email.stdout
    back = adopted.inv("prodlike.down", "sync")
    assert back.returncode == 0, back.stdout + back.stderr
    status = adopted.inv("worker.status")
    assert "mode:" in status.stdout and "prodlike (1 CPU, 256 MiB" in status.stdout, status.stdout
    assert status.stdout.count("prodlike (") == 1, status.stdout  # sync is normal again, email still capped

    down = adopted.inv("stack.down")
    assert down.returncode == 0, down.stdout + down.stderr
    ps = adopted.compose("--profile", "*", "ps", "-a", "-q", files=files)
    assert ps.stdout.strip() == ""


def unpublished_shop() -> str:
    """The unadapted shop with nothing published (a production-shaped file: URLs without host ports),
    `restart: always` on the worker and NODE_ENV=production in its environment; the email worker only."""
    import yaml

    config = yaml.safe_load(UNADAPTED.read_text())
    for name in ("queue", "db"):
        config["services"][name].pop("ports")
    for name in ("api", "sync"):
        config["services"].pop(name)
    email = config["services"]["email"]
    email["restart"] = "always"
    email["environment"]["NODE_ENV"] = "production"
    email["environment"]["JOB_MS"] = "400"
    return yaml.safe_dump(config, sort_keys=False)


def test_adopt_publishes_what_the_dev_worker_needs_and_hands_over_with_no_hand_edit(adopted, tmp_path):
    import signal

    (adopted.dir / "configs/compose.yaml").write_text(unpublished_shop())
    first = adopted.inv("adopt", "--file", "configs/compose.yaml")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "note: db publishes no port for 5432 (through DATABASE_URL)" in first.stdout, first.stdout
    assert "note: queue publishes no port for 6379 (through REDIS_URL)" in first.stdout, first.stdout
    assert "restart: always becomes unless-stopped in compose.devstack.yaml" in first.stdout, first.stdout
    override = (adopted.dir / "compose.devstack.yaml").read_text()
    assert (
        "  db:\n    ports:\n    - 127.0.0.1::5432\n" in override
        and "  queue:\n    ports:\n    - 127.0.0.1::6379\n" in override
    )
    assert "restart: unless-stopped" in override

    up = adopted.inv("worker.up")  # invoke.yaml as adopt wrote it: no hand edit
    assert up.returncode == 0, up.stdout + up.stderr
    files = ("configs/compose.yaml", "compose.devstack.yaml")
    queue = adopted.compose("port", "queue", "6379", files=files).stdout.strip()
    assert queue.startswith("127.0.0.1:"), queue
    environ = {**adopted.environ, "REDIS_URL": f"redis://{queue}"}
    produce = [str(adopted.dir / "packages/queue-worker/produce.js"), "email"]

    def add(prefix: str, count: int) -> None:
        result = subprocess.run(["node", *produce, prefix, str(count)], env=environ, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr

    def processed(prefix: str) -> list[str]:
        out = adopted.compose(
            "exec",
            "-T",
            "db",
            "psql",
            "-U",
            "shop",
            "-d",
            "shop",
            "-At",
            "-c",
            f"select job_id || '|' || processed_by from processed where job_id like '{prefix}-%' order by 1",
            files=files,
        )
        return [line for line in out.stdout.splitlines() if line]

    log = tmp_path / "dev.log"
    with open(log, "w") as out:
        session = subprocess.Popen(
            [*adopted.installed.inv, "dev.worker"],
            cwd=adopted.dir,
            env=adopted.environ,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
    try:
        add("during", 10)
        deadline = 120
        import time

        started = time.monotonic()
        while "[email] ready (dev" not in log.read_text() and session.poll() is None:
            assert time.monotonic() - started < deadline, log.read_text()
            time.sleep(0.2)
        text = log.read_text()
        assert "NODE_ENV=development for the dev worker" in text, text
        while len(processed("during")) < 10:
            assert time.monotonic() - started < deadline, (processed("during"), log.read_text())
            time.sleep(0.5)
    finally:
        session.send_signal(signal.SIGINT)
        code = session.wait(90)
    assert code == 0, log.read_text()
    assert "background worker `email` restored" in log.read_text(), log.read_text()
    rows = processed("during")
    assert len(rows) == 10 and len({row.split("|")[0] for row in rows}) == 10, rows  # each job once
