"""Every branch of `inv dev.worker`'s sequence (tasks/drivers/handover/session.py), with a fake gateway.

Docker and Compose are the scripted `FakeGateway`/`FakeStack` of tests/fakes.py (argv asserted); the
dev worker is a real tiny Python child (`sys.executable -c ...`), so its start, exit code and process
group are real.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from tasks.drivers import workers
from tasks.drivers.compose import Compose
from tasks.drivers.handover import SessionLock, read_record, state_dir
from tasks.drivers.handover.session import DevSession
from tasks.knowledge.failures import UserError
from tasks.knowledge.prodlike_labels import labels as prodlike_labels
from tasks.knowledge.prodlike_plan import make_plan
from tests import fakes

STOP = r"^docker compose .* stop worker$"
DOCKER_START = r"^docker start devstack-worker-1$"
COMPOSE_START = r"^docker compose .* start worker$"
UP = r"^docker compose .* up -d worker$"
#: A dev worker that ends with code 3 before writing its ready file.
DIES_AT_START = fakes.dev_command("raise SystemExit(3)")


def session_for(tmp_path: Path, gw: fakes.FakeGateway, **config: Any) -> DevSession:
    compose = Compose(workers.one(fakes.context(tmp_path, **config), None), gateway=gw)
    return DevSession(compose, scheduler=True)


def assert_left_clean(session: DevSession) -> None:
    """No record left behind, the lock free, the dev worker gone."""
    assert read_record(session.directory) is None
    assert not SessionLock(session.directory).held_by_someone()
    assert session.child.proc is None or session.child.exited()


def during_session(session: DevSession, action: Any) -> None:
    """Run ``action`` while the dev worker runs (before the session waits for it to end)."""
    wait = session._wait_child

    def wait_child() -> int:
        action()
        return wait()

    session._wait_child = wait_child  # type: ignore[method-assign]


def test_gated_session_stops_the_background_worker_once_the_dev_worker_is_ready(tmp_path, capsys):
    gw = fakes.FakeGateway()
    stack = fakes.FakeStack(gw)
    session = session_for(tmp_path, gw, dev=fakes.GATED_CHILD, start_gate=True)
    assert session.run() == 0
    out = capsys.readouterr().out
    assert gw.in_order(r"^docker ps -a .*service=worker", STOP, DOCKER_START, r"^docker inspect devstack-worker-1$")
    assert not gw.ran(COMPOSE_START) and not gw.ran(UP)
    assert "keeps the queue until it is ready" in out and "stopping the background worker" in out
    assert "background worker restored" in out
    assert stack.worker is not None and stack.worker.state == "running"
    assert_left_clean(session)


def test_plain_session_stops_first_then_starts_the_dev_worker(tmp_path, capsys):
    gw = fakes.FakeGateway()
    fakes.FakeStack(gw)
    session = session_for(tmp_path, gw)
    seen: list[str] = []
    gw.on(STOP, effect=lambda argv: seen.append(f"stop while child started: {session.child.proc is not None}"))
    assert session.run() == 0
    assert seen == ["stop while child started: False"]  # stopped before the dev worker existed
    assert gw.in_order(STOP, DOCKER_START)
    assert "background worker restored" in capsys.readouterr().out
    assert_left_clean(session)


def test_a_restarting_worker_is_stopped_and_its_state_said_when_it_is_not_ready_again(tmp_path, capsys):
    gw = fakes.FakeGateway()
    stack = fakes.FakeStack(gw, worker="restarting")
    session = session_for(tmp_path, gw)

    def comes_back_unhealthy(argv: list[str]) -> None:
        assert stack.worker is not None
        stack.worker.state, stack.worker.health = "running", "unhealthy"

    gw.on(DOCKER_START, effect=comes_back_unhealthy)
    assert session.run() == 0
    out = capsys.readouterr().out
    assert "stopping the background worker (it was restarting)" in out
    assert "is back but not ready (it was restarting before this session): its healthcheck reports unhealthy" in out
    assert_left_clean(session)  # it is back: nothing left to retry


@pytest.mark.parametrize("worker", ["absent", "exited"])
def test_no_running_background_worker_is_neither_stopped_nor_started(tmp_path, capsys, worker):
    gw = fakes.FakeGateway()
    fakes.FakeStack(gw, worker=worker)
    session = session_for(tmp_path, gw)
    assert session.run() == 0
    assert not gw.ran(STOP) and not gw.ran(DOCKER_START) and not gw.ran(COMPOSE_START) and not gw.ran(UP)
    assert "the background worker was not running before; leaving it stopped" in capsys.readouterr().out
    assert_left_clean(session)


def test_unreadable_worker_state_refuses_and_touches_nothing(tmp_path):
    """Issue 18.1: `docker ps` failing must not start a dev worker beside a possibly running one."""
    gw = fakes.FakeGateway()
    fakes.FakeStack(gw)
    gw.on(r"^docker ps ", 1, stderr=fakes.DOCKER_DOWN)
    session = session_for(tmp_path, gw)
    with pytest.raises(UserError) as refused:
        session.run()
    assert refused.value.reason.startswith("cannot tell whether the background worker is running (docker ps failed")
    assert refused.value.reason.endswith("not starting a dev worker beside it")
    assert "\n" not in refused.value.reason
    assert session.child.proc is None  # no dev worker started
    assert gw.commands(r"^docker (ps|compose .*(config|ps))") == gw.commands()[1:]  # only reads: no stop, no start
    assert not (session.directory / "handover.json").exists()
    SessionLock(session.directory).acquire()  # released: the next session may run


def test_stop_failing_ends_the_dev_worker_and_keeps_the_queue_with_the_background_worker(tmp_path, capsys):
    gw = fakes.FakeGateway()
    stack = fakes.FakeStack(gw)
    gw.on(STOP, 1, stderr=fakes.DOCKER_DOWN)
    session = session_for(tmp_path, gw, dev=fakes.GATED_CHILD, start_gate=True)
    with pytest.raises(UserError, match=r"could not stop the background worker .*not running a second worker"):
        session.run()
    out = capsys.readouterr().out
    assert "stopping the dev worker" in out  # it waited at the gate: ended, never given the queue
    assert not session.gate.exists()
    assert session.child.exited()
    assert stack.worker is not None and stack.worker.state == "running"
    assert_left_clean(session)


def test_dev_worker_dying_before_ready_never_touches_the_background_worker(tmp_path, capsys):
    gw = fakes.FakeGateway()
    fakes.FakeStack(gw)
    session = session_for(tmp_path, gw, dev=DIES_AT_START, start_gate=True)
    assert session.run() == 3
    out = capsys.readouterr().out
    assert not gw.ran(STOP) and not gw.ran(DOCKER_START)
    assert "the dev worker ended before it was ready; the background worker was not touched" in out
    assert "the background worker was never stopped; it kept the queue" in out
    assert_left_clean(session)


def test_interrupted_during_the_stop_the_dev_worker_never_starts_and_the_worker_comes_back(tmp_path, capsys):
    gw = fakes.FakeGateway()
    fakes.FakeStack(gw)
    session = session_for(tmp_path, gw)
    # Ctrl+C arriving while `compose stop` runs: the forwarding handler records it.
    gw.on(STOP, effect=lambda argv: session.child.received.append(signal.SIGINT))
    assert session.run() == 128 + signal.SIGINT
    out = capsys.readouterr().out
    assert session.child.proc is None
    assert "interrupted before the dev worker started" in out and "background worker restored" in out
    assert gw.in_order(STOP, DOCKER_START)
    assert_left_clean(session)


@pytest.mark.parametrize("task", ["worker.down", "stack.down"])
def test_worker_or_stack_down_during_the_session_cancels_the_restore(tmp_path, capsys, task):
    from tasks import stack, worker

    gw = fakes.FakeGateway()
    fakes.FakeStack(gw)
    session = session_for(tmp_path, gw, dev=fakes.GATED_CHILD, start_gate=True)
    down = worker.down if task == "worker.down" else stack.down

    def run_task() -> None:
        with fakes.installed(gw):
            down(fakes.context(tmp_path))

    during_session(session, run_task)
    assert session.run() == 0
    out = capsys.readouterr().out
    assert "will no longer restore the background worker" in out
    assert f"`inv {task}` during this session asked to leave it down; not restoring it" in out
    assert not gw.ran(DOCKER_START) and not gw.ran(COMPOSE_START) and not gw.ran(UP)
    assert_left_clean(session)


def test_restore_by_compose_start_when_a_dependency_is_not_running(tmp_path, capsys):
    gw = fakes.FakeGateway()
    stack = fakes.FakeStack(gw)
    session = session_for(tmp_path, gw)
    stack.containers["redis"].state = "exited"  # `docker start` would not bring redis up: Compose must
    assert session.run() == 0
    assert gw.in_order(STOP, COMPOSE_START) and not gw.ran(DOCKER_START)
    assert "background worker restored" in capsys.readouterr().out
    assert_left_clean(session)


def test_a_removed_prodlike_container_is_recreated_with_its_recorded_plan(tmp_path, capsys):
    gw = fakes.FakeGateway()
    stack = fakes.FakeStack(gw)
    plan = make_plan({}, "1", "512m", None, None, None)
    assert stack.worker is not None
    stack.worker.labels = prodlike_labels(plan)
    session = session_for(tmp_path, gw, dev=fakes.GATED_CHILD, start_gate=True)
    during_session(session, lambda: stack.containers.pop("worker"))  # `docker rm` by hand meanwhile
    assert session.run() == 0
    assert gw.in_order(
        STOP, COMPOSE_START, r"^docker compose .*-f \S*docker-compose\.worker-prodlike\.yml .*up -d worker$"
    )
    up_env = gw.envs[gw.commands().index(gw.commands(UP)[0])]
    assert up_env is not None and up_env["PRODLIKE_MEMORY"] == plan_env(plan)["PRODLIKE_MEMORY"]
    assert "background worker restored (prod-like, with its plan)" in capsys.readouterr().out
    assert_left_clean(session)


def plan_env(plan: Any) -> dict[str, str]:
    from tasks.knowledge.prodlike_labels import compose_env

    return compose_env(plan)


def test_restore_failing_because_docker_went_away_keeps_the_record(tmp_path, capsys):
    gw = fakes.FakeGateway()
    fakes.FakeStack(gw)
    session = session_for(tmp_path, gw, dev=fakes.GATED_CHILD, start_gate=True)
    during_session(session, lambda: gw.on(r"^docker", 1, stderr=fakes.DOCKER_DOWN))
    assert session.run() == 0
    out = capsys.readouterr().out
    assert "warning: could not restore the background worker (" in out
    assert "run `inv worker.up` when Docker is back (the next inv command also retries)" in out
    record = read_record(state_dir(session.compose))
    assert record is not None and record.restore_pending  # the next command's promise
    assert not SessionLock(session.directory).held_by_someone()


class SharedQueue:
    """The session's look at Redis, as it would be when `mailer` consumes the worker's queue too (no
    Redis runs in unit tests: the `CLIENT LIST` lines are given; tests/integration/test_queue_unit.py
    does it against a real one). ``stranger``: one more consumer from an address of no container."""

    def __init__(self, *args: Any, stranger: bool = False):
        from tasks.knowledge.bullmq_clients import consumers

        line = "id={} addr={}:4000 laddr=172.20.0.2:6379 fd=9 name=bull:ZGlnZXN0 age=3 idle=0 flags=b db=0 cmd=x"
        addresses = ["172.20.0.4", "172.20.0.5"] + (["10.0.0.7"] if stranger else [])
        self.redis = object()
        self.before = consumers("\n".join(line.format(i, ip) for i, ip in enumerate(addresses)))
        self.queues = None

    def own_ip(self) -> str:
        return "172.20.0.1"


@pytest.fixture
def shared_queue(monkeypatch):
    monkeypatch.setattr("tasks.drivers.queue_consumers.ConsumerWatch", SharedQueue)
    monkeypatch.setattr(
        "tasks.drivers.queue_owners.ip_services", lambda compose: {"172.20.0.4": "worker", "172.20.0.5": "mailer"}
    )


def test_a_service_on_the_same_queue_steps_aside_with_the_worker_and_comes_back_with_it(tmp_path, capsys, shared_queue):
    """The start-gate route: `mailer` is stopped by the worker's own stop and started again with it."""
    gw = fakes.FakeGateway()
    stack = fakes.FakeStack(gw, others=("mailer",))
    session = session_for(tmp_path, gw, dev=fakes.GATED_CHILD, start_gate=True)
    seen: list[list[str]] = []
    during_session(session, lambda: seen.append(read_record(session.directory).aside))
    assert session.run() == 0
    out = capsys.readouterr().out
    assert (
        "'mailer' (queue `digest`) consumes the same queue: it steps aside with the background worker (stopped with "
        "it, started again with it when the dev worker ends; --allow-sharing keeps it consuming)"
    ) in out
    assert seen == [["mailer"]]  # in the record while the session runs: every give-back path knows it
    assert gw.in_order(r"^docker compose .* stop worker mailer$", r"^docker start devstack-mailer-1$")
    assert "stopping the mailer service (" in out
    assert "restoring the background worker and 'mailer' ..." in out
    assert "background worker restored, and 'mailer' with it" in out
    assert stack.containers["mailer"].state == "running" and stack.containers["worker"].state == "running"
    assert_left_clean(session)


def test_sharing_on_purpose_stops_only_the_worker(tmp_path, capsys, shared_queue):
    gw = fakes.FakeGateway()
    stack = fakes.FakeStack(gw, others=("mailer",))
    compose = Compose(workers.one(fakes.context(tmp_path, dev=fakes.GATED_CHILD, start_gate=True), None), gateway=gw)
    assert DevSession(compose, scheduler=True, share_queue=True).run() == 0
    out = capsys.readouterr().out
    assert "sharing the queue on purpose (--allow-sharing): 'mailer' (queue `digest`) keep consuming" in out
    assert gw.ran(r"^docker compose .* stop worker$") and not gw.ran(r"mailer")
    assert "background worker restored" in out and "'mailer' with it" not in out
    assert stack.containers["mailer"].state == "running"


def test_a_consumer_of_no_container_of_the_project_is_refused_before_anything_moves(tmp_path, monkeypatch):
    gw = fakes.FakeGateway()
    fakes.FakeStack(gw, others=("mailer",))
    monkeypatch.setattr("tasks.drivers.queue_consumers.ConsumerWatch", lambda *args: SharedQueue(*args, stranger=True))
    monkeypatch.setattr(
        "tasks.drivers.queue_owners.ip_services", lambda compose: {"172.20.0.4": "worker", "172.20.0.5": "mailer"}
    )
    session = session_for(tmp_path, gw, dev=fakes.GATED_CHILD, start_gate=True)
    with pytest.raises(UserError, match=r"no service of this project: a consumer at 10\.0\.0\.7 \(queue `digest`\)"):
        session.run()
    assert not gw.ran(r" stop ") and read_record(session.directory) is None
