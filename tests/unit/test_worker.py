"""`inv worker.*` (tasks/worker.py) run as task functions with a test config, Docker and Compose faked."""

from __future__ import annotations

import json

import pytest

from tasks import worker
from tasks.drivers import workers
from tasks.drivers.compose import Compose
from tasks.drivers.handover import new_record, read_record, state_dir, write_record
from tasks.knowledge.failures import UserError
from tests import fakes


def test_up_starts_the_worker_behind_its_profile_and_waits_until_ready(tmp_path, gw, capsys):
    stack = fakes.FakeStack(gw, worker="absent")
    worker.up(fakes.context(tmp_path))
    assert gw.in_order(r"^docker compose .* --profile worker up -d worker$", r"^docker inspect devstack-worker-1$")
    assert stack.worker is not None and stack.worker.state == "running"
    assert "worker: ready (its healthcheck passes)" in capsys.readouterr().out  # how it was found ready, said


def test_up_fails_in_one_line_when_the_worker_crashes_at_start(tmp_path, gw):
    stack = fakes.FakeStack(gw, worker="exited")
    assert stack.worker is not None
    stack.worker.health = "unhealthy"
    with pytest.raises(UserError, match="the worker container started but its healthcheck reports unhealthy"):
        worker.up(fakes.context(tmp_path))


@pytest.mark.parametrize("task", [worker.up, worker.restart])
def test_up_and_restart_refuse_during_a_session(tmp_path, gw, task):
    fakes.FakeStack(gw)
    lock = fakes.live_session(tmp_path, gw)
    try:
        with pytest.raises(UserError, match=r"has the queue; worker\.(up|restart) would run two workers on it"):
            task(fakes.context(tmp_path))
    finally:
        lock.release()
    assert not gw.ran(r" (up|restart|start|stop) ")


def test_up_recovers_a_killed_session_first(tmp_path, gw, capsys):
    fakes.FakeStack(gw, worker="exited")
    compose = Compose(workers.one(fakes.context(tmp_path), None), gateway=gw)
    record = new_record(worker_was_running=True)
    record.pid, record.process_started = 999_999_999, 1.0
    write_record(state_dir(compose), record)
    worker.up(fakes.context(tmp_path))
    assert "it ended without restoring the background worker" in capsys.readouterr().out
    assert gw.in_order(r"^docker start devstack-worker-1$", r" up -d worker$")
    assert read_record(state_dir(compose)) is None


def test_down_stops_and_with_rm_removes(tmp_path, gw):
    stack = fakes.FakeStack(gw)
    worker.down(fakes.context(tmp_path), rm=True)
    assert gw.in_order(r"^docker compose .* stop worker$", r"^docker compose .* rm --force worker$")
    assert stack.worker is None


def test_down_failing_says_why_in_one_line(tmp_path, gw):
    fakes.FakeStack(gw)
    gw.on(r" stop worker$", 1, stderr=fakes.DOCKER_DOWN)
    with pytest.raises(UserError, match=r"^stopping the worker service failed: .*Docker"):
        worker.down(fakes.context(tmp_path))


def test_logs_passes_follow_tail_and_since(tmp_path, gw):
    fakes.FakeStack(gw)
    worker.logs(fakes.context(tmp_path), follow=True, tail="5", since="10m")
    assert gw.ran(r"^docker compose .* logs --follow --tail 5 --since 10m worker$")


def test_logs_refuses_a_tail_that_is_not_a_number(tmp_path, gw):
    with pytest.raises(UserError, match="--tail takes a number of lines or `all`"):
        worker.logs(fakes.context(tmp_path), tail="ten")
    assert gw.commands() == []


def test_restart_without_a_container_says_to_start_it(tmp_path, gw):
    fakes.FakeStack(gw, worker="absent")
    with pytest.raises(UserError, match=r"there is no worker container to restart: start it with `inv worker\.up`"):
        worker.restart(fakes.context(tmp_path))
    assert not gw.ran(r" restart ")


def test_restart_restarts_behind_the_profile(tmp_path, gw):
    fakes.FakeStack(gw)
    worker.restart(fakes.context(tmp_path))
    # A restart is a stop (said as worker.down says it: the consumers first) then a start, behind the profile.
    assert gw.in_order(r"^docker compose .* stop worker$", r"^docker compose .* --profile worker start worker$")


def test_status_shows_a_live_session(tmp_path, gw, capsys):
    fakes.FakeStack(gw)
    lock = fakes.live_session(tmp_path, gw)
    try:
        worker.status(fakes.context(tmp_path))
    finally:
        lock.release()
    out = capsys.readouterr().out
    assert "dev worker: running (`inv dev.worker` pid" in out and "comes back when it exits" in out
    assert gw.ran(r"^docker inspect --type container --format ")
    assert not gw.ran(r" (up|start|stop|restart) ")


def test_status_reports_a_killed_session_of_the_old_layout_without_moving_it(tmp_path, gw, capsys):
    """A reader never writes: the old record stays where it is until a recovery path moves it."""
    fakes.FakeStack(gw)
    compose = Compose(workers.one(fakes.context(tmp_path), None), gateway=gw)
    legacy = state_dir(compose).parent
    record = new_record(worker_was_running=True)
    record.pid, record.process_started = 999_999_999, 1.0
    write_record(legacy, record)
    worker.status(fakes.context(tmp_path))
    assert (legacy / "handover.json").is_file() and not state_dir(compose).exists()
    worker.up(fakes.context(tmp_path))  # a recovery path: moves it, restores, clears it
    assert not (legacy / "handover.json").exists() and read_record(state_dir(compose)) is None
    assert "it ended without restoring the background worker" in capsys.readouterr().out


def test_status_asks_docker_ps_of_the_project_once_for_the_view_and_the_redis_port(tmp_path, gw, capsys):
    """worker.status's one `docker ps` serves both the worker's containers and the queue read's
    published ports (tasks/drivers/worker_status.py)."""
    fakes.FakeStack(gw)
    worker.status(fakes.context(tmp_path))
    assert len(gw.commands(r"^docker ps ")) == 1
    [ps] = gw.commands(r"^docker ps ")
    assert "label=com.docker.compose.service=" not in ps  # the project's, filtered here by service
    assert "worker: running" in capsys.readouterr().out


def test_status_json_of_an_unknown_worker_is_one_error_document(tmp_path, gw, capsys):
    fakes.FakeStack(gw)
    with pytest.raises(UserError, match="no worker named 'nope'"):
        worker.status(fakes.context(tmp_path), name="nope", json=True)
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False and "no worker named 'nope'" in doc["error"]
    assert not gw.ran(r"^docker ")
