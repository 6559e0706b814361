"""The gateway (tasks/drivers/gateway.py): the real one runs argv lists; a test installs a fake for the tasks."""

from __future__ import annotations

import sys

from tasks.drivers import gateway, workers
from tasks.drivers.compose import Compose
from tests import fakes


def test_the_real_gateway_runs_argv_without_a_shell():
    result = gateway.Gateway().run([sys.executable, "-c", "import sys; print(sys.argv[1])", "$HOME;|x"], capture=True)
    assert result.ok and result.stdout == "$HOME;|x\n"


def test_an_installed_fake_reaches_every_compose_the_tasks_build(tmp_path):
    fake = fakes.FakeGateway()
    settings = workers.one(fakes.context(tmp_path), None)
    with fakes.installed(fake):
        assert Compose(settings).gateway is fake
    assert isinstance(Compose(settings).gateway, gateway.Gateway) and Compose(settings).gateway is not fake


def test_strict_fake_fails_on_an_unscripted_command():
    fake = fakes.FakeGateway(strict=True)
    try:
        fake.docker("ps")
    except AssertionError as error:
        assert "unexpected command: docker ps" in str(error)
    else:
        raise AssertionError("an unscripted command passed")
    assert fake.commands() == ["docker ps"]


def test_a_command_that_must_outlive_inv_tells_its_pid_and_is_captured_through_files():
    """The handover's `compose stop` (tasks/drivers/process.py `_run_outliving`): its pid is told as
    soon as it runs; its output is read back from files (no pipe it could die on if inv is killed)."""
    import sys

    from tasks.drivers import process

    pids: list[int] = []
    code = "import os, sys; print(os.getpid()); print('to stderr', file=sys.stderr); sys.exit(3)"
    result = process.run([sys.executable, "-c", code], capture=True, started=pids.append)
    assert result.returncode == 3
    assert pids and result.stdout.strip() == str(pids[0])
    assert result.stderr.strip() == "to stderr"
