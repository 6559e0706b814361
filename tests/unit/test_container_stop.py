"""The one stop of the worker service (tasks/drivers/container_stop.py), Docker and Compose faked.

The in-container script's answers are the snapshots recorded in real containers (data/stop_reach).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tasks import stack, worker
from tasks.drivers import container_stop, workers
from tasks.drivers.compose import Compose
from tasks.knowledge.failures import UserError
from tests import fakes

DATA = Path(__file__).parent / "data" / "stop_reach"
# The script's text is one argument, with newlines: (?s) lets `.` cross them.
SNAPSHOT = r"(?s)^docker exec devstack-worker-1 node -e .* snapshot 6379$"
SIGNAL = r"(?s)^docker exec devstack-worker-1 node -e .* stop \d+( SIG[A-Z]+:\d+:\d*)+$"
STOP = r"^docker compose .* stop worker$"


def exit_code_after_stop(gw: fakes.FakeGateway, st: fakes.FakeStack, code: int, grace: int | None = 30) -> None:
    """`docker inspect` of the worker: running before the stop, exited with ``code`` after it."""

    def inspect(argv: list[str]) -> fakes.Outcome:
        worker_ct = st.worker
        assert worker_ct is not None
        running = worker_ct.state == "running"
        state = {"Status": worker_ct.state, "Running": running, "ExitCode": 0 if running else code, "OOMKilled": False}
        details = {"Name": "/devstack-worker-1", "State": state, "RestartCount": 0, "Config": {"StopTimeout": grace}}
        return 0, json.dumps([details]), ""

    gw.on(r"^docker inspect devstack-worker-1$", effect=inspect)


@pytest.fixture
def st(gw):
    return fakes.FakeStack(gw)


def test_a_consumer_below_a_wrapper_is_signalled_before_compose_stops_the_container(tmp_path, gw, st, capsys):
    gw.on(SNAPSHOT, stdout=(DATA / "npm-run-dev.json").read_text())
    gw.on(
        SIGNAL, stdout='{"waited_ms": 6100, "results": [{"pid": 31, "sent": true, "exited": true, "after_ms": 6050}]}\n'
    )
    exit_code_after_stop(gw, st, 143)
    worker.down(fakes.context(tmp_path))
    assert gw.in_order(SNAPSHOT, SIGNAL, STOP)
    (signal,) = gw.commands(SIGNAL)
    assert signal.split()[-2:-1] == ["30000"] and signal.split()[-1].startswith("SIGTERM:31:")  # the grace, in ms
    out = capsys.readouterr().out
    assert "stopping the worker service (it finishes its current job: its consumer (pid 31) is below a wrapper" in out
    assert "consumer 31 exited after 6.0 s" in out
    assert "137" not in out


def test_a_consumer_docker_reaches_is_left_to_docker_and_a_kill_is_said(tmp_path, gw, st, capsys):
    gw.on(SNAPSHOT, stdout=(DATA / "bare.json").read_text().replace("bare/worker.mjs", "x.mjs"))
    exit_code_after_stop(gw, st, 137, grace=0)  # the fake's stop is instant: a grace period it outlasts
    worker.down(fakes.context(tmp_path))
    assert not gw.ran(SIGNAL) and gw.ran(STOP)
    out = capsys.readouterr().out
    assert "its consumer (pid 6) has no SIGTERM handler" in out
    assert (
        "the worker service did not stop within its grace period (0 s): Docker killed it (SIGKILL, exit code 137)"
        in out
    )


def test_a_stop_quicker_than_the_grace_period_is_not_inspected_again(tmp_path, gw, st, capsys):
    """Docker kills only at the end of the grace period: no `docker inspect` after a quick stop (a
    handover gives the queue to the dev worker right after it)."""
    gw.on(SNAPSHOT, stdout=(DATA / "bare.json").read_text())
    exit_code_after_stop(gw, st, 137, grace=30)
    worker.down(fakes.context(tmp_path))
    commands = gw.commands()
    stop_at = max(i for i, c in enumerate(commands) if " stop worker" in c)
    assert not [c for c in commands[stop_at:] if c.startswith("docker inspect")]
    assert "137" not in capsys.readouterr().out


def test_when_the_container_cannot_be_looked_into_one_line_and_the_stop_as_before(tmp_path, gw, st, capsys):
    gw.on(SNAPSHOT, 126, stderr='OCI runtime exec failed: exec: "node": executable file not found in $PATH\n')
    worker.down(fakes.context(tmp_path))
    assert gw.ran(STOP) and not gw.ran(SIGNAL)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("stopping")]
    assert len(lines) == 1
    assert "its consumers could not be looked at: `docker exec devstack-worker-1 node` failed: OCI runtime" in lines[0]


def test_a_stopped_worker_is_stopped_as_before_without_looking(tmp_path, gw, capsys):
    fakes.FakeStack(gw, worker="exited")
    worker.down(fakes.context(tmp_path))
    assert gw.ran(STOP) and not gw.ran(r"^docker exec")
    assert "stopping" not in capsys.readouterr().out


def test_a_failed_stop_is_one_error_line(tmp_path, gw, st):
    gw.on(STOP, 1, stderr=fakes.DOCKER_DOWN)
    with pytest.raises(UserError, match=r"^stopping the worker service failed: "):
        worker.down(fakes.context(tmp_path))


def test_restart_and_stack_down_stop_through_it(tmp_path, gw, st):
    gw.on(SNAPSHOT, stdout=(DATA / "cluster.json").read_text())
    gw.on(SIGNAL, stdout='{"waited_ms": 10, "results": []}\n')
    worker.restart(fakes.context(tmp_path))
    assert gw.in_order(SNAPSHOT, SIGNAL, STOP, r" start worker$")
    gw.calls.clear()
    st.containers["worker"].state = "running"
    stack.down(fakes.context(tmp_path))
    assert gw.in_order(SNAPSHOT, SIGNAL, STOP, r" down --remove-orphans")


def test_redis_ports_come_from_the_service_environment(tmp_path, gw, st):
    plain = Compose(workers.one(fakes.context(tmp_path), None), gateway=gw)
    assert container_stop.redis_ports(plain)[0] == {6379}
    named = fakes.context(tmp_path)
    named.config.dev.host_port_vars = "REDIS_HOST:REDIS_PORT"
    assert container_stop.redis_ports(Compose(workers.one(named, None), gateway=gw)) == ({6379}, "")


def test_doctor_lines(tmp_path, gw, st):
    compose = Compose(workers.one(fakes.context(tmp_path), None), gateway=gw)
    gw.on(SNAPSHOT, stdout=(DATA / "bare.json").read_text())
    found = container_stop.doctor_lines(compose)
    assert found is not None
    said, warnings = found
    assert said.startswith("on a stop: its consumer (pid 6) has no SIGTERM handler")
    assert len(warnings) == 1 and "does not handle SIGTERM" in warnings[0]
    st.containers["worker"].state = "exited"
    assert container_stop.doctor_lines(compose) is None


def test_the_script_is_shipped_beside_the_runner():
    assert "function snapshot" in container_stop.script() and "process.kill" in container_stop.script()


def test_doctor_warns_with_the_fix_and_says_ok_otherwise(tmp_path, gw, st):
    import importlib

    doctor = importlib.import_module("tasks.doctor")  # the module (the package's `doctor` is the task)
    s = workers.one(fakes.context(tmp_path), None)
    compose = Compose(s, gateway=gw)
    for recorded, expected in (
        ("bare.json", ["warn"]),
        ("cluster.json", ["warn"]),
        ("npm-run-dev.json", ["warn"]),  # out of reach: said, with what the stop now does
    ):
        gw.on(SNAPSHOT, stdout=(DATA / recorded).read_text())
        collected: list[Any] = []
        doctor._out.collected = collected
        try:
            doctor._stop_reach_advice(s, compose, [])
        finally:
            doctor._out.collected = None
        assert [c.status for c in collected] == expected, recorded
    assert "awaits `worker.close()`" in collected[0].detail or "send them SIGTERM first" in collected[0].detail
    reached = (DATA / "bare.json").read_text().replace('"sigterm":[]', '"sigterm":["/app/bare/worker.mjs"]')
    gw.on(SNAPSHOT, stdout=reached)
    collected = []
    doctor._out.collected = collected
    try:
        doctor._stop_reach_advice(s, compose, [])
    finally:
        doctor._out.collected = None
    assert [(c.status, c.detail) for c in collected] == [("ok", "on a stop: it finishes its current job")]


def test_stack_down_with_the_worker_not_running_stops_nothing_first(tmp_path, gw):
    fakes.FakeStack(gw, worker="exited")
    stack.down(fakes.context(tmp_path))
    # nothing run in the worker's container (the Redis is asked what `down` loses: `docker exec ... redis-cli`)
    assert not gw.ran(STOP) and not gw.ran(r"^docker exec (?!\S*redis)") and gw.ran(r" down --remove-orphans")


def test_consumers_that_outlive_the_grace_period_get_no_second_one(tmp_path, gw, st, capsys):
    """Signalled, still running after the whole grace period: Docker's stop gets what is left of it
    (`--timeout 0`), not another 30 s, and the kill is said."""
    gw.on(SNAPSHOT, stdout=(DATA / "cluster.json").read_text())
    gw.on(
        SIGNAL,
        stdout='{"waited_ms": 30050, "results": [{"pid": 13, "sent": true, "exited": false},'
        ' {"pid": 14, "sent": true, "exited": true, "after_ms": 900}]}\n',
    )
    exit_code_after_stop(gw, st, 137, grace=30)
    gw.on(r"^docker compose .* stop --timeout 0 worker$", effect=st._set("worker", "exited"))
    worker.down(fakes.context(tmp_path))
    assert gw.ran(r" stop --timeout 0 worker$")
    out = capsys.readouterr().out
    assert "consumer 14 exited after 0.9 s; consumer 13 was still running after 30 s: Docker's stop ends it" in out
    assert "did not stop within its grace period (30 s): Docker killed it (SIGKILL, exit code 137)" in out
