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


def test_a_started_command_runs_at_once_beside_the_next_and_answers_once(tmp_path):
    """`Gateway.start` (tasks/drivers/process.py `start`): the command runs from the call on, not when
    its result is asked. The first waits for a file only the second writes; asked first, it still
    finds it, which it could not if each ran when asked (it would give up after 10 s and exit 1)."""
    flag = tmp_path / "flag"
    waits = (
        "import pathlib, sys, time\n"
        "end = time.monotonic() + 10\n"
        "while not pathlib.Path(sys.argv[1]).exists():\n"
        "    if time.monotonic() > end: sys.exit(1)\n"
        "    time.sleep(0.01)\n"
        "print('found'); print('on stderr', file=sys.stderr); sys.exit(3)\n"
    )
    real = gateway.Gateway()
    first = real.start([sys.executable, "-c", waits, str(flag)])
    second = real.start([sys.executable, "-c", "import pathlib, sys; pathlib.Path(sys.argv[1]).touch()", str(flag)])
    result = first.result()
    assert (result.returncode, result.stdout, result.stderr) == (3, "found\n", "on stderr\n")
    assert first.result() is result and second.result().ok


def test_a_fake_gateway_answers_a_started_command_when_it_starts():
    fake = fakes.FakeGateway().on(r"^docker ps$", stdout="listed\n")
    started = fake.start(["docker", "ps"])
    assert fake.commands() == ["docker ps"] and started.result().stdout == "listed\n"
