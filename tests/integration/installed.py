"""The package as an adopter gets it: an sdist and a wheel built from this checkout, installed into a fresh virtual
environment outside the source tree, loaded by an adopter's `tasks.py` (the one docs/adopting.md shows).

`python -m build` makes the sdist, then the wheel from that sdist (so a file missing from either
shows), from a clean copy of the checkout's build inputs (pyproject.toml, README.md, tasks.py,
tasks/), not in place: setuptools would otherwise reuse a stale build/ or egg-info and could ship a
file the package list no longer names. Build and runtime dependencies come from the package index.
A module left out of pyproject.toml's package list is missing from the wheel, so `inv` fails to
import the collection and the tests marked `installed` fail.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .stackenv import ROOT

ADOPTING = ROOT / "docs/adopting.md"
BUILD_INPUTS = ("pyproject.toml", "README.md", "tasks.py", "tasks")


@dataclass(frozen=True)
class Installed:
    sdist: Path
    wheel: Path
    venv: Path

    @property
    def python(self) -> Path:
        return self.venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")

    @property
    def inv(self) -> list[str]:
        return [str(self.python), "-m", "invoke"]


def adopters_tasks_py() -> str:
    """The `tasks.py` docs/adopting.md tells an adopter to write (its python block importing the package)."""
    blocks = re.findall(r"```python\n(.*?)```", ADOPTING.read_text(), re.S)
    found = [b for b in blocks if "from devstack_tasks import ns" in b]
    assert found, "docs/adopting.md shows no tasks.py importing devstack_tasks"
    return found[0]


def _run(argv: list[str], what: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed ({' '.join(argv)}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


def build_and_install(tmp: Path) -> Installed:
    """Build the wheel and install it (with its dependencies) into a new venv under ``tmp``."""
    assert not tmp.resolve().is_relative_to(ROOT), f"{tmp} is inside the checkout"
    source = tmp / "source"
    source.mkdir()
    for name in BUILD_INPUTS:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / name, source / name)
    out = tmp / "wheels"
    _run([sys.executable, "-m", "build", "--outdir", str(out), str(source)], "building the sdist and the wheel")
    wheels = sorted(out.glob("devstack_tasks-*.whl"))
    sdists = sorted(out.glob("devstack_tasks-*.tar.gz"))
    assert len(wheels) == len(sdists) == 1, sorted(out.iterdir())
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], "creating the venv")
    installed = Installed(sdist=sdists[0], wheel=wheels[0], venv=venv)
    _run([str(installed.python), "-m", "pip", "install", "--quiet", str(wheels[0])], "installing the wheel")
    return installed


def environ() -> dict[str, str]:
    """The caller's environment without anything that would let the checkout leak into the venv's Python."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
