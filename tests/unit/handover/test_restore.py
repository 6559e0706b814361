"""The one restore (tasks/drivers/handover/restore.py): the order of its ways back, and the recovery of a
killed session by the next command, with a fake gateway and a real leftover dev worker."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tasks.drivers import workers
from tasks.drivers.compose import Compose
from tasks.drivers.handover import SessionLock, new_record, read_record, state_dir, write_record
from tasks.drivers.handover.restore import give_back, recover_stale
from tasks.knowledge.failures import UserError
from tests import fakes

DOCKER_START = r"^docker start devstack-worker-1$"
COMPOSE_START = r"^docker compose .* start worker$"
UP = r"^docker compose .* up -d worker$"
#: A command that needs the engine: anything but Compose reading the files (config, version).
ENGINE = r"^docker (?!compose .*(config|version))"


def compose_for(tmp_path: Path, gw: fakes.FakeGateway) -> Compose:
    return Compose(workers.one(fakes.context(tmp_path), None), gateway=gw)


def killed_session(compose: Compose, *, dev_pid: int | None = None, worker_was_running: bool = True) -> None:
    """The record a session leaves when `inv` is killed (its pid gone, its lock free)."""
    record = new_record(worker_was_running=worker_was_running)
    record.pid, record.process_started = 999_999_999, 1.0
    if dev_pid is not None:
        record.dev_pid, record.dev_started = dev_pid, psutil.Process(dev_pid).create_time()
    write_record(state_dir(compose), record)


def test_give_back_falls_from_docker_start_to_compose_start_to_up(tmp_path):
    gw = fakes.FakeGateway()
    stack = fakes.FakeStack(gw, worker="exited")
    gw.on(DOCKER_START, 1, stderr="Error response from daemon: driver failed programming external connectivity")
    gw.script(COMPOSE_START, (1, "", "service worker has no container to start"))  # once, then as usual
    assert give_back(compose_for(tmp_path, gw)) is None
    assert gw.in_order(DOCKER_START, COMPOSE_START, UP)
    assert give_back(compose_for(tmp_path, gw)) is None  # the second time `compose start` works
    assert len(gw.commands(UP)) == 1 and len(gw.commands(COMPOSE_START)) == 2
    assert stack.worker is not None and stack.worker.state == "running"


def test_give_back_says_why_the_worker_is_not_ready(tmp_path):
    gw = fakes.FakeGateway()
    stack = fakes.FakeStack(gw, worker="exited")
    assert stack.worker is not None
    stack.worker.health = "unhealthy"
    assert give_back(compose_for(tmp_path, gw)) == "its healthcheck reports unhealthy"
    assert gw.ran(r"^docker compose .* logs --no-color --tail 20 worker$")  # its last lines shown


def test_the_next_command_recovers_a_killed_session_and_its_leftover_dev_worker(tmp_path, capsys):
    gw = fakes.FakeGateway()
    stack = fakes.FakeStack(gw, worker="exited")  # the killed session had stopped it
    compose = compose_for(tmp_path, gw)
    leftover = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        killed_session(compose, dev_pid=leftover.pid)
        assert recover_stale(compose) is True
        assert leftover.wait(10) is not None  # terminated (SIGTERM), not left to compete for the queue
    finally:
        leftover.kill()
    out = capsys.readouterr().out
    assert "note: a dev.worker session (pid 999999999, since " in out
    assert "was killed; stopped its leftover dev worker; it ended without restoring the background worker" in out
    assert "note: background worker restored" in out
    assert gw.ran(DOCKER_START) and stack.worker is not None and stack.worker.state == "running"
    assert read_record(state_dir(compose)) is None


def test_recovery_that_cannot_restore_keeps_the_record_for_the_next_try(tmp_path):
    gw = fakes.FakeGateway()
    fakes.FakeStack(gw, worker="exited").engine_down()
    compose = compose_for(tmp_path, gw)
    killed_session(compose)
    with pytest.raises(UserError, match=r"could not restore the background worker .*the next inv command also retries"):
        recover_stale(compose)
    record = read_record(state_dir(compose))
    assert record is not None and record.restore_pending


def test_recovery_with_nothing_to_restore_only_clears_the_record(tmp_path, capsys):
    gw = fakes.FakeGateway()
    fakes.FakeStack(gw, worker="exited")
    compose = compose_for(tmp_path, gw)
    killed_session(compose, worker_was_running=False)
    assert recover_stale(compose) is True
    assert gw.commands(ENGINE) == []  # the engine not asked (Compose read the files for the project name)
    assert "was killed" in capsys.readouterr().out and read_record(state_dir(compose)) is None


def test_a_live_session_is_not_recovered(tmp_path):
    gw = fakes.FakeGateway()
    fakes.FakeStack(gw)
    compose = compose_for(tmp_path, gw)
    killed_session(compose)
    lock = SessionLock(state_dir(compose))
    lock.acquire()
    try:
        assert recover_stale(compose) is False
    finally:
        lock.release()
    assert gw.commands(ENGINE) == [] and read_record(state_dir(compose)) is not None


def test_recovery_waits_for_the_killed_sessions_stop_before_it_starts_the_worker(tmp_path, capsys):
    """The dead session's `compose stop` still runs (a stand-in that ends after 0.5 s): nothing is
    started before it ends, else the stop would stop the worker just brought back."""
    import time

    gw = fakes.FakeGateway()
    stack = fakes.FakeStack(gw, worker="exited")
    compose = compose_for(tmp_path, gw)
    killed_session(compose)
    stop = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.5)"])
    record = read_record(state_dir(compose))
    assert record is not None
    record.stop_pid, record.stop_started = stop.pid, psutil.Process(stop.pid).create_time()
    write_record(state_dir(compose), record)
    begin = time.monotonic()
    try:
        assert recover_stale(compose) is True
        assert stop.poll() is not None  # it ended on its own (waited for, not killed)
        assert stop.returncode == 0 and time.monotonic() - begin >= 0.4
    finally:
        stop.kill()
        stop.wait()
    out = capsys.readouterr().out
    assert f"the killed session's stop of the background worker (pid {stop.pid}) is still running" in out
    assert out.index("has finished") < out.index("note: restoring the background worker ...")
    assert stack.worker is not None and stack.worker.state == "running"


def test_a_stop_that_never_got_its_pid_recorded_is_found_by_its_command_line(tmp_path):
    """Killed between starting its stop and recording the pid: the stop is found by the argv and
    time the session recorded before it ran it."""
    import time

    from tasks.drivers.handover.restore import stop_process

    gw = fakes.FakeGateway()
    fakes.FakeStack(gw, worker="exited")
    compose = compose_for(tmp_path, gw)
    killed_session(compose)
    record = read_record(state_dir(compose))
    assert record is not None
    argv = [sys.executable, "-c", "import time; time.sleep(30)"]
    record.stop_argv, record.stop_since = argv, time.time()
    stop = subprocess.Popen(argv)
    try:
        found = None
        deadline = time.monotonic() + 10
        while found is None and time.monotonic() < deadline:
            found = stop_process(record)
            time.sleep(0.02)
        assert found is not None and found.pid == stop.pid
        record.stop_since += 60  # a process older than the session's stop is not it
        assert stop_process(record) is None
    finally:
        stop.kill()
        stop.wait()


def test_the_guardians_check_keeps_the_record_until_the_worker_serves(tmp_path):
    gw = fakes.FakeGateway()
    fakes.FakeStack(gw, worker="exited")
    compose = compose_for(tmp_path, gw)
    killed_session(compose)
    with pytest.raises(UserError, match=r"does not serve its queue yet \(no BullMQ worker of its container"):
        recover_stale(compose, confirm=lambda: "no BullMQ worker of its container is connected to Redis yet")
    assert read_record(state_dir(compose)) is not None  # retried by the guardian; a new command retries too
    assert recover_stale(compose, confirm=lambda: None) is True
    assert read_record(state_dir(compose)) is None


def killed_session_with_aside(compose: Compose, *, cancelled: str | None = None) -> None:
    """A killed session that had stopped the worker and `mailer`, which stepped aside with it."""
    record = new_record(worker_was_running=True)
    record.pid, record.process_started = 999_999_999, 1.0
    record.aside, record.cancelled_by = ["mailer"], cancelled
    write_record(state_dir(compose), record)


def test_recovery_starts_the_services_that_stepped_aside_with_the_worker_and_names_them(tmp_path, capsys):
    gw = fakes.FakeGateway()
    stack = fakes.FakeStack(gw, worker="exited", others=("mailer",))
    stack.containers["mailer"].state = "exited"
    compose = compose_for(tmp_path, gw)
    killed_session_with_aside(compose)
    assert recover_stale(compose) is True
    out = capsys.readouterr().out
    assert "it ended without restoring the background worker and 'mailer'" in out
    assert "note: restoring the background worker and 'mailer' ..." in out
    assert "note: background worker restored, and 'mailer' with it" in out
    assert gw.in_order(DOCKER_START, r"^docker start devstack-mailer-1$")
    assert stack.containers["mailer"].state == "running" and read_record(state_dir(compose)) is None


def test_a_service_that_stepped_aside_and_cannot_start_is_named_with_why(tmp_path, capsys):
    gw = fakes.FakeGateway()
    stack = fakes.FakeStack(gw, worker="exited", others=("mailer",))
    del stack.containers["mailer"]  # removed during the session
    compose = compose_for(tmp_path, gw)
    killed_session_with_aside(compose)
    assert recover_stale(compose) is True
    out = capsys.readouterr().out
    assert (
        "background worker restored; 'mailer' is not back (its container was removed during the session: "
        "`docker compose up -d mailer`)"
    ) in out


def test_worker_down_during_the_session_leaves_the_worker_down_but_gives_back_what_stepped_aside(tmp_path, capsys):
    gw = fakes.FakeGateway()
    stack = fakes.FakeStack(gw, worker="exited", others=("mailer",))
    stack.containers["mailer"].state = "exited"
    compose = compose_for(tmp_path, gw)
    killed_session_with_aside(compose, cancelled="inv worker.down")
    assert recover_stale(compose) is True
    out = capsys.readouterr().out
    assert "it ended without restoring 'mailer'" in out
    assert "note: 'mailer' back (stepped aside with the background worker)" in out
    assert stack.containers["worker"].state == "exited" and stack.containers["mailer"].state == "running"
    assert not gw.ran(DOCKER_START)
