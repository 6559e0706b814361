"""The wheel as an adopter installs it (installed.py): what it holds, and where its tasks find the project.

tests/integration/test_adopt.py drives the whole adoption (adopt, worker.up, doctor, worker.status
--json, prodlike, stack.down) with the same installed package.
"""

from __future__ import annotations

import json
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from tasks import __version__

from . import installed as package
from .stackenv import ROOT

pytestmark = pytest.mark.installed


def test_the_sdist_and_the_wheel_hold_every_file_of_the_package(installed):
    assert installed.wheel.name == f"devstack_tasks-{__version__}-py3-none-any.whl"
    with zipfile.ZipFile(installed.wheel) as wheel:
        shipped = {n.removeprefix("devstack_tasks/") for n in wheel.namelist() if n.startswith("devstack_tasks/")}
        metadata = wheel.read(f"devstack_tasks-{__version__}.dist-info/METADATA").decode()
    source = {
        p.relative_to(ROOT / "tasks").as_posix()
        for p in (ROOT / "tasks").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert source - shipped == set(), "in tasks/ but not in the wheel (pyproject.toml's packages/package-data)"
    assert "py.typed" in shipped and f"\nVersion: {__version__}\n" in metadata
    with tarfile.open(installed.sdist) as sdist:
        top = installed.sdist.name.removesuffix(".tar.gz") + "/"
        packed = {n.removeprefix(f"{top}tasks/") for n in sdist.getnames() if n.startswith(f"{top}tasks/")}
        assert {f"{top}pyproject.toml", f"{top}README.md"} <= set(sdist.getnames())
    assert source - packed == set(), "in tasks/ but not in the sdist"


def test_the_installed_tasks_find_the_project_from_its_tasks_py(installed, tmp_path):
    """Run from a subfolder, with the package in site-packages: .env is the one beside tasks.py."""
    project = tmp_path / "project"
    (project / "deep/er").mkdir(parents=True)
    (project / "tasks.py").write_text(package.adopters_tasks_py())
    (project / ".env").write_text("A=1\nB=2\n")
    (project / ".env.example").write_text("A=\nB=\n")

    def inv(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*installed.inv, *args],
            cwd=project / "deep/er",
            env=package.environ(),
            capture_output=True,
            text=True,
            timeout=300,
            stdin=subprocess.DEVNULL,
        )

    listed = inv("--list")
    assert listed.returncode == 0 and "worker.up" in listed.stdout and "doctor" in listed.stdout, listed.stderr
    check = inv("env.check", "--json")
    facts = json.loads(check.stdout)
    assert check.returncode == 0 and facts["keys"] == 2 and facts["missing"] == [], check.stdout + check.stderr
    where = inv("doctor", "--json")  # the engine's lines do not matter here, the version does
    assert json.loads(where.stdout)["devstack_version"] == __version__, where.stdout + where.stderr
    doctor = inv("doctor")
    site = Path(installed.venv).resolve()
    assert doctor.stdout.startswith(f"devstack-tasks {__version__} ({site}/"), doctor.stdout + doctor.stderr
    assert "devstack_tasks)" in doctor.stdout.splitlines()[0]
