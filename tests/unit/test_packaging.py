"""pyproject.toml's package list and data against the folder tasks/, the version's single source, and
how the collection finds the project root (Invoke's record of the loaded tasks.py's folder).

The built wheel itself is checked by tests/integration/test_installed.py.
"""

from __future__ import annotations

import fnmatch
import importlib
import subprocess
import sys
from pathlib import Path

from invoke.config import Config

import tasks
from tasks._version import __version__
from tasks.knowledge.defaults import DEFAULTS
from tasks.knowledge.settings import PROJECT_ROOT, Settings, project_root

# tomllib from 3.11; its backport on 3.10 (a test dependency there). Imported by name: mypy checks for 3.10.
toml = importlib.import_module("tomllib" if sys.version_info >= (3, 11) else "tomli")
ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = toml.loads((ROOT / "pyproject.toml").read_text())
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
PACKAGE = "devstack_tasks"


def _installed_name(folder: Path) -> str:
    return ".".join([PACKAGE, *folder.relative_to(ROOT / "tasks").parts])


def test_the_package_folder_is_installed_as_devstack_tasks():
    assert SETUPTOOLS["package-dir"] == {PACKAGE: "tasks"}
    assert PYPROJECT["project"]["name"] == "devstack-tasks"


def test_every_subpackage_is_in_the_package_list():
    """Every folder holding Python: knowledge/ and drivers/ have no __init__.py (namespace packages)."""
    folders = {_installed_name(p.parent) for p in (ROOT / "tasks").rglob("*.py") if "__pycache__" not in p.parts}
    assert {PACKAGE, f"{PACKAGE}.drivers", f"{PACKAGE}.knowledge"} <= folders  # the walk found them
    assert set(SETUPTOOLS["packages"]) == folders


def test_every_file_that_is_not_python_is_package_data():
    """A data file the code opens from its own package (py.typed, a runner script) ships with it."""
    data: dict[str, list[str]] = SETUPTOOLS["package-data"]
    assert "py.typed" in data[PACKAGE] and "runner/*.mjs" in data[PACKAGE]
    assert (ROOT / "tasks/py.typed").is_file()
    for path in (ROOT / "tasks").rglob("*"):
        if not path.is_file() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts:
            continue
        # package-data globs are relative to their package: try each package above the file.
        rel = path.relative_to(ROOT / "tasks")
        covered = any(
            fnmatch.fnmatch(rel.relative_to(*rel.parts[:depth]).as_posix() if depth else rel.as_posix(), pattern)
            for depth in range(len(rel.parts))
            for pattern in data.get(".".join([PACKAGE, *rel.parts[:depth]]), [])
        )
        assert covered, f"tasks/{rel.as_posix()} is not in [tool.setuptools.package-data]"


def test_the_version_has_one_source():
    assert "version" not in PYPROJECT["project"] and PYPROJECT["project"]["dynamic"] == ["version"]
    assert SETUPTOOLS["dynamic"]["version"] == {"attr": f"{PACKAGE}._version.__version__"}
    assert tasks.__version__ == __version__ == "0.2.0"


def test_invoke_records_the_folder_of_the_loaded_tasks_py(tmp_path):
    """Pins Invoke's private ``_project_prefix`` (2.2 to 3.0.3): from a subfolder, the root is tasks.py's folder."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "mytasks.py").write_text(
        "from invoke import task\n"
        "from tasks.knowledge.settings import project_root\n\n\n"
        "@task\n"
        "def where(c):\n"
        "    print(project_root(c.config))\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "invoke", "-c", "mytasks", "where"],
        cwd=tmp_path / "sub",
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(tmp_path.resolve())


def test_a_config_with_a_project_location_gives_that_root(tmp_path):
    config = Config(defaults=DEFAULTS)
    config.set_project_location(str(tmp_path))
    assert project_root(config) == tmp_path.resolve() == project_root(config.clone())
    assert Settings.from_config(config).env_example == tmp_path.resolve() / ".env.example"


def test_without_a_project_location_the_checkout_when_its_tasks_py_is_there():
    assert (PROJECT_ROOT / "tasks.py").is_file()
    assert project_root(Config(defaults=DEFAULTS)) == PROJECT_ROOT == project_root({})
    assert Settings.from_config({}).root == PROJECT_ROOT
