"""`inv setup` (tasks/setup.py) and the lock-file check it shares with doctor, on real files in a tmp
project: a frozen install on a lock file out of step with package.json stops setup in one line, before
anything is installed (it used to run `npm ci` and print its 141 `npm error` lines)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tasks.drivers import workers
from tasks.knowledge.failures import UserError
from tasks.setup import setup as setup_task
from tests import fakes

LOCK = {"name": "app", "lockfileVersion": 3, "packages": {"": {"name": "app", "dependencies": {"bullmq": "6.7.0"}}}}


def project(tmp_path: Path, dependencies: dict[str, str]) -> None:
    app = tmp_path / "app"
    app.mkdir(exist_ok=True)
    (app / "package.json").write_text(json.dumps({"name": "app", "dependencies": dependencies}))
    (app / "package-lock.json").write_text(json.dumps(LOCK))


def test_a_lock_file_out_of_step_is_named_with_the_fix_for_a_frozen_install(tmp_path):
    project(tmp_path, {"bullmq": "6.7.0", "lodash": "^4"})
    s = workers.one(fakes.context(tmp_path, app={"install": "npm ci"}), None)
    problem = workers.lock_out_of_step(s)
    assert problem is not None
    assert problem.startswith("package-lock.json is out of step with package.json (package.json: lodash@^4 is not in")
    assert "so `npm ci` will fail: run `npm install` in app and commit package-lock.json" in problem


def test_in_step_or_an_install_that_updates_the_lock_is_fine(tmp_path):
    project(tmp_path, {"bullmq": "6.7.0"})
    assert workers.lock_out_of_step(workers.one(fakes.context(tmp_path, app={"install": "npm ci"}), None)) is None
    project(tmp_path, {"bullmq": "6.7.0", "lodash": "^4"})
    updating = workers.one(fakes.context(tmp_path, app={"install": "npm install"}), None)
    assert workers.lock_out_of_step(updating) is None


def test_setup_stops_in_one_line_before_installing(tmp_path, gw, monkeypatch):
    project(tmp_path, {"bullmq": "6.7.0", "lodash": "^4"})
    ran: list[str] = []
    monkeypatch.setattr("tasks.drivers.host_app.run_app_command", lambda s, command, what: ran.append(command))
    (tmp_path / ".env.example").write_text("COMPOSE_PROJECT_NAME=devstack\n")
    with fakes.installed(gw), pytest.raises(UserError) as error:
        setup_task(fakes.context(tmp_path, app={"install": "npm ci"}))
    assert error.value.reason.startswith("worker: package-lock.json is out of step with package.json")
    assert error.value.reason.endswith("(nothing installed)")
    assert ran == [] and not gw.ran(r" up ")
