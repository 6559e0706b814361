"""Integration fixtures: a real Docker engine, real Compose, the built worker app.

Without an engine these tests skip on a developer's machine, but fail under CI=true: CI must never
pass by skipping them.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from .stackenv import ROOT, Stack


def _engine_problem() -> str | None:
    if shutil.which("docker") is None:
        return "the docker CLI is not installed"
    info = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True)
    if info.returncode != 0 or not info.stdout.strip() or "error" in info.stdout.lower():
        return f"no Docker engine answers ({(info.stderr or info.stdout).strip()[:200]})"
    compose = subprocess.run(["docker", "compose", "version", "--short"], capture_output=True, text=True)
    if compose.returncode != 0:
        return "the Docker Compose v2 plugin is missing"
    return None


@pytest.fixture(scope="session")
def engine():
    problem = _engine_problem()
    if problem:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {problem}: integration tests must run against a real engine", pytrace=False)
        pytest.skip(problem)


@pytest.fixture(scope="session")
def built_app(engine):
    """The compiled worker (built once if missing) and its image."""
    main = ROOT / "dist/apps/worker/main.js"
    if not main.is_file():
        subprocess.run(["npm", "run", "build"], cwd=ROOT / "apps/worker", check=True)
    return main


@pytest.fixture(scope="session")
def stop_shapes_image(engine, tmp_path_factory):
    """The image of tests/integration/fixtures/stop-shapes (stopsetup.py), built once per session:
    test_container_stop.py and test_ready.py both run it."""
    from . import stopsetup

    tag = stopsetup.build_image(tmp_path_factory.mktemp("stop-shapes"))
    yield tag
    stopsetup.remove_image()


@pytest.fixture
def stack(tmp_path, built_app):
    s = Stack(tmp_path)
    yield s
    s.down()


@pytest.fixture
def shop(tmp_path, engine):
    """The shop (a pnpm workspace with workers email and sync: shopsetup.py), its own compose project."""
    from .shopsetup import Shop, install_dependencies

    install_dependencies()
    s = Shop(tmp_path)
    yield s
    s.down()


@pytest.fixture
def second_stack(tmp_path_factory, built_app):
    s = Stack(tmp_path_factory.mktemp("second"))
    yield s
    s.down()


@pytest.fixture(scope="session")
def installed(tmp_path_factory):
    """devstack-tasks built as a wheel and installed into a fresh venv outside the checkout (installed.py).

    A build or install that fails skips on a developer's machine (offline, say) and fails under CI=true.
    """
    from tests.conftest import skip_or_fail

    from .installed import build_and_install

    try:
        return build_and_install(tmp_path_factory.mktemp("installed"))
    except RuntimeError as error:
        skip_or_fail(str(error))
