"""The cache of `docker compose config`: a hit re-reads nothing, every dependency invalidates it.

Runs the real Compose CLI (`config` needs no engine); skipped where Compose is not installed, failed for it under CI=true.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tasks.drivers import stack_facts
from tasks.drivers.compose import Compose
from tasks.knowledge.defaults import DEFAULTS
from tasks.knowledge.settings import Settings
from tests.conftest import skip_or_fail

COMPOSE_FILE = """services:
  app:
    image: ${APP_IMAGE:-busybox}
    environment:
      GREETING: ${GREETING:-hello}
"""


def compose_available() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0


@pytest.fixture(autouse=True)
def _compose_cli():
    if not compose_available():
        skip_or_fail("the Docker Compose CLI is not installed")


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "docker-compose.yml").write_text(COMPOSE_FILE)
    (tmp_path / ".env").write_text("GREETING=hi\n")
    for name in ("GREETING", "APP_IMAGE", "COMPOSE_FILE", "COMPOSE_PROJECT_NAME"):
        monkeypatch.delenv(name, raising=False)
    config = {**DEFAULTS, "state": {"dir": str(tmp_path / "state")}}
    return tmp_path, lambda: Compose(Settings.from_config(config, root=tmp_path), require_env=False)


def greeting(compose: Compose) -> str:
    return str(stack_facts.load(compose).services["app"].environment["GREETING"])


def calls_to_compose(monkeypatch) -> list[tuple[str, ...]]:
    calls: list[tuple[str, ...]] = []
    real = Compose.run

    def counting(self, *args, **kwargs):
        calls.append(args)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Compose, "run", counting)
    return calls


def test_a_hit_asks_compose_nothing_and_parses_no_yaml(project, monkeypatch):
    root, make = project
    assert greeting(make()) == "hi"
    calls = calls_to_compose(monkeypatch)
    monkeypatch.setattr(stack_facts, "raw_files", lambda _c: pytest.fail("a cache hit must not parse the YAML"))
    assert greeting(make()) == "hi"
    assert calls == []


def test_the_env_file_a_compose_file_and_a_variable_each_invalidate_it(project, monkeypatch):
    root, make = project
    assert greeting(make()) == "hi"
    calls = calls_to_compose(monkeypatch)

    env_file: Path = root / ".env"
    env_file.write_text("GREETING=changed\n")
    assert greeting(make()) == "changed"

    compose_file = root / "docker-compose.yml"
    compose_file.write_text(COMPOSE_FILE.replace("${GREETING:-hello}", "fixed"))
    assert greeting(make()) == "fixed"

    compose_file.write_text(COMPOSE_FILE)
    monkeypatch.setenv("GREETING", "from the shell")  # the shell wins over .env, as in Compose
    assert greeting(make()) == "from the shell"

    monkeypatch.setenv("UNRELATED_VARIABLE", "x")  # not interpolated anywhere: still a hit
    assert greeting(make()) == "from the shell"
    assert sum(1 for args in calls if args[:1] == ("config",)) == 3


def test_an_override_or_env_file_appearing_later_invalidates_it(project):
    root, make = project
    (root / ".env").unlink()
    assert greeting(make()) == "hello"  # no .env and no .env.example: Compose needs none

    (root / ".env").write_text("GREETING=from a new .env\n")
    assert greeting(make()) == "from a new .env"

    (root / "docker-compose.override.yml").write_text("services:\n  app:\n    environment:\n      GREETING: over\n")
    assert greeting(make()) == "over"

    (root / "docker-compose.override.yml").unlink()
    assert greeting(make()) == "from a new .env"


def test_the_project_name_is_the_one_compose_resolved(project):
    root, make = project
    sub = root / "infra" / "docker"
    sub.mkdir(parents=True)
    (sub / "docker-compose.yml").write_text(COMPOSE_FILE)
    config = {
        **DEFAULTS,
        "compose": {**DEFAULTS["compose"], "files": "infra/docker/docker-compose.yml"},
        "state": {"dir": str(root / "state")},
    }

    def compose() -> Compose:
        return Compose(Settings.from_config(config, root=root), require_env=False)

    assert compose().project_name == "docker"  # the first file's folder, not the checkout's
    (sub / ".env").write_text("COMPOSE_PROJECT_NAME=chosen_name\nGREETING=sub\n")
    assert compose().project_name == "chosen_name"
    assert greeting(compose()) == "sub"  # the .env beside the file, not the root's
