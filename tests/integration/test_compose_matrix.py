"""The Compose-facing tasks once more per extra Compose version (a second pass of the oldest and newest).

Set `DEVSTACK_COMPOSE_MATRIX` to the Docker config folders of the versions to run, separated like
PATH (`os.pathsep`), each `DIR` or `VERSION=DIR`; `DOCKER_CONFIG=DIR docker compose` must run that
version (`.ci/compose-versions` prints `<version> <dir>` lines for Debian's 2.26.1 and 2.40.3).
`DEVSTACK_COMPOSE_EXPECT` (space-separated versions) names the versions that must be there.

Unset, every test here skips on a developer's machine and fails under `CI=true` (CI sets it). Set under `CI=true`, a listed folder whose Compose does not run, a
version other than the one named, or an expected version not listed fails the test: CI never
passes by skipping a version it claims to test.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass

import pytest

from .othersetup import OtherStack
from .stackenv import ROOT, Stack, wait_for

pytestmark = pytest.mark.docker

MATRIX_VAR = "DEVSTACK_COMPOSE_MATRIX"
EXPECT_VAR = "DEVSTACK_COMPOSE_EXPECT"
IN_CI = os.environ.get("CI", "").lower() == "true"


def _entries() -> list[tuple[str, str]]:
    """(version wanted or "", dir) per entry; expected versions not listed come with dir ""."""
    entries = []
    for raw in os.environ.get(MATRIX_VAR, "").split(os.pathsep):
        item = raw.strip()
        if not item:
            continue
        version, sep, directory = item.partition("=")
        entries.append((version, directory) if sep else ("", item))
    listed = {version for version, _ in entries}
    entries += [(version, "") for version in os.environ.get(EXPECT_VAR, "").split() if version not in listed]
    return entries


ENTRIES = _entries()
PARAMS = [pytest.param(e, id=e[0] or os.path.basename(e[1].rstrip("/")) or "?") for e in ENTRIES] or [
    pytest.param(None, id="unset")
]


def _version_of(directory: str) -> str | None:
    result = subprocess.run(
        ["docker", "compose", "version", "--short"],
        env={**os.environ, "DOCKER_CONFIG": directory},
        capture_output=True,
        text=True,
    )
    return result.stdout.strip().lstrip("v") if result.returncode == 0 else None


@pytest.fixture(params=PARAMS, scope="module")
def docker_config(request, engine):
    entry = request.param
    if entry is None:
        if IN_CI:
            pytest.fail(
                f"CI=true but {MATRIX_VAR} is not set: the Compose matrix would pass by skipping", pytrace=False
            )
        pytest.skip(f"{MATRIX_VAR} is not set: no extra Compose version to test")
    wanted, directory = entry
    problem = None
    if not directory:
        problem = f"Compose {wanted} is expected ({EXPECT_VAR}) but not in {MATRIX_VAR}"
    elif not os.path.isfile(os.path.join(directory, "cli-plugins", "docker-compose")):
        problem = f"{directory}/cli-plugins/docker-compose is missing"
    else:
        found = _version_of(directory)
        if found is None:
            problem = f"`DOCKER_CONFIG={directory} docker compose version` failed"
        elif wanted and found != wanted and not found.startswith(f"{wanted}-"):  # Debian's says 2.26.1-4
            problem = f"DOCKER_CONFIG={directory} runs Compose {found}, not {wanted}"
    if problem:
        if IN_CI:
            pytest.fail(f"CI=true and {MATRIX_VAR} is set, but {problem}", pytrace=False)
        pytest.skip(problem)
    return directory


@dataclass
class MatrixStack(Stack):
    docker_config: str = ""


@pytest.fixture
def stack(tmp_path, built_app, docker_config):
    s = MatrixStack(tmp_path, docker_config=docker_config)
    yield s
    s.down()


def inv(stack: MatrixStack, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return stack.inv(*args, env={"DOCKER_CONFIG": stack.docker_config, **(env or {})})


def test_version_switch_is_detected_by_the_cli_cache(stack):
    first = stack.inv("worker.status")  # the default Compose fills the cache in the same state folder
    assert first.returncode == 0, first.stderr
    default = json.loads((stack.state_dir / "compose-cli.json").read_text())["version"]
    result = inv(stack, "worker.status")
    assert result.returncode == 0, result.stderr
    cached = json.loads((stack.state_dir / "compose-cli.json").read_text())["version"]
    from tasks.knowledge.compose_cli import parse_version

    assert tuple(cached) == parse_version(_version_of(stack.docker_config) or "") != tuple(default)


def test_worker_up_status_down(stack):
    up = inv(stack, "worker.up")
    assert up.returncode == 0, up.stdout + up.stderr
    assert stack.ps() == {"postgres": "running", "redis": "running", "worker": "running"}
    status = inv(stack, "worker.status")
    assert "worker: running" in status.stdout and "restart policy: unless-stopped" in status.stdout
    assert "scheduler:      on" in status.stdout
    down = inv(stack, "worker.down")
    assert down.returncode == 0, down.stderr
    assert stack.ps()["worker"] == "exited"


def test_stack_up_down(stack):
    up = inv(stack, "stack.up")
    assert up.returncode == 0, up.stdout + up.stderr
    assert stack.ps() == {"postgres": "running", "redis": "running", "worker": "running"}
    down = inv(stack, "stack.down")
    assert down.returncode == 0, down.stderr
    assert stack.ps() == {}


def test_dev_worker_handover(stack):
    assert inv(stack, "worker.up").returncode == 0
    log = stack.tmp / "dev.log"
    proc = stack.popen_inv("dev.worker", env={"DOCKER_CONFIG": stack.docker_config}, log=log)
    try:
        wait_for(lambda: "[worker] ready queue=" in log.read_text() or proc.poll() is not None, 90, what="dev worker")
        assert stack.ps()["worker"] == "exited", log.read_text()
        stack.produce("mx", 2)
        assert {by for _, by in stack.wait_rows("mx", 2)} == {"dev"}
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(60)
    assert code == 0, log.read_text()
    assert stack.ps()["worker"] == "running"


def test_config_driven_facts_match_the_default_compose(stack, tmp_path):
    """The same typed facts from this Compose's `config --format json` as from the default one."""
    from tasks.knowledge.stack_config import parse_config

    def facts(env: dict) -> object:
        out = subprocess.run(
            ["docker", "compose", "--env-file", str(stack.env_file), "--profile", "*", "config", "--format", "json"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return parse_config(json.loads(out))

    assert facts({**stack.environ, "DOCKER_CONFIG": stack.docker_config}) == facts(stack.environ)


def test_other_stack_status_and_preflight(tmp_path, built_app, docker_config):
    (tmp_path / "other").mkdir()
    other = OtherStack(tmp_path / "other", docker_config=docker_config)
    try:
        up = other.inv("worker.up")
        assert up.returncode == 0, up.stdout + up.stderr
        status = other.inv("worker.status").stdout
        assert "restart policy: on-failure\n" in status and "scheduler:      on\n" in status
        other.compose("stop", "queue")
        time.sleep(0.2)
        refused = other.inv("dev.worker", env={"INVOKE_APP_DEV": "node -e 0"})
        assert refused.returncode == 1 and "service 'queue'" in refused.stderr
        assert other.states()["jobs"] == "running"
    finally:
        other.down()
