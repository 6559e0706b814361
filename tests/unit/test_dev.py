"""`inv dev.worker` (tasks/dev.py) run as a task function with a test config, Docker and Compose faked.
The sequence's branches are in tests/unit/handover/test_session.py; here, what the task adds."""

from __future__ import annotations

import pytest
from invoke.context import Context
from invoke.exceptions import Exit

from tasks import dev
from tasks.knowledge.failures import UserError
from tests import fakes


@pytest.fixture(autouse=True)
def every_address_answers(monkeypatch):
    """No engine here, so no published port answers: every address the dev worker dials is taken to
    answer (the refusal of one that does not is tested against the real engine)."""
    monkeypatch.setattr("tasks.drivers.dev_preflight.answers", lambda host, port, *args, **kwargs: True)


def test_a_second_session_for_the_same_worker_is_refused(tmp_path, gw):
    fakes.FakeStack(gw)
    lock = fakes.live_session(tmp_path, gw)
    try:
        with pytest.raises(
            UserError, match=r"a dev worker for worker is already running \(pid \d+, since .*stop it first"
        ):
            dev.worker(fakes.context(tmp_path))
    finally:
        lock.release()
    assert not gw.ran(r" (stop|start) ")


def test_the_dev_commands_exit_code_is_the_tasks(tmp_path, gw):
    fakes.FakeStack(gw)
    with pytest.raises(Exit) as ended:
        dev.worker(fakes.context(tmp_path, dev=fakes.dev_command("raise SystemExit(3)")))
    assert ended.value.code == 3
    assert gw.in_order(r" stop worker$", r"^docker start devstack-worker-1$")


def test_a_missing_app_folder_is_refused_before_docker_is_asked(tmp_path, gw):
    fakes.FakeStack(gw)
    with pytest.raises(UserError, match=r"the app folder .* does not exist"):
        dev.worker(fakes.context(tmp_path, app={"dir": str(tmp_path / "nowhere")}))
    assert not gw.ran(r"^docker ps ")


def test_without_a_name_the_session_says_which_of_several_workers_it_took(tmp_path, gw, capsys):
    fakes.FakeStack(gw)
    config = fakes.task_config(tmp_path, dev=fakes.dev_command("raise SystemExit(0)"))
    app = {"dir": str(tmp_path / "app"), "build_mode": "none", "dev": fakes.dev_command("raise SystemExit(0)")}
    config.load_overrides(
        {
            **config._overrides,
            "workers": [
                {"name": "worker", "service": "worker", "profile": "worker", **app},
                {"name": "mailer", "service": "mailer", "profile": "worker", **app},
            ],
        }
    )
    dev.worker(Context(config=config))
    out = capsys.readouterr().out
    assert "no worker named: taking the first, worker (also configured: mailer; `inv dev.worker NAME`" in out
